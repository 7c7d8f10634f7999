#include "cli/top_screen.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

// Last: curses.h defines macros (OK, ERR, timeout, clear, ...) that must not leak into the
// headers above.
#include <curses.h>

namespace ironbus::cli::top {
namespace {

volatile sig_atomic_t g_stop = 0;

void OnStopSignal(int) { g_stop = 1; }

// Catches SIGINT and SIGTERM for the loop's lifetime: dying inside curses would leave the
// user's terminal in raw mode with the alternate screen up.
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    struct sigaction sa = {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

enum Pair : short { kHeader = 1, kAlert = 2, kTitle = 3 };

bool IsAlert(const std::string& line) {
  return line.find("unreachable") != std::string::npos || line.find("FROZEN") != std::string::npos ||
         line.find("frozen=YES") != std::string::npos;
}

void Paint(const FrameSource& source, bool color) {
  int rows = 0, cols = 0;
  getmaxyx(stdscr, rows, cols);
  const std::vector<std::string> lines =
      source.render(static_cast<size_t>(cols > 0 ? cols : 80), static_cast<size_t>(rows > 0 ? rows : 24));
  erase();
  for (size_t i = 0; i < lines.size() && static_cast<int>(i) < rows; ++i) {
    const std::string& line = lines[i];
    attr_t attr = A_NORMAL;
    if (i == 0) {
      attr = A_BOLD | (color ? COLOR_PAIR(kHeader) : 0);
    } else if (IsAlert(line)) {
      attr = A_BOLD | (color ? COLOR_PAIR(kAlert) : 0);
    } else if (!line.empty() && line[0] != ' ' && line.find("[source:") != std::string::npos) {
      attr = color ? COLOR_PAIR(kTitle) : A_BOLD;
    }
    attron(attr);
    // The render already fits the width; addnstr still bounds it. Writing the bottom-right
    // cell returns ERR (the cursor cannot advance) but the text is drawn.
    mvaddnstr(static_cast<int>(i), 0, line.c_str(), cols);
    attroff(attr);
  }
  refresh();
}

}  // namespace

bool RunCurses(const FrameSource& source, int interval_s, bool color) {
  // newterm, not initscr: initscr exits the process on an unknown TERM; we fall back instead.
  SCREEN* screen = newterm(nullptr, stdout, stdin);
  if (screen == nullptr) return false;
  set_term(screen);
  StopSignals signals;
  cbreak();  // keys arrive at once; Ctrl-C still raises SIGINT (caught above)
  noecho();
  curs_set(0);
  keypad(stdscr, TRUE);
  timeout(100);  // getch waits at most 100 ms, so signals and the interval are checked often
  if (color && has_colors()) {
    start_color();
    use_default_colors();
    init_pair(kHeader, COLOR_CYAN, -1);
    init_pair(kAlert, COLOR_RED, -1);
    init_pair(kTitle, COLOR_YELLOW, -1);
  } else {
    color = false;
  }
  const auto interval = std::chrono::seconds(interval_s);
  bool quit = false;
  while (!quit && !g_stop) {
    source.poll();
    Paint(source, color);
    const auto next = std::chrono::steady_clock::now() + interval;
    while (!quit && !g_stop && std::chrono::steady_clock::now() < next) {
      const int key = getch();
      if (key == 'q' || key == 'Q') quit = true;
      if (key == KEY_RESIZE || key == 12 /* Ctrl-L */) Paint(source, color);
    }
  }
  endwin();
  delscreen(screen);
  return true;
}

void RunPlain(const FrameSource& source, int interval_s) {
  StopSignals signals;
  bool watch_stdin = true;
  std::string typed;
  const auto interval = std::chrono::seconds(interval_s);
  while (!g_stop) {
    source.poll();
    for (const std::string& line : source.render(0, 0)) std::cout << line << '\n';
    std::cout << std::endl;  // a blank line between frames, flushed for `| tail -f` readers
    const auto next = std::chrono::steady_clock::now() + interval;
    while (!g_stop && std::chrono::steady_clock::now() < next) {
      if (!watch_stdin) {
        usleep(100'000);
        continue;
      }
      struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      char buf[64];
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        watch_stdin = false;  // EOF (</dev/null, a closed pipe): only signals stop us now
        continue;
      }
      typed.append(buf, static_cast<size_t>(n));
      const size_t eol = typed.find('\n');
      if (eol == std::string::npos) continue;
      if (!typed.empty() && (typed[0] == 'q' || typed[0] == 'Q')) return;
      typed.erase(0, eol + 1);
    }
  }
}

}  // namespace ironbus::cli::top
