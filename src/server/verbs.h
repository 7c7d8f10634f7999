// What the client port does with each frame type (spec/protocol.md sections 2, 4, 9), and how a
// storage refusal becomes an Err reply. Pure functions, no sockets.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "protocol/messages.h"

namespace ironbus::server {

enum class TagClass : uint8_t {
  kUnknown,        // tag 0 and 53..255: Err "unknown frame type", connection kept
  kNotForClients,  // response-only, reserved (9) and peer tags: Err "verb not supported on this connection"
  kClientVerb,     // a request a client may send (handled or not yet, see IsHandled)
};

TagClass ClassifyTag(uint8_t tag);

// The client verbs this server implements today: Connect, Ping, Pub and the v1 consume verbs.
// Every other client verb (streams, subjects, Tier-S, transactions, pause) is answered with
// Err "verb not supported on this connection" until its subsystem lands.
bool IsHandled(uint8_t tag);
// "Pub", "Sub", ... for logs and the audit log's authz_denial; "tag N" for tags without a name.
std::string VerbName(uint8_t tag);
// Sub, Unsub, Ack, Flow, Fetch, CumulativeAck (spec/protocol.md 8).
bool IsConsumeVerb(uint8_t tag);

// How a produce that storage refused (or could not make durable) is answered.
struct ProduceRefusal {
  protocol::Err err;
  // A fatal storage error (the write or fdatasync failed and froze the log): after this reply
  // the connection writes what it has queued and closes (spec 9, storage.md 12.4).
  bool fatal = false;
};

//   Unavailable         ERR_AT_CAPACITY (the log is at its byte cap, or the append queue shed)
//   FailedPrecondition  ERR_STORAGE "log frozen: ..." (frozen read-only, or stopping)
//   IOError/Corruption/Internal   ERR_STORAGE, fatal
//   OutOfRange, InvalidArgument   uncoded text (record too large, malformed compressed payload)
ProduceRefusal RefusalFor(const Status& status);

}  // namespace ironbus::server
