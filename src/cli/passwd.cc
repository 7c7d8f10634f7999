// `ironbus server passwd` (spec/security.md 2.2): reads a password and prints its Argon2id PHC
// string (edge profile m=19456 KiB, t=2, p=1, fresh 16-byte salt) for `password_phc` in the
// identity table (docs/security.md).
//
// On a terminal the password is read from stdin with echo off (termios) and asked twice; when
// stdin is not a terminal, one line is read (the trailing newline, and a CR before it, dropped),
// so scripts and tests can pipe it. The plaintext is never logged or printed, lives only in one
// preallocated buffer (no reallocation copies) and is wiped before exit. Exit 0 with the PHC
// string on stdout; 1 for an empty, too long or mismatched password; 70 if hashing fails.
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/verbs.h"
#include "security/identities.h"
#include "security/secret.h"

namespace ironbus::cli {
namespace {

constexpr size_t kMaxPasswordBytes = 4096;

struct PasswdArgs {
  bool json = false;
};

struct termios g_saved_tty;
volatile sig_atomic_t g_tty_changed = 0;

void RestoreTtyOnSignal(int sig) {
  if (g_tty_changed) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_tty);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// One line from fd 0 into `out` (capacity reserved up front, so no copy is left behind by a
// reallocation). False on EOF before any byte, a read error or an over-long line.
bool ReadLine(std::string* out, bool* too_long) {
  out->reserve(kMaxPasswordBytes + 1);
  char c = 0;
  bool any = false;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    any = true;
    if (c == '\n') break;
    if (out->size() == kMaxPasswordBytes) {
      *too_long = true;
      c = 0;
      return false;
    }
    out->push_back(c);
  }
  c = 0;
  if (!out->empty() && out->back() == '\r') out->pop_back();
  return any;
}

// Prompts on stderr and reads with echo off.
bool ReadFromTty(const char* prompt, std::string* out, bool* too_long) {
  std::cerr << prompt << std::flush;
  struct termios t {};
  ::tcgetattr(STDIN_FILENO, &g_saved_tty);
  t = g_saved_tty;
  t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  g_tty_changed = 1;
  ::signal(SIGINT, RestoreTtyOnSignal);
  ::signal(SIGTERM, RestoreTtyOnSignal);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
  const bool ok = ReadLine(out, too_long);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_tty);
  g_tty_changed = 0;
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  std::cerr << '\n';
  return ok;
}

int RunPasswd(const PasswdArgs& args) {
  constexpr std::string_view kCmd = "server passwd";
  std::string password;
  bool too_long = false;
  bool ok = false;
  if (::isatty(STDIN_FILENO)) {
    ok = ReadFromTty("Password: ", &password, &too_long);
    if (ok && !password.empty()) {
      std::string again;
      const bool ok2 = ReadFromTty("Repeat password: ", &again, &too_long);
      const bool same = ok2 && security::ConstantTimeEquals(password, again);
      security::WipeString(&again);
      if (!same) {
        security::WipeString(&password);
        return Fail(kCmd, args.json, kExitUsage, "the two passwords differ; nothing was printed");
      }
    }
  } else {
    ok = ReadLine(&password, &too_long);
  }
  if (too_long) {
    security::WipeString(&password);
    return Fail(kCmd, args.json, kExitUsage,
                "the password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (!ok || password.empty()) {
    security::WipeString(&password);
    return Fail(kCmd, args.json, kExitUsage, "no password given (an empty password is refused)");
  }
  const security::Secret plain = security::Secret::TakeFrom(&password);  // wipes `password`
  Result<security::Secret> phc = security::HashPassword(plain.RevealBytesForUse());
  if (!phc.ok()) return Fail(kCmd, args.json, kExitInternal, phc.status().ToString());
  if (args.json) {
    PrintJsonLine({{"schema", "ironbus.cli.server-passwd.v1"},
                   {"ok", true},
                   {"password_phc", std::string(phc->RevealBytesForUse())}});
  } else {
    std::cout << phc->RevealBytesForUse() << '\n';
  }
  return kExitOk;
}

}  // namespace

void RegisterServerPasswd(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<PasswdArgs>();
  auto* server = app.add_subcommand("server", "Broker administration tools");
  server->require_subcommand(1, 1);
  auto* passwd = server->add_subcommand(
      "passwd", "Read a password (no echo on a terminal, one line from a pipe) and print its Argon2id PHC string");
  passwd->add_flag("--json", args->json, "Print ironbus.cli.server-passwd.v1");
  passwd->callback([args, exit_code] { *exit_code = RunPasswd(*args); });
}

}  // namespace ironbus::cli
