// The refresh loops of `ironbus top`: an ncurses screen redrawn in place (a TTY, colour
// allowed, not --once) and a plain one that prints a frame per interval (piped output,
// --no-color, NO_COLOR). Both poll, draw, then wait out the interval while watching the
// keyboard, so `q` (and Ctrl-C / SIGTERM, caught to restore the terminal) quits within ~0.1 s.
//
// Not thread-safe: one loop per process (it owns the terminal and the SIGINT/SIGTERM handlers
// while it runs, and restores them on return).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace ironbus::cli::top {

struct FrameSource {
  using RenderFn = std::function<std::vector<std::string>(size_t width, size_t height)>;
  // Fetches new data; blocks at most its own deadline. Called once per interval.
  std::function<void()> poll;
  // Lines for a width x height screen (0 = unlimited).
  RenderFn render;
};

// Returns false when the terminal could not be set up (unknown TERM, ...): the caller then
// falls back to RunPlain. Returns true after the user quit.
bool RunCurses(const FrameSource& source, int interval_s, bool color);

// Prints a frame, a blank line, waits `interval_s`, again; until Ctrl-C, SIGTERM or a line
// starting with "q" on stdin.
void RunPlain(const FrameSource& source, int interval_s);

}  // namespace ironbus::cli::top
