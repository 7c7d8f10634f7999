#include "server/verbs.h"

#include "protocol/wire_format.h"

namespace ironbus::server {

TagClass ClassifyTag(uint8_t tag) {
  switch (protocol::SenderOf(tag)) {
    case protocol::Sender::kClient:
    case protocol::Sender::kEither:  // Ping and the StreamInfo request
      return TagClass::kClientVerb;
    case protocol::Sender::kServer:
    case protocol::Sender::kPeer:
      return TagClass::kNotForClients;
    case protocol::Sender::kNobody:
      break;
  }
  // The reserved Nack (9) is defined but nobody sends it; 0 and 53..255 are unknown.
  return protocol::IsDefinedTag(tag) ? TagClass::kNotForClients : TagClass::kUnknown;
}

bool IsHandled(uint8_t tag) {
  using protocol::Tag;
  return tag == static_cast<uint8_t>(Tag::kConnect) || tag == static_cast<uint8_t>(Tag::kPing) ||
         tag == static_cast<uint8_t>(Tag::kPub) || IsConsumeVerb(tag);
}

bool IsConsumeVerb(uint8_t tag) {
  using protocol::Tag;
  switch (static_cast<Tag>(tag)) {
    case Tag::kSub:
    case Tag::kUnsub:
    case Tag::kAck:
    case Tag::kFlow:
    case Tag::kFetch:
    case Tag::kCumulativeAck:
      return true;
    default:
      return false;
  }
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

std::string VerbName(uint8_t tag) {
  using pr = protocol::Tag;
  switch (static_cast<pr>(tag)) {
    case pr::kConnect: return "Connect";
    case pr::kPing: return "Ping";
    case pr::kPub: return "Pub";
    case pr::kSub: return "Sub";
    case pr::kUnsub: return "Unsub";
    case pr::kAck: return "Ack";
    case pr::kFlow: return "Flow";
    case pr::kCumulativeAck: return "CumulativeAck";
    case pr::kFetch: return "Fetch";
    case pr::kStreamFetch: return "StreamFetch";
    case pr::kStreamCommit: return "StreamCommit";
    case pr::kStreamDeclare: return "StreamDeclare";
    case pr::kStreamInfo: return "StreamInfo";
    case pr::kPubTo: return "PubTo";
    case pr::kSubTo: return "SubTo";
    case pr::kBindSubject: return "BindSubject";
    case pr::kPubSubject: return "PubSubject";
    case pr::kSubSubject: return "SubSubject";
    case pr::kTxnPrepare: return "TxnPrepare";
    case pr::kTxnCommit: return "TxnCommit";
    case pr::kTxnRollback: return "TxnRollback";
    case pr::kTxnCheckResult: return "TxnCheckResult";
    case pr::kTxnListen: return "TxnListen";
    case pr::kPauseGroup: return "PauseGroup";
    default: return "tag " + std::to_string(tag);
  }
}

}  // namespace ironbus::server
