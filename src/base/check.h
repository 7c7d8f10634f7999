// CHECK: an always-on assertion for breaches that would write bad bytes or acknowledge an
// unwritten record. It prints the condition and location to stderr and aborts. Use plain
// `assert` for cheap checks that only guard programming errors.
#pragma once

namespace ironbus::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* message, const char* file, int line);
}  // namespace ironbus::internal

#define CHECK(cond, message)                                                      \
  do {                                                                            \
    if (!(cond)) ::ironbus::internal::CheckFailed(#cond, (message), __FILE__, __LINE__); \
  } while (0)
