// Named crash points (after rocksdb's TEST_KILL_RANDOM): CRASH_POINT("segment.after_create")
// marks a place where a crash test may kill the process. Compiled in only when
// IRONBUS_CRASH_POINTS is defined (test builds); a no-op otherwise.
//
// At run time a point fires when the environment variable IRONBUS_CRASH_AT names it
// ("segment.after_create", or "segment.after_create:N" for its N-th hit, N >= 1): the
// process then exits immediately with _exit(137), skipping destructors and buffered I/O, the
// way SIGKILL would. Tests in-process may install a hook instead (SetCrashPointHook).
//
// The points (grep CRASH_POINT for the exact places):
//   publish path   appender.after_write_before_sync, appender.after_sync_before_ack,
//                  segment.after_create, segment.after_header_sync,
//                  segment.after_seal_before_create, retention.after_unlink
//   consume path   checkpoint.after_create_before_dir_sync, checkpoint.after_write_before_sync,
//                  checkpoint.after_sync (every cursor and attempts checkpoint write),
//                  group.after_cursor_before_attempts,
//                  dlq.after_append_before_sync, dlq.after_sync (the DLQ move, before the
//                  source cursor commits past the message)
// tests/e2e/crash_driver.cc crashes the real broker at each of them under load.
#pragma once

#include <functional>
#include <string_view>

namespace ironbus {

// Hook called with the point's name; used by in-process tests. Pass nullptr to clear.
void SetCrashPointHook(std::function<void(std::string_view)> hook);
void CrashPointReached(std::string_view name);

}  // namespace ironbus

#if defined(IRONBUS_CRASH_POINTS)
#define CRASH_POINT(name) ::ironbus::CrashPointReached(name)
#else
#define CRASH_POINT(name) \
  do {                    \
  } while (0)
#endif
