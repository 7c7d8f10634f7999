#include "cli/output.h"

#include <cstdio>
#include <iostream>

#include "cli/exit_codes.h"

namespace ironbus::cli {

std::string_view ExitKind(int code) {
  switch (code) {
    case kExitUsage: return "usage";
    case kExitNotFound: return "not_found";
    case kExitHandledCorruption: return "handled_corruption";
    case kExitCorrupt: return "corrupt";
    case kExitUnreachable: return "unreachable";
    default: return "internal";
  }
}

void PrintJsonLine(const nlohmann::json& object) {
  // error_handler::replace: a stray invalid UTF-8 byte in a group name must not throw.
  std::cout << object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  std::cout.flush();
}

int Fail(std::string_view command, bool json, int code, const std::string& message, nlohmann::json detail) {
  std::cerr << "error: " << message << '\n';
  if (json) {
    PrintJsonLine({{"schema", "ironbus.cli.result.v1"},
                   {"command", std::string(command)},
                   {"ok", false},
                   {"exit_code", code},
                   {"error", {{"kind", std::string(ExitKind(code))}, {"message", message}, {"detail", detail}}}});
  }
  return code;
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound: return kExitNotFound;
    case StatusCode::kCorruption: return kExitCorrupt;
    case StatusCode::kFailedPrecondition: return kExitUnreachable;
    default: return kExitInternal;
  }
}

}  // namespace ironbus::cli
