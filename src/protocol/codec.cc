// Handshake (Connect, Info) and Pub bodies, TagOf. Layouts: wire_format.h and docs/protocol.md.
#include "protocol/codec.h"

#include "format/record_format.h"

#include "protocol/body_reader.h"
#include "protocol/codec_internal.h"

namespace ironbus::protocol {

using internal::BodyReader;
using internal::PutU8;
using internal::PutVar;

// The stored bits of the Pub flags byte are the record flags of storage.md, bit for bit: the
// server clears kPubWireOnlyMask and stores the rest.
static_assert(kPubFlagCompressed == format::kFlagCompressed);
static_assert(kPubFlagHasKey == format::kFlagHasKey);
static_assert(kPubFlagHasXxh3 == format::kFlagHasXxh3);
static_assert((kPubWireOnlyMask & (kPubFlagCompressed | kPubFlagHasKey | kPubFlagHasXxh3)) == 0);

uint8_t Pub::ack_level() const {
  if ((flags & kPubFlagFireAndForget) != 0) return kAckLevelNone;
  // The two-bit field encodes 0 = level 1 (so an old client's 0x00 is the default), 1 = level 0,
  // 2 = level 2, and the reserved 3 falls back to the default.
  switch ((flags & kPubAckLevelMask) >> kPubAckLevelShift) {
    case 1: return kAckLevelNone;
    case 2: return kAckLevelConsumed;
    default: return kAckLevelDurable;
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
    Tag operator()(const DeliverBatch&) { return Tag::kDeliverBatch; }
  };
  return std::visit(Visitor{}, frame);
}

namespace internal {

Status TooLong(std::string_view what) { return Status::OutOfRange(std::string(what) + " longer than 65535 bytes"); }

Status Malformed(DecodeError* why, DecodeError kind, std::string_view what) {
  *why = kind;
  return Status::InvalidArgument("malformed " + std::string(what) + " body");
}

// ---- handshake ----

Status EncodeConnect(const Connect& c, Bytes* out) {
  if (c.legacy) return Status::Ok();
  uint8_t flags = 0;
  if (c.requested_credit) flags |= kCapHasCredit;
  if (c.requested_credit_bytes) flags |= kCapHasCreditBytes;
  if (c.wants_gap_marker) flags |= kCapGapMarker;
  if (c.default_ack_level) flags |= kCapHasDefaultAckLevel;
  if (c.understands_streaming) flags |= kCapStreaming;
  if (c.default_tier) flags |= kCapHasDefaultTier;
  if (c.understands_deliver_batch) flags |= kCapDeliverBatch;
  if (c.understands_streams) flags |= kCapStreams;
  if (c.auth && c.auth->material.size() > kMaxVarFieldLen) return TooLong("auth material");
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
    PutVar(out, c.auth->material);
  } else {
    PutBytes(out, c.unparsed_auth);
  }
  return Status::Ok();
}

Result<Frame> DecodeConnect(ByteView body, DecodeError* why) {
  Connect c;
  if (body.empty()) {
    c.legacy = true;
    return Frame(c);
  }
  BodyReader r(body);
  auto block = r.Block();
  if (!block) return Malformed(why, r.error(), "connect");
  const uint8_t flags = block->U8();
  const uint32_t credit = block->U32();
  const uint64_t credit_bytes = block->U64();
  // Appended bytes are read only when their presence bit is set, in this order, so a missing
  // earlier one never shifts a later one.
  if (flags & kCapHasDefaultAckLevel) c.default_ack_level = block->U8();
  if (flags & kCapHasDefaultTier) c.default_tier = block->U8();
  if (!block->ok()) return Malformed(why, block->error(), "connect");
  // flags2 is present only when non-zero and always last; anything after it is a newer field.
  if (block->remaining() > 0) c.flags2 = block->U8();
  if (flags & kCapHasCredit) c.requested_credit = credit;
  if (flags & kCapHasCreditBytes) c.requested_credit_bytes = credit_bytes;
  c.wants_gap_marker = (flags & kCapGapMarker) != 0;
  c.understands_streaming = (flags & kCapStreaming) != 0;
  c.understands_deliver_batch = (flags & kCapDeliverBatch) != 0;
  c.understands_streams = (flags & kCapStreams) != 0;
  // The auth section. A tail that is not one (another marker, cut short) is not a malformed
  // Connect: spec 5.3 makes it an auth failure on an auth-required broker and nothing at all on
  // a broker without identities, so it is kept for the server to judge.
  Bytes tail = r.Rest();
  if (!tail.empty()) {
    BodyReader a(tail);
    const uint8_t marker = a.U8();
    AuthSection auth;
    auth.mechanism = a.U8();
    auth.material = a.Var();
    if (a.ok() && marker == kAuthMarker) {
      c.auth = std::move(auth);  // bytes after the material are ignored
    } else {
      c.unparsed_auth = std::move(tail);
    }
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

Result<Frame> DecodeInfo(ByteView body, DecodeError* why) {
  Info i;
  if (body.empty()) {
    i.legacy = true;  // an old server: no adverts, no capabilities
    return Frame(i);
  }
  BodyReader r(body);
  auto block = r.Block();
  if (!block) return Malformed(why, r.error(), "info");
  const uint8_t flags = block->U8();
  Advert<uint32_t> credit;
  credit.negotiated = block->U32();
  credit.cap = block->U32();
  Advert<uint64_t> credit_bytes;
  credit_bytes.negotiated = block->U64();
  credit_bytes.cap = block->U64();
  if (flags & kCapHasDefaultAckLevel) i.default_ack_level = block->U8();
  if (flags & kCapHasDefaultTier) i.default_tier = block->U8();
  if (!block->ok()) return Malformed(why, block->error(), "info");
  if (block->remaining() > 0) i.flags2 = block->U8();
  if (flags & kCapHasCredit) i.credit = credit;
  if (flags & kCapHasCreditBytes) i.credit_bytes = credit_bytes;
  i.gap_marker = (flags & kCapGapMarker) != 0;
  i.streaming = (flags & kCapStreaming) != 0;
  i.deliver_batch = (flags & kCapDeliverBatch) != 0;
  i.streams = (flags & kCapStreams) != 0;
  return Frame(std::move(i));
}

// ---- producing ----

Status EncodePub(const Pub& p, Bytes* out) {
  // HAS_DEDUP / HAS_SEQ follow `dedup`, whatever the flags byte says.
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

Result<Pub> DecodePub(ByteView body, DecodeError* why) {
  BodyReader r(body);
  Pub p;
  p.flags = r.U8();
  if (r.ok() && (p.flags & kPubFlagHasSeq) != 0 && (p.flags & kPubFlagHasDedup) == 0) {
    return Malformed(why, DecodeError::kBadFlags, "pub");  // HAS_SEQ alone is malformed
  }
  p.timestamp_ms = r.U64();
  p.key = r.Var();
  p.headers = r.Var();
  if (p.flags & kPubFlagHasDedup) {
    Dedup d;
    d.producer_id = r.Var();
    d.epoch = r.U64();
    d.msg_id = r.Var();
    if (p.flags & kPubFlagHasSeq) d.seq = r.U64();
    p.dedup = std::move(d);
  }
  p.payload = r.Rest();
  if (!r.ok()) return Malformed(why, r.error(), "pub");
  return p;
}

}  // namespace internal

Status EncodePubBody(const Pub& pub, Bytes* out) { return internal::EncodePub(pub, out); }

Result<Pub> DecodePubBody(ByteView body, DecodeError* error) {
  DecodeError why = DecodeError::kNone;
  auto pub = internal::DecodePub(body, &why);
  if (error != nullptr) *error = why;
  return pub;
}

}  // namespace ironbus::protocol
