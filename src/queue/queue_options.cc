#include "queue/queue_options.h"

#include <algorithm>

#include "format/segment_name.h"

namespace ironbus::queue {

Status CodedError(StatusCode code, std::string_view err_code, std::string_view text) {
  std::string message(err_code);
  message += ": ";
  message += text;
  switch (code) {
    case StatusCode::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case StatusCode::kOutOfRange:
      return Status::OutOfRange(std::move(message));
    case StatusCode::kFailedPrecondition:
      return Status::FailedPrecondition(std::move(message));
    case StatusCode::kUnavailable:
      return Status::Unavailable(std::move(message));
    case StatusCode::kNotFound:
      return Status::NotFound(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

std::string_view ErrorCodeOf(const Status& status) {
  std::string_view m = status.message();
  if (m.rfind("ERR_", 0) != 0) return {};
  const size_t end = m.find(':');
  return end == std::string_view::npos ? m : m.substr(0, end);
}

Status QueueOptions::Validate() const {
  // Degenerate lease timings (0, a cap below the timeout) are accepted, as the spec says.
  if (max_deliver == 0 && !allow_unlimited_deliver) {
    return Status::InvalidArgument("max_deliver 0 (unlimited) needs allow_unlimited_deliver");
  }
  if (max_deliver == UINT32_MAX && !allow_unlimited_deliver) {
    return Status::InvalidArgument("max_deliver u32::MAX never fires (the counter saturates); needs allow_unlimited_deliver");
  }
  if (max_in_flight == 0) {
    return CodedError(StatusCode::kInvalidArgument, kErrZeroMaxInFlight, "max_in_flight must be at least 1");
  }
  for (const std::string& g : key_shared_groups) {
    if (!g.empty() && !format::IsValidGroupName(g)) {
      return CodedError(StatusCode::kInvalidArgument, kErrInvalidGroupName, "key_shared group '" + g + "'");
    }
    if (std::find(broadcast_groups.begin(), broadcast_groups.end(), g) != broadcast_groups.end()) {
      return Status::InvalidArgument("group '" + g + "' cannot be both key_shared and broadcast");
    }
  }
  for (const std::string& g : broadcast_groups) {
    if (g.empty()) {
      return CodedError(StatusCode::kInvalidArgument, kErrBroadcastGroupNotNamed,
                        "the default group cannot be a broadcast group");
    }
    if (!format::IsValidGroupName(g)) {
      return CodedError(StatusCode::kInvalidArgument, kErrInvalidGroupName, "broadcast group '" + g + "'");
    }
  }
  return Status::Ok();
}

}  // namespace ironbus::queue
