#include "base/crash_point.h"

#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace ironbus {
namespace {

std::mutex& HookMutex() {
  static std::mutex mu;
  return mu;
}
std::function<void(std::string_view)>& Hook() {
  static std::function<void(std::string_view)> hook;
  return hook;
}

}  // namespace

void SetCrashPointHook(std::function<void(std::string_view)> hook) {
  std::lock_guard<std::mutex> lock(HookMutex());
  Hook() = std::move(hook);
}

void CrashPointReached(std::string_view name) {
  {
    std::lock_guard<std::mutex> lock(HookMutex());
    if (Hook()) {
      Hook()(name);
      return;
    }
  }
  // Read once: the environment does not change while the process runs.
  static const char* target = std::getenv("IRONBUS_CRASH_AT");
  if (target != nullptr && name == target) _exit(137);
}

}  // namespace ironbus
