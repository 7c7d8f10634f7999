// v1 bodies and the dispatch. Layouts: wire_format.h and docs/protocol.md.
#include "protocol/codec.h"

#include "protocol/body_reader.h"
#include "protocol/codec_internal.h"

namespace ironbus::protocol {

using internal::BodyReader;
using internal::PutU8;
using internal::PutVar;

uint8_t Pub::ack_level() const {
  if ((flags & kPubFlagFireAndForget) != 0) return 0;
  switch ((flags & kPubAckLevelMask) >> kPubAckLevelShift) {
    case 1: return 0;
    case 2: return 2;
    default: return 1;  // 0, and 3 (reserved) read as level 1
  }
}

Tag TagOf(const Frame& frame) {
  struct Visitor {
    Tag operator()(const Connect&) { return Tag::kConnect; }
    Tag operator()(const Info&) { return Tag::kInfo; }
    Tag operator()(const Ping&) { return Tag::kPing; }
    Tag operator()(const Pong&) { return Tag::kPong; }
    Tag operator()(const Pub&) { return Tag::kPub; }
    Tag operator()(const Sub&) { return Tag::kSub; }
    Tag operator()(const Unsub&) { return Tag::kUnsub; }
    Tag operator()(const Ack&) { return Tag::kAck; }
    Tag operator()(const Flow&) { return Tag::kFlow; }
    Tag operator()(const Ok&) { return Tag::kOk; }
    Tag operator()(const Err&) { return Tag::kErr; }
    Tag operator()(const Deliver&) { return Tag::kDeliver; }
    Tag operator()(const PubAck&) { return Tag::kPubAck; }
    Tag operator()(const AckStatus&) { return Tag::kAckStatus; }
    Tag operator()(const FlowEnd&) { return Tag::kFlowEnd; }
    Tag operator()(const DeadLetter&) { return Tag::kDeadLetter; }
    Tag operator()(const Truncated&) { return Tag::kTruncated; }
    Tag operator()(const CumulativeAck&) { return Tag::kCumulativeAck; }
    Tag operator()(const PubAckDuplicate&) { return Tag::kPubAckDuplicate; }
    Tag operator()(const GapMarker&) { return Tag::kGapMarker; }
    Tag operator()(const ProduceConfirm&) { return Tag::kProduceConfirm; }
    Tag operator()(const Fetch&) { return Tag::kFetch; }
    Tag operator()(const StreamDeclare&) { return Tag::kStreamDeclare; }
    Tag operator()(const StreamInfoRequest&) { return Tag::kStreamInfo; }
    Tag operator()(const StreamInfoResponse&) { return Tag::kStreamInfo; }
    Tag operator()(const PubTo&) { return Tag::kPubTo; }
    Tag operator()(const SubTo&) { return Tag::kSubTo; }
    Tag operator()(const BindSubject&) { return Tag::kBindSubject; }
    Tag operator()(const PubSubject&) { return Tag::kPubSubject; }
    Tag operator()(const SubSubject&) { return Tag::kSubSubject; }
    Tag operator()(const NotLeader&) { return Tag::kNotLeader; }
  };
  return std::visit(Visitor{}, frame);
}

namespace internal {

Status TooLong(std::string_view what) { return Status::OutOfRange(std::string(what) + " longer than 65535 bytes"); }

// ---- handshake ----

void EncodeConnect(const Connect& c, Bytes* out) {
  if (c.legacy) return;
  uint8_t flags = 0;
  if (c.requested_credit) flags |= kCapHasCredit;
  if (c.requested_credit_bytes) flags |= kCapHasCreditBytes;
  if (c.wants_gap_marker) flags |= kCapGapMarker;
  if (c.default_ack_level) flags |= kCapHasDefaultAckLevel;
  if (c.understands_streaming) flags |= kCapStreaming;
  if (c.default_tier) flags |= kCapHasDefaultTier;
  if (c.understands_deliver_batch) flags |= kCapDeliverBatch;
  if (c.understands_streams) flags |= kCapStreams;
  Bytes block;
  PutU8(&block, flags);
  PutFixed32(&block, c.requested_credit.value_or(0));
  PutFixed64(&block, c.requested_credit_bytes.value_or(0));
  if (c.default_ack_level) PutU8(&block, *c.default_ack_level);
  if (c.default_tier) PutU8(&block, *c.default_tier);
  if (c.flags2 != 0) PutU8(&block, c.flags2);
  PutU8(out, kBodyVersion);
  PutFixed16(out, static_cast<uint16_t>(block.size()));
  PutBytes(out, block);
  if (c.auth) {
    PutU8(out, kAuthMarker);
    PutU8(out, c.auth->mechanism);
    PutFixed16(out, static_cast<uint16_t>(c.auth->material.size()));
    PutBytes(out, c.auth->material);
  }
}

Result<Frame> DecodeConnect(ByteView body) {
  Connect c;
  if (body.empty()) {
    c.legacy = true;
    return Frame(c);
  }
  BodyReader r(body);
  auto block = r.Block();
  if (!block) return Status::InvalidArgument("malformed connect body");
  const uint8_t flags = block->U8();
  const uint32_t credit = block->U32();
  const uint64_t credit_bytes = block->U64();
  if (!block->ok()) return Status::InvalidArgument("malformed connect body");
  if (flags & kCapHasCredit) c.requested_credit = credit;
  if (flags & kCapHasCreditBytes) c.requested_credit_bytes = credit_bytes;
  c.wants_gap_marker = (flags & kCapGapMarker) != 0;
  c.understands_streaming = (flags & kCapStreaming) != 0;
  c.understands_deliver_batch = (flags & kCapDeliverBatch) != 0;
  c.understands_streams = (flags & kCapStreams) != 0;
  // Appended bytes are read only when their presence bit is set, in this order, so a missing
  // earlier one never shifts a later one.
  if (flags & kCapHasDefaultAckLevel) c.default_ack_level = block->U8();
  if (flags & kCapHasDefaultTier) c.default_tier = block->U8();
  if (!block->ok()) return Status::InvalidArgument("malformed connect body");
  if (block->remaining() > 0) c.flags2 = block->U8();
  if (r.remaining() > 0) {
    if (r.U8() != kAuthMarker) return Status::InvalidArgument("malformed connect auth section");
    AuthSection auth;
    auth.mechanism = r.U8();
    const uint16_t len = r.U16();
    auth.material = r.Raw(len);
    if (!r.ok()) return Status::InvalidArgument("malformed connect auth section");
    c.auth = std::move(auth);
  }
  return Frame(std::move(c));
}

void EncodeInfo(const Info& i, Bytes* out) {
  if (i.legacy) return;
  uint8_t flags = 0;
  if (i.credit) flags |= kCapHasCredit;
  if (i.credit_bytes) flags |= kCapHasCreditBytes;
  if (i.gap_marker) flags |= kCapGapMarker;
  if (i.default_ack_level) flags |= kCapHasDefaultAckLevel;
  if (i.streaming) flags |= kCapStreaming;
  if (i.default_tier) flags |= kCapHasDefaultTier;
  if (i.deliver_batch) flags |= kCapDeliverBatch;
  if (i.streams) flags |= kCapStreams;
  Bytes block;
  PutU8(&block, flags);
  const Advert<uint32_t> credit = i.credit.value_or(Advert<uint32_t>{});
  const Advert<uint64_t> credit_bytes = i.credit_bytes.value_or(Advert<uint64_t>{});
  PutFixed32(&block, credit.negotiated);
  PutFixed32(&block, credit.cap);
  PutFixed64(&block, credit_bytes.negotiated);
  PutFixed64(&block, credit_bytes.cap);
  if (i.default_ack_level) PutU8(&block, *i.default_ack_level);
  if (i.default_tier) PutU8(&block, *i.default_tier);
  if (i.flags2 != 0) PutU8(&block, i.flags2);
  PutU8(out, kBodyVersion);
  PutFixed16(out, static_cast<uint16_t>(block.size()));
  PutBytes(out, block);
}

Result<Frame> DecodeInfo(ByteView body) {
  Info i;
  if (body.empty()) {
    i.legacy = true;
    return Frame(i);
  }
  BodyReader r(body);
  auto block = r.Block();
  if (!block) return Status::InvalidArgument("malformed info body");
  const uint8_t flags = block->U8();
  Advert<uint32_t> credit{block->U32(), 0};
  credit.cap = block->U32();
  Advert<uint64_t> credit_bytes{block->U64(), 0};
  credit_bytes.cap = block->U64();
  if (!block->ok()) return Status::InvalidArgument("malformed info body");
  if (flags & kCapHasCredit) i.credit = credit;
  if (flags & kCapHasCreditBytes) i.credit_bytes = credit_bytes;
  i.gap_marker = (flags & kCapGapMarker) != 0;
  i.streaming = (flags & kCapStreaming) != 0;
  i.deliver_batch = (flags & kCapDeliverBatch) != 0;
  i.streams = (flags & kCapStreams) != 0;
  if (flags & kCapHasDefaultAckLevel) i.default_ack_level = block->U8();
  if (flags & kCapHasDefaultTier) i.default_tier = block->U8();
  if (!block->ok()) return Status::InvalidArgument("malformed info body");
  if (block->remaining() > 0) i.flags2 = block->U8();
  return Frame(std::move(i));
}

// ---- producing ----

Status EncodePub(const Pub& p, Bytes* out) {
  uint8_t flags = static_cast<uint8_t>(p.flags & ~(kPubFlagHasDedup | kPubFlagHasSeq));
  if (p.dedup) {
    flags |= kPubFlagHasDedup;
    if (p.dedup->seq) flags |= kPubFlagHasSeq;
  }
  Bytes body;
  PutU8(&body, flags);
  PutFixed64(&body, p.timestamp_ms);
  if (!PutVar(&body, p.key)) return TooLong("key");
  if (!PutVar(&body, p.headers)) return TooLong("headers");
  if (p.dedup) {
    if (!PutVar(&body, p.dedup->producer_id)) return TooLong("producer_id");
    PutFixed64(&body, p.dedup->epoch);
    if (!PutVar(&body, p.dedup->msg_id)) return TooLong("msg_id");
    if (p.dedup->seq) PutFixed64(&body, *p.dedup->seq);
  }
  PutBytes(&body, p.payload);
  PutBytes(out, body);
  return Status::Ok();
}

Result<Pub> DecodePub(ByteView body) {
  BodyReader r(body);
  Pub p;
  p.flags = r.U8();
  p.timestamp_ms = r.U64();
  p.key = r.Var();
  p.headers = r.Var();
  if ((p.flags & kPubFlagHasSeq) != 0 && (p.flags & kPubFlagHasDedup) == 0) {
    return Status::InvalidArgument("malformed pub body");  // HAS_SEQ alone is malformed
  }
  if (p.flags & kPubFlagHasDedup) {
    Dedup d;
    d.producer_id = r.Var();
    d.epoch = r.U64();
    d.msg_id = r.Var();
    if (p.flags & kPubFlagHasSeq) d.seq = r.U64();
    p.dedup = std::move(d);
  }
  p.payload = r.Rest();
  if (!r.ok()) return Status::InvalidArgument("malformed pub body");
  return p;
}

}  // namespace internal

Status EncodePubBody(const Pub& pub, Bytes* out) { return internal::EncodePub(pub, out); }
Result<Pub> DecodePubBody(ByteView body) { return internal::DecodePub(body); }

}  // namespace ironbus::protocol
