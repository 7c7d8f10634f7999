// What a session does with each frame: the handshake, Ping, Pub, and the Err replies for
// everything else (spec/protocol.md sections 2, 4, 5, 7, 9).
#include <algorithm>

#include "base/log.h"
#include "format/record_format.h"
#include "protocol/codec.h"
#include "protocol/handshake.h"
#include "server/session.h"
#include "server/verbs.h"

namespace ironbus::server {
namespace {

namespace pr = protocol;

// Level 0 never gets a reply, not even an Err (spec 7.2): the Go client's fire-and-forget
// writes and returns, and any reply would shift every later reply by one. For Pub the flags
// byte is the first body byte; PubTo/PubSubject carry a whole Pub body as their tail.
bool IsFireAndForget(uint8_t tag, ByteView body) {
  if (tag == static_cast<uint8_t>(pr::Tag::kPub)) {
    if (body.empty()) return false;
    pr::Pub probe;
    probe.flags = body[0];
    return probe.ack_level() == 0;
  }
  if (tag == static_cast<uint8_t>(pr::Tag::kPubTo) || tag == static_cast<uint8_t>(pr::Tag::kPubSubject)) {
    auto frame = pr::DecodeBody(tag, body, pr::Direction::kToServer);
    if (!frame.ok()) return false;
    if (const auto* to = std::get_if<pr::PubTo>(&*frame)) return to->pub.ack_level() == 0;
    if (const auto* subject = std::get_if<pr::PubSubject>(&*frame)) return subject->pub.ack_level() == 0;
  }
  return false;
}

Bytes EncodeReply(const pr::Frame& frame) {
  Bytes out;
  if (!pr::EncodeFrame(frame, &out).ok()) {
    out.clear();
    (void)pr::EncodeFrame(pr::Frame(pr::Err{"", "reply could not be encoded"}), &out);
  }
  return out;
}

}  // namespace

void Session::Reply(const pr::Frame& frame) {
  replies_.PushReady(EncodeReply(frame));
  WakeWriter();
}

void Session::ReplyErr(std::string_view code, std::string_view message) {
  Reply(pr::Err{std::string(code), std::string(message)});
}

Session::Next Session::Dispatch(uint8_t tag, ByteView body) {
  if (identities_ != nullptr) {
    // Before its Connect authenticated, a connection may send nothing else (Ping included,
    // spec/security.md 2); after, only the verbs its identity's scopes allow.
    if (!identity_) {
      if (tag == static_cast<uint8_t>(pr::Tag::kConnect) && !stop_requested_) return AuthenticateConnect(body);
      shared_->auth_failures++;  // no credential was offered: nothing for the audit log's authn
      return AuthorizationViolation();
    }
    if (ClassifyTag(tag) == TagClass::kClientVerb && !security::Permits(identity_->scopes, tag)) {
      shared_->authz_denials++;
      if (shared_->audit) {
        shared_->audit->AuthzDenial(identity_->name, security::ScopeRequirementName(security::RequiredScope(tag)),
                                    VerbName(tag));
      }
      return AuthorizationViolation();
    }
  }
  switch (ClassifyTag(tag)) {
    case TagClass::kUnknown:
      ReplyErr("", pr::kTextUnknownFrameType);
      return Next::kContinue;
    case TagClass::kNotForClients:
      ReplyErr("", pr::kTextVerbNotSupported);
      return Next::kContinue;
    case TagClass::kClientVerb:
      break;
  }
  const bool fire_and_forget = IsFireAndForget(tag, body);
  if (stop_requested_) {
    if (!fire_and_forget) ReplyErr("", kTextShuttingDown);
    return Next::kContinue;
  }
  // Ping needs no handshake (the reference dispatch answers it before checking one).
  if (tag == static_cast<uint8_t>(pr::Tag::kPing)) {
    Reply(pr::Pong{});
    return Next::kContinue;
  }
  if (tag == static_cast<uint8_t>(pr::Tag::kConnect)) {
    HandleConnect(body);
    return Next::kContinue;
  }
  if (fire_and_forget && (!connected_ || !IsHandled(tag))) {
    shared_->publishes_refused++;  // level 0: dropped without a word
    return Next::kContinue;
  }
  if (!connected_) {
    ReplyErr("", pr::kTextNotConnected);
    return Next::kContinue;
  }
  if (tag == static_cast<uint8_t>(pr::Tag::kPub)) return HandlePub(body, fire_and_forget);
  if (IsConsumeVerb(tag)) {
    HandleConsumeVerb(tag, body);
    return Next::kContinue;
  }
  ReplyErr("", pr::kTextVerbNotSupported);
  return Next::kContinue;
}

void Session::HandleConnect(ByteView body) {
  auto frame = pr::DecodeBody(static_cast<uint8_t>(pr::Tag::kConnect), body, pr::Direction::kToServer);
  if (!frame.ok()) {
    // The connection stays open so the client may retry the handshake (spec 5.2).
    ReplyErr("", frame.status().message());
    return;
  }
  HandleConnect(std::get<pr::Connect>(*frame));
}

void Session::HandleConnect(const pr::Connect& connect) {
  // Capability bits are "asked AND supported": gap markers are a representation choice we
  // honour; streams, Tier-S and DeliverBatch are not built yet, so never confirmed. The auth
  // section was checked by AuthenticateConnect when the broker has identities, and is ignored
  // without them (spec/protocol.md 5.3); on an authenticated connection a second Connect
  // renegotiates and keeps the identity.
  pr::HandshakePolicy policy;
  policy.default_credit = options_.credit;
  policy.credit_cap = options_.credit_cap;
  policy.default_credit_bytes = options_.credit_bytes;
  policy.credit_bytes_cap = options_.credit_bytes_cap;
  policy.streams = false;
  policy.streaming = false;
  policy.deliver_batch = false;
  // A second Connect re-negotiates from scratch.
  negotiated_ = pr::Negotiate(connect, policy);
  connected_ = true;
  Reply(negotiated_.info);
}

Session::Next Session::HandlePub(ByteView body, bool fire_and_forget) {
  auto decoded = pr::DecodePubBody(body);
  if (!decoded.ok()) {
    shared_->publishes_refused++;
    // "malformed pub body"; a body whose flags byte says level 0 gets nothing, even now.
    if (!fire_and_forget) ReplyErr("", decoded.status().message());
    return Next::kContinue;
  }
  pr::Pub& pub = *decoded;
  const uint8_t level = pub.ack_level();
  Produce produce;
  if (level != 0) produce.slot = replies_.PushPending();
  auto refuse = [&](std::string_view code, std::string_view text) {
    if (produce.slot) {
      FailSlot(produce, pr::Err{std::string(code), std::string(text)}, false);
    } else {
      shared_->publishes_refused++;  // level 0: dropped without a word
    }
    return Next::kContinue;
  };

  // Producer dedup (spec 7.4): an empty msg_id carries no key, so such a Pub simply appends.
  if (pub.dedup && !pub.dedup->msg_id.empty()) {
    const pr::Dedup& d = *pub.dedup;
    const size_t max_id = options_.dedup.max_id_bytes;
    if (d.seq && d.producer_id.empty()) return refuse("", "idempotent sequence requires a non-empty producer_id");
    if (d.producer_id.size() > max_id) return refuse("", "producer_id too long");
    if (d.msg_id.size() > max_id) return refuse("", "msg_id too long");
    queue::DedupWindow::Waiter waiter = [](const Result<uint64_t>&) {};
    if (produce.slot) waiter = MakeDuplicateWaiter(*produce.slot);
    const auto decision = shared_->dedup->Check(d.producer_id, d.epoch, d.msg_id, std::move(waiter));
    switch (decision.kind) {
      case queue::DedupWindow::Kind::kFenced:
        return refuse(pr::kErrProducerFenced, "fenced: stale producer epoch");
      case queue::DedupWindow::Kind::kDuplicate:
        // Nothing appended; the original offset is durable (recorded after its fdatasync).
        if (produce.slot && replies_.Fill(*produce.slot, EncodeReply(pr::PubAckDuplicate{decision.offset}))) {
          WakeWriter();
        }
        return Next::kContinue;
      case queue::DedupWindow::Kind::kWaitForOriginal:
        return Next::kContinue;  // the waiter fills the slot once the original is durable
      case queue::DedupWindow::Kind::kFresh:
        produce.ticket = decision.ticket;
        break;
    }
  }

  storage::AppendRequest request;
  request.key = std::move(pub.key);
  request.headers = std::move(pub.headers);
  request.payload = std::move(pub.payload);
  // Only COMPRESSED is a producer input; HAS_KEY and HAS_XXH3 are derived at append, and the
  // wire-only bits (ack level, dedup, seq) are cleared (spec 7.1).
  request.flags = pub.stored_flags() & format::kFlagCompressed;
  request.timestamp_ms = static_cast<int64_t>(std::min<uint64_t>(pub.timestamp_ms, INT64_MAX));
  produce.bytes = request.key.size() + request.headers.size() + request.payload.size();

  if (level == 0) {
    // Never waited for and never answered: shed at once when the queue is full.
    Status s = shared_->appender->TrySubmit(std::move(request), MakeCompletion(produce));
    if (!s.ok()) {
      static logging::RateLimit limit;
      if (uint64_t suppressed = 0; limit.Allow(&suppressed)) {
        logging::LogTo(shared_->log_line, logging::Level::kWarn, "produce.shed",
                       {{"peer", peer_},
                        {"ack_level", 0},
                        {"reason", s.IsUnavailable() ? "at_capacity" : "refused"},
                        {"error", s.message()},
                        {"suppressed", suppressed}});
      }
      FailSlot(produce, pr::Err{}, false);
    }
    return Next::kContinue;
  }
  inflight_append_bytes_ += produce.bytes;
  return Submit(std::move(request), produce);
}

Session::Next Session::Submit(storage::AppendRequest request, const Produce& produce) {
  storage::Appender& appender = *shared_->appender;
  // A refused TrySubmit destroys its request, so when the queue looks full the request is kept
  // here and the reader retries from WaitForSubmitRoom (which submits copies).
  const bool looks_full = appender.queued() + 1 >= appender.capacity();
  if (looks_full && options_.submit_wait.count() > 0) {
    waiting_ = WaitingSubmit{std::move(request), produce, SteadyClock::now()};
    return Next::kSubmitWait;
  }
  Status s = appender.TrySubmit(std::move(request), MakeCompletion(produce));
  if (s.ok()) return Next::kContinue;
  if (s.IsUnavailable()) {
    // Lost a race for the last places in the queue (or no waiting configured): shed.
    shared_->publishes_shed++;
    FailSlot(produce, pr::Err{std::string(pr::kErrAtCapacity), std::string(kTextShedUnderLoad)}, false);
    return Next::kContinue;
  }
  const ProduceRefusal r = RefusalFor(s);
  FailSlot(produce, r.err, r.fatal);
  return r.fatal ? Next::kStopReading : Next::kContinue;
}

storage::Completion Session::MakeCompletion(const Produce& produce) {
  // Runs on the appender thread after the covering fdatasync (or with the reason the record
  // was not appended or not made durable). The dedup window learns the outcome here, so a
  // duplicate arriving from now on is answered with a durable offset; then hop to the strand.
  return [self = shared_from_this(), produce](Result<uint64_t> offset) mutable {
    if (produce.ticket != 0) self->shared_->dedup->Resolve(produce.ticket, offset);
    if (!produce.slot) {
      if (offset.ok()) {
        self->shared_->publishes_acked++;
      } else {
        self->shared_->publishes_refused++;
      }
      return;  // level 0: nothing to answer
    }
    // Only the outcome that found the list empty posts: a DrainAppended is then already on
    // its way for every later one.
    if (self->appended_.Push(Appended{produce, std::move(offset)})) {
      asio::post(self->strand_, [self] { self->DrainAppended(); });
    }
  };
}

void Session::DrainAppended() {
  appended_.Drain([this](Appended& a) { OnAppended(a.produce, std::move(a.offset)); });
}

queue::DedupWindow::Waiter Session::MakeDuplicateWaiter(uint64_t slot) {
  return [self = shared_from_this(), slot](const Result<uint64_t>& original) {
    asio::post(self->strand_, [self, slot, original]() {
      if (original.ok()) {
        if (self->replies_.Fill(slot, EncodeReply(pr::PubAckDuplicate{*original}))) self->WakeWriter();
      } else {
        // The original was not appended: its refusal answers the duplicate too.
        self->FailSlot(Produce{slot, 0, 0}, RefusalFor(original.status()).err, false);
      }
    });
  };
}

void Session::OnAppended(const Produce& produce, Result<uint64_t> offset) {
  if (offset.ok()) {
    shared_->publishes_acked++;
    inflight_append_bytes_ -= produce.bytes;
    WakeReader();
    if (replies_.Fill(*produce.slot, EncodeReply(pr::PubAck{*offset}))) WakeWriter();
    return;
  }
  const ProduceRefusal r = RefusalFor(offset.status());
  // The completion already told the dedup window.
  FailSlot(Produce{produce.slot, produce.bytes, 0}, r.err, r.fatal);
}

void Session::FailSlot(const Produce& produce, const pr::Err& err, bool fatal) {
  shared_->publishes_refused++;
  if (!fatal && (err.code == pr::kErrAtCapacity || err.code == pr::kErrStorage)) {
    // Sheds (the append queue or the byte cap is full) and refusals by a frozen or full log:
    // one line a second per kind, with how many were folded into it (spec 6.4).
    static logging::RateLimit shed_limit;
    static logging::RateLimit refuse_limit;
    const bool shed = err.code == pr::kErrAtCapacity;
    if (uint64_t suppressed = 0; (shed ? shed_limit : refuse_limit).Allow(&suppressed)) {
      logging::LogTo(shared_->log_line, logging::Level::kWarn, shed ? "produce.shed" : "produce.refused",
                     {{"peer", peer_},
                      {"reason", shed ? "at_capacity" : "storage"},
                      {"code", err.code},
                      {"bytes", produce.bytes},
                      {"error", err.message},
                      {"suppressed", suppressed}});
    }
  }
  if (produce.ticket != 0) {
    // Not appended: the id is forgotten (a retry is fresh) and any waiting duplicate is answered.
    shared_->dedup->Resolve(produce.ticket, Status::Unavailable(err.message));
  }
  if (!produce.slot) return;
  inflight_append_bytes_ -= produce.bytes;
  WakeReader();
  if (replies_.Fill(*produce.slot, EncodeReply(err))) WakeWriter();
  if (fatal && !closed_) {
    // The write or fdatasync failed and froze the log: this connection answers what it owes
    // and closes (spec 9, storage.md 12.4).
    logging::LogTo(shared_->log_line, logging::Level::kError, "produce.storage_error",
                   {{"peer", peer_}, {"session", id_}, {"error", err.message}, {"action", "closing after the queued replies"}});
    StartDrain();
  }
}

}  // namespace ironbus::server
