#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace ironbus::internal {

void CheckFailed(const char* condition, const char* message, const char* file, int line) {
  std::fprintf(stderr, "CHECK failed at %s:%d: %s (%s)\n", file, line, condition, message ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace ironbus::internal
