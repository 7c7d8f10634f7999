// The consume side of Client (spec/protocol.md 8): Sub/Unsub, the Fetch/Flow delivery window,
// the four settle ops over Ack -> AckStatus, and CumulativeAck. Connection plumbing (Queue,
// NextReply, Break) lives in client.cc; the reply-shape rules live here.
//
// The header declares no private helper for these verbs, so the rules are file-local functions
// and each member hands them the two pieces of plumbing they need (the next reply, and Break
// for a reply of the wrong shape) as lambdas.
#include <algorithm>
#include <functional>
#include <string>

#include "client/client.h"
#include "format/compression.h"
#include "format/record_format.h"
#include "protocol/codec.h"

namespace ironbus::client {
namespace pr = protocol;
namespace {

using NextFn = std::function<Result<pr::Frame>()>;
using BreakFn = std::function<Status(Status)>;

// A broker Err as the FailedPrecondition every call reports ("<TOKEN>: <text>" when coded).
Status ErrStatus(const pr::Err& err) {
  return Status::FailedPrecondition(err.code.empty() ? err.message : err.code + ": " + err.message);
}

Status WrongShape(const pr::Frame& reply, std::string_view request) {
  return Status::Corruption("unexpected reply to " + std::string(request) + " (tag " +
                            std::to_string(static_cast<int>(pr::TagOf(reply))) + ")");
}

// The reply to a request answered by Ok (Sub, Unsub, CumulativeAck).
Status ToOkStatus(const pr::Frame& reply, std::string_view request, pr::Err* last_error, const BreakFn& brk) {
  if (std::holds_alternative<pr::Ok>(reply)) return Status::Ok();
  if (const auto* err = std::get_if<pr::Err>(&reply)) {
    *last_error = *err;
    return ErrStatus(*err);
  }
  return brk(WrongShape(reply, request));
}

// The reply to one Ack frame: AckStatus 0..2, or the broker's Err (a malformed Ack, which the
// broker answers and survives).
Result<AckOutcome> ToAckOutcome(const pr::Frame& reply, pr::Err* last_error, const BreakFn& brk) {
  if (const auto* status = std::get_if<pr::AckStatus>(&reply)) {
    if (status->status > static_cast<uint8_t>(AckOutcome::kCapReached)) {
      return brk(Status::Corruption("AckStatus " + std::to_string(status->status) + " is not 0, 1 or 2"));
    }
    return static_cast<AckOutcome>(status->status);
  }
  if (const auto* err = std::get_if<pr::Err>(&reply)) {
    *last_error = *err;
    return ErrStatus(*err);
  }
  return brk(WrongShape(reply, "Ack"));
}

// A Deliver as a Message, its payload inflated when stored COMPRESSED. A payload that does not
// inflate is a wrong reply: the broker checked it at produce time and the record CRC on disk,
// so the bytes were damaged on the way or the broker is broken.
Result<Message> ToMessage(pr::Deliver&& deliver) {
  Message m;
  m.offset = deliver.offset;
  m.generation = deliver.generation;
  m.flags = deliver.flags;
  m.timestamp_ms = deliver.timestamp_ms;
  m.key = std::move(deliver.key);
  m.headers = std::move(deliver.headers);
  if ((deliver.flags & format::kFlagCompressed) == 0) {
    m.payload = std::move(deliver.payload);
    return m;
  }
  const format::DecompressError e = format::Decompress(deliver.payload, &m.payload);
  if (e != format::DecompressError::kOk) {
    return Status::Corruption("delivered offset " + std::to_string(deliver.offset) +
                              ": the compressed payload does not decompress (" +
                              std::string(format::DecompressErrorName(e)) + ")");
  }
  return m;
}

// Reads one delivery window: window frames until FlowEnd or Err. The broker polls at most
// `max_frames` times and each poll emits at most one window frame (spec 8.3), so more than
// that is a broken broker, as the Go client also decides; the cap bounds memory too.
Result<FetchResult> ReadWindow(uint32_t max_frames, const NextFn& next, pr::Err* last_error, const BreakFn& brk) {
  FetchResult window;
  uint64_t frames = 0;
  for (;;) {
    ASSIGN_OR_RETURN(pr::Frame reply, next());
    if (auto* end = std::get_if<pr::FlowEnd>(&reply)) {
      window.delivered = end->count;
      return window;
    }
    if (const auto* err = std::get_if<pr::Err>(&reply)) {
      // The Err replaces the FlowEnd: the window is over, the leases before it stand.
      *last_error = *err;
      window.error = ErrStatus(*err);
      window.error_code = err->code;
      return window;
    }
    if (++frames > max_frames) {
      return brk(Status::Corruption("the broker sent more than " + std::to_string(max_frames) +
                                    " frames in a delivery window"));
    }
    if (auto* deliver = std::get_if<pr::Deliver>(&reply)) {
      auto message = ToMessage(std::move(*deliver));
      if (!message.ok()) return brk(message.status());
      window.messages.push_back(std::move(*message));
    } else if (const auto* dead = std::get_if<pr::DeadLetter>(&reply)) {
      window.dead_letters.push_back(*dead);
    } else if (const auto* truncated = std::get_if<pr::Truncated>(&reply)) {
      window.truncations.push_back(*truncated);
    } else if (const auto* gap = std::get_if<pr::GapMarker>(&reply)) {
      window.gaps.push_back(*gap);
    } else {
      return brk(WrongShape(reply, "a delivery request"));
    }
  }
}

pr::Fetch FetchFrame(const FetchOptions& options) {
  pr::Fetch fetch;
  fetch.no_wait = options.no_wait;
  fetch.max_records = options.max_records;
  fetch.max_bytes = options.max_bytes;
  fetch.expires_ms = static_cast<uint64_t>(std::max<int64_t>(options.expires.count(), 0));
  return fetch;
}

// How long past the reply timeout a fetch's first reply may take: a long-poll may stay silent
// for `expires`.
std::chrono::milliseconds LongPollSilence(const FetchOptions& options) {
  return !options.no_wait && options.expires.count() > 0 ? options.expires : std::chrono::milliseconds(0);
}

pr::Ack AckFrame(uint8_t op, uint64_t offset, uint64_t generation, uint64_t delay_ms = 0) {
  pr::Ack ack;
  ack.op = op;
  ack.offset = offset;
  ack.generation = generation;
  ack.delay_ms = delay_ms;
  return ack;
}

}  // namespace

Status Client::Subscribe(std::string_view group) {
  RETURN_IF_ERROR(Queue(pr::Sub{ToBytes(group)}));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToOkStatus(reply, "Sub", &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Status Client::Unsubscribe() {
  RETURN_IF_ERROR(Queue(pr::Unsub{}));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToOkStatus(reply, "Unsub", &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Status Client::CumulativeAck(std::string_view group, uint64_t up_to) {
  RETURN_IF_ERROR(Queue(pr::CumulativeAck{up_to, ToBytes(group)}));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToOkStatus(reply, "CumulativeAck", &last_error_, [this](Status s) { return Break(std::move(s)); });
}

std::function<Result<pr::Frame>()> Client::WindowReplies(const FetchOptions& options) {
  return [this, silence = LongPollSilence(options), first = true]() mutable {
    const auto extra = first ? silence : std::chrono::milliseconds(0);
    first = false;
    return NextReply(extra);
  };
}

Result<FetchResult> Client::Fetch(const FetchOptions& options) {
  RETURN_IF_ERROR(Queue(FetchFrame(options)));
  return ReadWindow(options.max_records, WindowReplies(options), &last_error_,
                    [this](Status s) { return Break(std::move(s)); });
}

Result<AckThenFetchResult> Client::CumulativeAckThenFetch(std::string_view group, uint64_t up_to,
                                                          const FetchOptions& options) {
  RETURN_IF_ERROR(Queue(pr::CumulativeAck{up_to, ToBytes(group)}));
  RETURN_IF_ERROR(Queue(FetchFrame(options)));
  const BreakFn brk = [this](Status s) { return Break(std::move(s)); };
  AckThenFetchResult out;
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  out.ack = ToOkStatus(reply, "CumulativeAck", &last_error_, brk);
  if (broken()) return out.ack;  // a reply of the wrong shape: the connection is gone
  ASSIGN_OR_RETURN(out.window, ReadWindow(options.max_records, WindowReplies(options), &last_error_, brk));
  return out;
}

Status Client::SendFetch(const FetchOptions& options) {
  RETURN_IF_ERROR(Encode(FetchFrame(options)));
  pipelined_.push_back(Pipelined{true, options});
  WriteWithoutWaiting();
  return Status::Ok();
}

Status Client::SendCumulativeAck(std::string_view group, uint64_t up_to) {
  RETURN_IF_ERROR(Encode(pr::CumulativeAck{up_to, ToBytes(group)}));
  pipelined_.push_back(Pipelined{false, {}});
  WriteWithoutWaiting();
  return Status::Ok();
}

Result<FetchResult> Client::ReceiveWindow() {
  const BreakFn brk = [this](Status s) { return Break(std::move(s)); };
  while (!pipelined_.empty()) {
    const Pipelined request = pipelined_.front();
    // Popped before reading: a failed read breaks the connection, and a refused ack is still
    // that request's answer.
    pipelined_.pop_front();
    if (request.fetch) {
      return ReadWindow(request.options.max_records, WindowReplies(request.options), &last_error_, brk);
    }
    ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
    RETURN_IF_ERROR(ToOkStatus(reply, "CumulativeAck", &last_error_, brk));
  }
  if (!broken_.ok()) return broken_;
  return Status::FailedPrecondition("ReceiveWindow: no fetch was sent");
}

Result<FetchResult> Client::Flow(uint32_t credit) {
  RETURN_IF_ERROR(Queue(pr::Flow{credit}));
  return ReadWindow(
      credit, [this] { return NextReply(); }, &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Result<AckOutcome> Client::Ack(uint64_t offset, uint64_t generation) {
  RETURN_IF_ERROR(Queue(AckFrame(pr::kAckOpAck, offset, generation)));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToAckOutcome(reply, &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Result<AckOutcome> Client::Nack(uint64_t offset, uint64_t generation, std::optional<uint64_t> delay_ms) {
  RETURN_IF_ERROR(Queue(AckFrame(pr::kAckOpNack, offset, generation, delay_ms.value_or(pr::kNackUseBackoff))));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToAckOutcome(reply, &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Result<AckOutcome> Client::Term(uint64_t offset, uint64_t generation) {
  RETURN_IF_ERROR(Queue(AckFrame(pr::kAckOpTerm, offset, generation)));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToAckOutcome(reply, &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Result<AckOutcome> Client::Progress(uint64_t offset, uint64_t generation) {
  RETURN_IF_ERROR(Queue(AckFrame(pr::kAckOpProgress, offset, generation)));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  return ToAckOutcome(reply, &last_error_, [this](Status s) { return Break(std::move(s)); });
}

Result<std::vector<AckOutcome>> Client::AckAll(const std::vector<Message>& messages) {
  for (const Message& m : messages) RETURN_IF_ERROR(Queue(AckFrame(pr::kAckOpAck, m.offset, m.generation)));
  std::vector<AckOutcome> outcomes;
  outcomes.reserve(messages.size());
  Status first_refusal;
  // Every queued Ack gets a reply, so read them all even after an Err: one left unread would
  // be taken as the answer to the next request.
  for (size_t i = 0; i < messages.size(); ++i) {
    ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
    auto outcome = ToAckOutcome(reply, &last_error_, [this](Status s) { return Break(std::move(s)); });
    if (outcome.ok()) {
      outcomes.push_back(*outcome);
    } else if (outcome.status().IsFailedPrecondition()) {
      if (first_refusal.ok()) first_refusal = outcome.status();
    } else {
      return outcome.status();
    }
  }
  if (!first_refusal.ok()) return first_refusal;
  return outcomes;
}

}  // namespace ironbus::client
