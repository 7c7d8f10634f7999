#include "server/verbs.h"

#include "protocol/wire_format.h"

namespace ironbus::server {

TagClass ClassifyTag(uint8_t tag) {
  switch (tag) {
    // Requests of the table in spec section 4 (dir C).
    case 1: case 3: case 5: case 6: case 7: case 8: case 10: case 19: case 23:  // v1
    case 24: case 25: case 52:                                                  // Tier-S, pause
    case 28: case 29: case 30: case 31: case 34: case 35: case 36:              // streams, subjects
    case 44: case 45: case 46: case 48: case 49:                                // transactions
      return TagClass::kClientVerb;
    default:
      break;
  }
  if (tag >= 1 && tag <= 52) return TagClass::kNotForClients;
  return TagClass::kUnknown;
}

bool IsHandled(uint8_t tag) {
  using protocol::Tag;
  return tag == static_cast<uint8_t>(Tag::kConnect) || tag == static_cast<uint8_t>(Tag::kPing) ||
         tag == static_cast<uint8_t>(Tag::kPub);
}

ProduceRefusal RefusalFor(const Status& status) {
  ProduceRefusal r;
  switch (status.code()) {
    case StatusCode::kUnavailable:
      r.err = {std::string(protocol::kErrAtCapacity), status.message()};
      break;
    case StatusCode::kFailedPrecondition:
      r.err = {std::string(protocol::kErrStorage), status.message()};
      break;
    case StatusCode::kOutOfRange:
    case StatusCode::kInvalidArgument:
      r.err = {"", status.message()};
      break;
    default:
      r.err = {std::string(protocol::kErrStorage), "fatal storage error: " + status.message()};
      r.fatal = true;
      break;
  }
  return r;
}

}  // namespace ironbus::server
