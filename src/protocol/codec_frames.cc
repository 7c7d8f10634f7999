// Envelope and the consuming / control frames; dispatch to the other body codecs.
#include <limits>

#include "protocol/body_reader.h"
#include "protocol/codec.h"
#include "protocol/codec_internal.h"

namespace ironbus::protocol {
namespace {

using internal::BodyReader;
using internal::PutU8;
using internal::PutVar;

template <typename... T>
struct Overloaded : T... {
  using T::operator()...;
};
template <typename... T>
Overloaded(T...) -> Overloaded<T...>;

Status EncodeDeliverBody(const DeliverView& d, Bytes* body) {
  PutFixed64(body, d.offset);
  PutFixed64(body, d.generation);
  PutU8(body, d.flags);
  PutFixed64(body, d.timestamp_ms);
  if (!PutVar(body, d.key)) return internal::TooLong("key");
  if (!PutVar(body, d.headers)) return internal::TooLong("headers");
  PutBytes(body, d.payload);
  return Status::Ok();
}

Status EncodeBody(const Frame& frame, Bytes* body) {
  return std::visit(
      Overloaded{
          [&](const Connect& c) { return internal::EncodeConnect(c, body); },
          [&](const Info& i) { internal::EncodeInfo(i, body); return Status::Ok(); },
          [&](const Ping&) { return Status::Ok(); },
          [&](const Pong&) { return Status::Ok(); },
          [&](const Ok&) { return Status::Ok(); },
          [&](const Unsub&) { return Status::Ok(); },
          [&](const Pub& p) { return internal::EncodePub(p, body); },
          [&](const Sub& s) { PutBytes(body, s.group); return Status::Ok(); },
          [&](const Ack& a) {
            PutU8(body, a.op);
            PutFixed64(body, a.offset);
            PutFixed64(body, a.generation);
            PutFixed64(body, a.delay_ms);
            return Status::Ok();
          },
          [&](const Flow& f) { PutFixed32(body, f.credit); return Status::Ok(); },
          [&](const Err& e) {
            // Uncoded text never starts with 0x00; a message that does is sent coded with an
            // empty code, so it decodes back to itself.
            const bool message_looks_coded = !e.message.empty() && e.message[0] == '\0';
            if (!e.code.empty() || message_looks_coded) {
              if (e.code.size() > kMaxErrCodeLen) return Status::OutOfRange("error code longer than 255 bytes");
              PutU8(body, kErrCodedMarker);
              PutU8(body, static_cast<uint8_t>(e.code.size()));
              PutBytes(body, AsBytes(e.code));
            }
            PutBytes(body, AsBytes(e.message));
            return Status::Ok();
          },
          [&](const Deliver& d) {
            return EncodeDeliverBody(DeliverView{d.offset, d.generation, d.flags, d.timestamp_ms, d.key, d.headers,
                                                 d.payload},
                                     body);
          },
          [&](const PubAck& a) { PutFixed64(body, a.offset); return Status::Ok(); },
          [&](const PubAckDuplicate& a) { PutFixed64(body, a.offset); return Status::Ok(); },
          [&](const AckStatus& s) { PutU8(body, s.status); return Status::Ok(); },
          [&](const FlowEnd& f) { PutFixed32(body, f.count); return Status::Ok(); },
          [&](const DeadLetter& d) { PutFixed64(body, d.offset); PutU8(body, d.reason); return Status::Ok(); },
          [&](const Truncated& t) {
            PutFixed64(body, t.earliest_retained);
            PutFixed64(body, t.skipped);
            return Status::Ok();
          },
          [&](const CumulativeAck& c) { PutFixed64(body, c.up_to); PutBytes(body, c.group); return Status::Ok(); },
          [&](const GapMarker& g) {
            PutFixed64(body, g.from);
            PutFixed64(body, g.to);
            PutFixed64(body, g.bytes_skipped);
            PutU8(body, g.reason);
            return Status::Ok();
          },
          [&](const ProduceConfirm& p) { PutFixed64(body, p.offset); PutU8(body, p.status); return Status::Ok(); },
          [&](const Fetch& f) {
            static_assert(kFetchFieldLen == 1 + 4 + 8 + 8);
            PutU8(body, kBodyVersion);
            PutFixed16(body, static_cast<uint16_t>(kFetchFieldLen));
            PutU8(body, f.no_wait ? kFetchNoWait : 0);
            PutFixed32(body, f.max_records);
            PutFixed64(body, f.max_bytes);
            PutFixed64(body, f.expires_ms);
            return Status::Ok();
          },
          [&](const auto& v2) { return internal::EncodeV2(Frame(v2), body); },
      },
      frame);
}

// A fixed-size body: exactly `size` bytes. Short is kTruncated, long is kTrailingBytes.
bool CheckSize(ByteView body, size_t size, DecodeError* why) {
  if (body.size() < size) *why = DecodeError::kTruncated;
  if (body.size() > size) *why = DecodeError::kTrailingBytes;
  return body.size() == size;
}

// Which frames the receiver may get (section 4 "dir"): the other side's frames, the reserved Nack
// and peer tags are kNotSupported; so are the defined v2 verbs this codec does not implement.
bool Receivable(uint8_t tag, Direction direction) {
  switch (SenderOf(tag)) {
    case Sender::kEither: return true;
    case Sender::kClient: return direction == Direction::kToServer;
    case Sender::kServer: return direction == Direction::kToClient;
    default: return false;
  }
}

Result<Frame> DecodeKnown(Tag tag, ByteView body, Direction direction, DecodeError* why);

}  // namespace

namespace {

// Writes length prefix, tag and the body `encode_body` appends. The body is encoded in place
// after a placeholder length, which is patched once the body's size is known: no temporary
// body buffer, so a Deliver's payload is copied once, straight into the reply. On an error
// `out` is left as it was.
template <typename EncodeBodyFn>
Status EncodeEnvelope(Tag tag, EncodeBodyFn encode_body, Bytes* out) {
  const size_t start = out->size();
  PutFixed32(out, 0);
  PutU8(out, static_cast<uint8_t>(tag));
  Status status = encode_body(out);
  const size_t frame_len = out->size() - start - kLengthPrefixSize;
  if (status.ok() && frame_len > kMaxFrameLen) {
    status = Status::OutOfRange("frame longer than the 16 MiB + 64 KiB maximum");
  }
  if (!status.ok()) {
    out->resize(start);
    return status;
  }
  EncodeFixed32(out->data() + start, static_cast<uint32_t>(frame_len));
  return Status::Ok();
}

}  // namespace

Status EncodeFrame(const Frame& frame, Bytes* out) {
  return EncodeEnvelope(TagOf(frame), [&](Bytes* body) { return EncodeBody(frame, body); }, out);
}

Status EncodeDeliver(const DeliverView& deliver, Bytes* out) {
  return EncodeEnvelope(Tag::kDeliver, [&](Bytes* body) { return EncodeDeliverBody(deliver, body); }, out);
}

Result<Bytes> EncodeFrame(const Frame& frame) {
  Bytes out;
  RETURN_IF_ERROR(EncodeFrame(frame, &out));
  return out;
}

std::string_view DecodeErrorName(DecodeError error) {
  switch (error) {
    case DecodeError::kNone: return "none";
    case DecodeError::kUnknownTag: return "unknown tag";
    case DecodeError::kNotSupported: return "not supported on this connection";
    case DecodeError::kTruncated: return "truncated body";
    case DecodeError::kTrailingBytes: return "trailing bytes";
    case DecodeError::kBadVersion: return "bad body version";
    case DecodeError::kBadValue: return "bad value";
    case DecodeError::kBadFlags: return "bad flags";
    case DecodeError::kNameTooLong: return "name too long";
  }
  return "?";
}

Result<Frame> DecodeBody(uint8_t raw_tag, ByteView body, Direction direction, DecodeError* error) {
  DecodeError why = DecodeError::kNone;
  Result<Frame> frame = Status::NotFound(std::string(kTextUnknownFrameType));
  if (!IsDefinedTag(raw_tag)) {
    why = DecodeError::kUnknownTag;
  } else if (!Receivable(raw_tag, direction)) {
    why = DecodeError::kNotSupported;
    frame = Status::InvalidArgument(std::string(kTextVerbNotSupported));
  } else {
    frame = DecodeKnown(static_cast<Tag>(raw_tag), body, direction, &why);
  }
  if (error != nullptr) *error = why;
  return frame;
}

namespace {

Result<Frame> DecodeKnown(Tag tag, ByteView body, Direction direction, DecodeError* why) {
  using internal::Malformed;
  BodyReader r(body);
  switch (tag) {
    case Tag::kConnect: return internal::DecodeConnect(body, why);
    case Tag::kInfo: return internal::DecodeInfo(body, why);
    // Empty bodies: bytes a newer peer might add are ignored (section 3), never an error.
    case Tag::kPing: return Frame(Ping{});
    case Tag::kPong: return Frame(Pong{});
    case Tag::kOk: return Frame(Ok{});
    case Tag::kUnsub: return Frame(Unsub{});
    case Tag::kPub: {
      ASSIGN_OR_RETURN(Pub p, internal::DecodePub(body, why));
      return Frame(std::move(p));
    }
    case Tag::kSub: return Frame(Sub{r.Rest()});
    case Tag::kAck: {
      if (!CheckSize(body, kAckBodySize, why)) return Malformed(why, *why, "ack");
      Ack a;
      a.op = r.U8();
      a.offset = r.U64();
      a.generation = r.U64();
      a.delay_ms = r.U64();
      if (a.op > kAckOpProgress) {
        *why = DecodeError::kBadValue;
        return Status::InvalidArgument("malformed ack body: bad ack op " + std::to_string(a.op));
      }
      return Frame(a);
    }
    case Tag::kFlow:
      if (!CheckSize(body, kFlowBodySize, why)) return Status::InvalidArgument(std::string(kTextFlowCreditMustBeU32));
      return Frame(Flow{r.U32()});
    case Tag::kErr: {
      Err e;
      // Coded: 0x00, code_len, code, message, when the code fits; otherwise all message.
      if (body.size() >= 2 && body[0] == kErrCodedMarker && size_t{body[1]} + 2 <= body.size()) {
        e.code = std::string(AsChars(body.subspan(2, body[1])));
        e.message = std::string(AsChars(body.subspan(2 + body[1])));
      } else {
        e.message = std::string(AsChars(body));
      }
      return Frame(std::move(e));
    }
    case Tag::kDeliver: {
      Deliver d;
      d.offset = r.U64();
      d.generation = r.U64();
      d.flags = r.U8();
      d.timestamp_ms = r.U64();
      d.key = r.Var();
      d.headers = r.Var();
      d.payload = r.Rest();
      if (!r.ok()) return Malformed(why, r.error(), "deliver");
      return Frame(std::move(d));
    }
    case Tag::kPubAck:
      if (!CheckSize(body, kPubAckBodySize, why)) return Malformed(why, *why, "puback");
      return Frame(PubAck{r.U64()});
    case Tag::kPubAckDuplicate:
      if (!CheckSize(body, kPubAckBodySize, why)) return Malformed(why, *why, "puback duplicate");
      return Frame(PubAckDuplicate{r.U64()});
    case Tag::kAckStatus:
      // Status values above 2 pass through: the client decides what an unknown status means.
      if (!CheckSize(body, kAckStatusBodySize, why)) return Malformed(why, *why, "ack status");
      return Frame(AckStatus{r.U8()});
    case Tag::kFlowEnd:
      if (!CheckSize(body, kFlowEndBodySize, why)) return Malformed(why, *why, "flow end");
      return Frame(FlowEnd{r.U32()});
    case Tag::kDeadLetter: {
      if (!CheckSize(body, kDeadLetterBodySize, why)) return Malformed(why, *why, "dead letter");
      DeadLetter d;
      d.offset = r.U64();
      d.reason = r.U8();
      return Frame(d);
    }
    case Tag::kTruncated: {
      if (!CheckSize(body, kTruncatedBodySize, why)) return Malformed(why, *why, "truncated");
      Truncated t;
      t.earliest_retained = r.U64();
      t.skipped = r.U64();
      return Frame(t);
    }
    case Tag::kCumulativeAck: {
      if (body.size() < kCumulativeAckMinBodySize) return Malformed(why, DecodeError::kTruncated, "cumulative ack");
      CumulativeAck c;
      c.up_to = r.U64();
      c.group = r.Rest();
      return Frame(std::move(c));
    }
    case Tag::kGapMarker: {
      // Unknown reasons are legal (readers tolerate them), so the reason is not checked.
      if (!CheckSize(body, kGapMarkerBodySize, why)) return Malformed(why, *why, "gap marker");
      GapMarker g;
      g.from = r.U64();
      g.to = r.U64();
      g.bytes_skipped = r.U64();
      g.reason = r.U8();
      return Frame(g);
    }
    case Tag::kProduceConfirm: {
      if (!CheckSize(body, kProduceConfirmBodySize, why)) return Malformed(why, *why, "produce confirm");
      ProduceConfirm p;
      p.offset = r.U64();
      p.status = r.U8();
      return Frame(p);
    }
    case Tag::kFetch: {
      auto block = r.Block();
      if (!block) return Malformed(why, r.error(), "fetch");
      Fetch f;
      f.no_wait = (block->U8() & kFetchNoWait) != 0;  // other flag bits: newer, ignored
      f.max_records = block->U32();
      f.max_bytes = block->U64();
      f.expires_ms = block->U64();
      if (!block->ok()) return Malformed(why, block->error(), "fetch");
      return Frame(f);
    }
    case Tag::kStreamDeclare:
    case Tag::kStreamInfo:
    case Tag::kPubTo:
    case Tag::kSubTo:
    case Tag::kBindSubject:
    case Tag::kPubSubject:
    case Tag::kSubSubject:
    case Tag::kNotLeader:
    case Tag::kDeliverBatch:
      return internal::DecodeV2(tag, body, direction, why);
    default:
      break;
  }
  // Defined, receivable in principle, but not implemented here: v2 Tier-S, transactions, pause.
  *why = DecodeError::kNotSupported;
  return Status::InvalidArgument(std::string(kTextVerbNotSupported));
}

}  // namespace

}  // namespace ironbus::protocol
