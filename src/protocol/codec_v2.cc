// v2 stream and subject verbs (spec/protocol.md section 10), NotLeader (12) and DeliverBatch
// (11.1): versioned blocks of var fields; PubTo / PubSubject carry a whole Pub body after the
// block, DeliverBatch the records' on-disk frames.
#include "protocol/body_reader.h"
#include "protocol/codec.h"
#include "protocol/codec_internal.h"

namespace ironbus::protocol::internal {
namespace {

// A var field of a block and its cap: stream ids, subjects and patterns are capped at
// kMaxNameLen (1024); group names are plain var fields (65535).
struct Field {
  ByteView bytes;
  size_t cap;
};
Field Name(const Bytes& b) { return {b, kMaxNameLen}; }
Field Plain(const Bytes& b) { return {b, kMaxVarFieldLen}; }

// Block of var fields: u8 1 | u16 field_len | var...
Status PutBlock(Bytes* out, std::initializer_list<Field> fields) {
  Bytes block;
  for (const Field& f : fields) {
    if (f.bytes.size() > f.cap) return Status::OutOfRange("name longer than " + std::to_string(f.cap) + " bytes");
    PutVar(&block, f.bytes);
  }
  if (block.size() > kMaxVarFieldLen) return TooLong("block");
  PutU8(out, kBodyVersion);
  PutFixed16(out, static_cast<uint16_t>(block.size()));
  PutBytes(out, block);
  return Status::Ok();
}

// Reads `n` var fields from a block into *out. Fields past the n-th inside the block are newer
// and ignored (an ephemeral flag after SubTo's group, for instance).
DecodeError ReadBlock(BodyReader* r, std::initializer_list<size_t> caps, std::vector<Bytes>* out) {
  auto block = r->Block();
  if (!block) return r->error();
  for (size_t cap : caps) {
    out->push_back(block->Var());
    if (!block->ok()) return block->error();
    if (out->back().size() > cap) return DecodeError::kNameTooLong;
  }
  return DecodeError::kNone;
}

}  // namespace

Status EncodeV2(const Frame& frame, Bytes* out) {
  if (auto* s = std::get_if<StreamDeclare>(&frame)) return PutBlock(out, {Name(s->stream_id)});
  if (auto* s = std::get_if<StreamInfoRequest>(&frame)) return PutBlock(out, {Name(s->stream_id)});
  if (auto* s = std::get_if<StreamInfoResponse>(&frame)) {
    PutU8(out, kBodyVersion);
    PutFixed16(out, static_cast<uint16_t>(kStreamInfoResponseFieldLen));
    PutU8(out, s->exists ? 1 : 0);
    PutFixed64(out, s->head);
    return Status::Ok();
  }
  if (auto* s = std::get_if<PubTo>(&frame)) {
    RETURN_IF_ERROR(PutBlock(out, {Name(s->stream_id)}));
    return EncodePub(s->pub, out);
  }
  if (auto* s = std::get_if<SubTo>(&frame)) return PutBlock(out, {Name(s->stream_id), Plain(s->group)});
  if (auto* s = std::get_if<BindSubject>(&frame)) return PutBlock(out, {Name(s->stream_id), Name(s->pattern)});
  if (auto* s = std::get_if<PubSubject>(&frame)) {
    RETURN_IF_ERROR(PutBlock(out, {Name(s->subject)}));
    return EncodePub(s->pub, out);
  }
  if (auto* s = std::get_if<SubSubject>(&frame)) return PutBlock(out, {Name(s->subject), Plain(s->group)});
  if (auto* s = std::get_if<NotLeader>(&frame)) {
    if (s->leader_hint.size() > kMaxVarFieldLen) return TooLong("leader hint");
    PutU8(out, kBodyVersion);
    PutFixed16(out, static_cast<uint16_t>(s->leader_hint.size()));
    PutBytes(out, AsBytes(s->leader_hint));
    return Status::Ok();
  }
  if (auto* s = std::get_if<DeliverBatch>(&frame)) {
    PutU8(out, kBodyVersion);
    PutFixed16(out, static_cast<uint16_t>(kDeliverBatchFieldLen));
    PutFixed64(out, s->first_offset);
    PutFixed64(out, s->generation);
    PutFixed32(out, s->record_count);
    PutBytes(out, s->records);
    return Status::Ok();
  }
  return Status::Internal("not a v2 frame");
}

Result<Frame> DecodeV2(Tag tag, ByteView body, Direction direction, DecodeError* why) {
  BodyReader r(body);
  std::vector<Bytes> f;
  const std::string what = "frame type " + std::to_string(static_cast<int>(tag));
  auto fields = [&](std::initializer_list<size_t> caps) {
    *why = ReadBlock(&r, caps, &f);
    return *why == DecodeError::kNone;
  };
  switch (tag) {
    case Tag::kStreamDeclare:
      if (!fields({kMaxNameLen})) return Malformed(why, *why, what);
      return Frame(StreamDeclare{std::move(f[0])});
    case Tag::kStreamInfo: {
      if (direction == Direction::kToServer) {
        if (!fields({kMaxNameLen})) return Malformed(why, *why, what);
        return Frame(StreamInfoRequest{std::move(f[0])});
      }
      auto block = r.Block();
      if (!block) return Malformed(why, r.error(), what);
      StreamInfoResponse resp;
      resp.exists = block->U8() == 1;  // other values read as 0
      resp.head = block->U64();
      if (!block->ok()) return Malformed(why, block->error(), what);
      return Frame(resp);
    }
    case Tag::kPubTo:
    case Tag::kPubSubject: {
      if (!fields({kMaxNameLen})) return Malformed(why, *why, what);
      const Bytes tail = r.Rest();
      ASSIGN_OR_RETURN(Pub pub, DecodePub(tail, why));
      if (tag == Tag::kPubTo) return Frame(PubTo{std::move(f[0]), std::move(pub)});
      return Frame(PubSubject{std::move(f[0]), std::move(pub)});
    }
    case Tag::kSubTo:
    case Tag::kBindSubject:
    case Tag::kSubSubject: {
      // BindSubject: stream id and pattern, both names. SubTo / SubSubject: a name, then a group.
      const size_t second = tag == Tag::kBindSubject ? kMaxNameLen : kMaxVarFieldLen;
      if (!fields({kMaxNameLen, second})) return Malformed(why, *why, what);
      if (tag == Tag::kSubTo) return Frame(SubTo{std::move(f[0]), std::move(f[1])});
      if (tag == Tag::kBindSubject) return Frame(BindSubject{std::move(f[0]), std::move(f[1])});
      return Frame(SubSubject{std::move(f[0]), std::move(f[1])});
    }
    case Tag::kNotLeader: {
      // The Go reader skips the version byte without checking it, ignores trailing bytes and
      // rejects a non-UTF-8 hint; so do we.
      (void)r.U8();
      Bytes hint = r.Var();
      if (!r.ok()) return Malformed(why, r.error(), "not leader");
      if (!IsValidUtf8(hint)) return Malformed(why, DecodeError::kBadValue, "not leader");
      return Frame(NotLeader{std::string(AsChars(hint))});
    }
    case Tag::kDeliverBatch: {
      auto block = r.Block();
      if (!block) return Malformed(why, r.error(), "deliver batch");
      DeliverBatch b;
      b.first_offset = block->U64();
      b.generation = block->U64();
      b.record_count = block->U32();
      if (!block->ok()) return Malformed(why, block->error(), "deliver batch");
      b.records = r.Rest();
      return Frame(std::move(b));
    }
    default: break;
  }
  return Status::Internal("not a v2 frame");
}

}  // namespace ironbus::protocol::internal
