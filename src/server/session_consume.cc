// What a session does with the consume verbs (spec/protocol.md 8): Sub, Unsub, Flow, Fetch,
// Ack, CumulativeAck. Each reserves its reply slot in arrival order, hands the work to the
// ConsumeService (the queue thread), and fills the slot when the answer is posted back to the
// strand. A delivery window (its Deliver/advisory frames and the FlowEnd or Err terminator) is
// encoded into that one slot, so nothing can interleave with it.
#include <variant>

#include "format/compression.h"
#include "format/record_format.h"
#include "protocol/codec.h"
#include "server/session.h"

namespace ironbus::server {
namespace {

namespace pr = protocol;

pr::Err ErrFor(const Status& status) {
  const std::string_view code = queue::ErrorCodeOf(status);
  std::string_view text = status.message();
  if (!code.empty() && text.size() > code.size() + 2) text.remove_prefix(code.size() + 2);  // "<CODE>: "
  return pr::Err{std::string(code), std::string(text)};
}

// Reserve sizes for EncodeWindow (over-estimates: a short reserve only costs a regrowth).
// A Deliver frame's fixed part: length prefix, tag, offset, generation, flags, timestamp and
// the three length prefixes of key, headers and payload.
constexpr size_t kDeliverFixedReserve = 48;
constexpr size_t kNoticeReserve = 64;             // DeadLetter, Truncated, GapMarker
constexpr size_t kWindowTerminatorReserve = 256;  // FlowEnd, or an Err with its text

// What a reply that cannot be encoded (a field over its wire limit) becomes, in its place.
void AppendUnencodable(Bytes* out) { (void)pr::EncodeFrame(pr::Frame(pr::Err{"", "reply could not be encoded"}), out); }

void Append(const pr::Frame& frame, Bytes* out) {
  if (!pr::EncodeFrame(frame, out).ok()) AppendUnencodable(out);  // EncodeFrame left *out unchanged
}

}  // namespace

queue::MemberOptions Session::Credit() const {
  return queue::MemberOptions{negotiated_.credit, negotiated_.credit_bytes};
}

void Session::FillSlot(uint64_t slot, Bytes bytes) {
  if (replies_.Fill(slot, std::move(bytes))) WakeWriter();
}

void Session::FillSlotFromAnyThread(const std::shared_ptr<Session>& self, uint64_t slot, Bytes bytes) {
  // Only the reply that found the list empty posts; the DrainFilled it posted takes the rest.
  if (self->filled_.Push(Filled{slot, std::move(bytes)})) asio::post(self->strand_, [self] { self->DrainFilled(); });
}

void Session::DrainFilled() {
  bool wake = false;
  filled_.Drain([&](Filled& f) { wake = replies_.Fill(f.slot, std::move(f.bytes)) || wake; });
  if (wake) WakeWriter();
}

Bytes Session::EncodeWindow(const queue::Window& window) const {
  // One allocation for the whole window: the frames are written into `out` back to back, and
  // growing it by doubling would copy a 256-record window about ten times over.
  size_t estimate = kWindowTerminatorReserve;
  for (const queue::WindowItem& item : window.items) {
    if (const auto* d = std::get_if<queue::Delivery>(&item)) {
      estimate += kDeliverFixedReserve + d->record.key.size() + d->record.headers.size() + d->record.payload.size();
    } else {
      estimate += kNoticeReserve;
    }
  }
  Bytes out;
  out.reserve(estimate);
  for (const queue::WindowItem& item : window.items) {
    if (const auto* d = std::get_if<queue::Delivery>(&item)) {
      // Encoded straight from the record: no Deliver (a Frame variant) is built per record.
      pr::DeliverView deliver{d->offset,         d->generation,     d->record.flags,  d->record.timestamp_ms,
                              d->record.key,     d->record.headers, d->record.payload};
      // Compressed bytes go only to a client that asked for them (spec 13); the others get
      // the payload inflated and bit 0 cleared. A stored stream that does not inflate is sent
      // as stored, so the client reports that one record as poison.
      Bytes raw;
      if ((deliver.flags & format::kFlagCompressed) != 0 && !negotiated_.compressed_delivery &&
          format::Decompress(deliver.payload, &raw) == format::DecompressError::kOk) {
        deliver.payload = raw;
        deliver.flags = static_cast<uint8_t>(deliver.flags & ~format::kFlagCompressed);
      }
      if (!pr::EncodeDeliver(deliver, &out).ok()) AppendUnencodable(&out);  // out unchanged by the failure
    } else if (const auto* dl = std::get_if<queue::DeadLetterNotice>(&item)) {
      Append(pr::DeadLetter{dl->offset, dl->reason}, &out);
    } else if (const auto* t = std::get_if<queue::TruncationNotice>(&item)) {
      if (negotiated_.gap_marker) {
        Append(pr::GapMarker{t->earliest_retained - t->skipped, t->earliest_retained, 0, pr::kGapReasonTrimmed}, &out);
      } else {
        Append(pr::Truncated{t->earliest_retained, t->skipped}, &out);
      }
    }
  }
  if (window.error.ok()) {
    Append(pr::FlowEnd{window.delivered}, &out);
  } else {
    Append(ErrFor(window.error), &out);
  }
  return out;
}

void Session::StartFetch(uint32_t max_records, uint64_t max_bytes, uint64_t wait_ms) {
  consumer_ = true;
  const uint64_t slot = replies_.PushPending();
  shared_->consume->Fetch(id_, Credit(), max_records, max_bytes, wait_ms,
                          [self = shared_from_this(), slot](queue::Window window) {
                            asio::post(self->strand_, [self, slot, window = std::move(window)] {
                              self->FillSlot(slot, self->EncodeWindow(window));
                            });
                          });
}

ConsumeService::StatusHandler Session::OkOrErrInto(uint64_t slot) {
  return [self = shared_from_this(), slot](Status status) {
    Bytes out;
    if (status.ok()) {
      Append(pr::Ok{}, &out);
    } else {
      Append(ErrFor(status), &out);
    }
    FillSlotFromAnyThread(self, slot, std::move(out));
  };
}

void Session::HandleConsumeVerb(uint8_t tag, ByteView body) {
  auto frame = pr::DecodeBody(tag, body, pr::Direction::kToServer);
  if (!frame.ok()) {
    // A malformed consume body answers this request only; the stream is still framed.
    ReplyErr("", frame.status().message());
    return;
  }
  ConsumeService& consume = *shared_->consume;
  if (auto* sub = std::get_if<pr::Sub>(&*frame)) {
    consumer_ = true;
    consume.Subscribe(id_, std::string(AsChars(sub->group)), Credit(), OkOrErrInto(replies_.PushPending()));
  } else if (std::holds_alternative<pr::Unsub>(*frame)) {
    consumer_ = true;
    consume.Unsubscribe(id_, Credit(), OkOrErrInto(replies_.PushPending()));
  } else if (auto* flow = std::get_if<pr::Flow>(&*frame)) {
    // The reference's Flow poll never waits.
    StartFetch(flow->credit, 0, 0);
  } else if (auto* fetch = std::get_if<pr::Fetch>(&*frame)) {
    // Long-poll (our choice, spec 8.3): an empty window waits up to expires_ms unless no_wait.
    StartFetch(fetch->max_records, fetch->max_bytes, fetch->no_wait ? 0 : fetch->expires_ms);
  } else if (auto* ack = std::get_if<pr::Ack>(&*frame)) {
    const uint64_t slot = replies_.PushPending();
    const uint64_t delay = ack->op == pr::kAckOpNack ? ack->delay_ms : 0;
    consume.Settle(id_, static_cast<queue::AckOp>(ack->op), ack->offset, ack->generation, delay,
                   [self = shared_from_this(), slot](queue::AckStatus status) {
                     Bytes out;
                     Append(pr::AckStatus{static_cast<uint8_t>(status)}, &out);
                     FillSlotFromAnyThread(self, slot, std::move(out));
                   });
  } else if (auto* cumulative = std::get_if<pr::CumulativeAck>(&*frame)) {
    consume.CumulativeAck(std::string(AsChars(cumulative->group)), cumulative->up_to,
                          OkOrErrInto(replies_.PushPending()));
  } else {
    ReplyErr("", pr::kTextVerbNotSupported);
  }
}

}  // namespace ironbus::server
