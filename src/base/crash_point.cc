#include "base/crash_point.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>
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
  // Parsed once: the environment does not change while the process runs.
  struct Target {
    std::string name;
    uint64_t hit = 1;  // fire at this hit (1 = the first)
  };
  static const Target target = [] {
    Target t;
    const char* env = std::getenv("IRONBUS_CRASH_AT");
    if (env == nullptr) return t;
    t.name = env;
    if (const size_t colon = t.name.rfind(':'); colon != std::string::npos) {
      t.hit = std::strtoull(t.name.c_str() + colon + 1, nullptr, 10);
      if (t.hit == 0) t.hit = 1;
      t.name.resize(colon);
    }
    return t;
  }();
  static std::atomic<uint64_t> hits{0};
  if (!target.name.empty() && name == target.name && hits.fetch_add(1) + 1 == target.hit) _exit(137);
}

}  // namespace ironbus
