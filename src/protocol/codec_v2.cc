// v2 stream and subject verbs (spec/protocol.md section 10) and NotLeader (12): versioned
// blocks of var fields; PubTo / PubSubject carry a whole Pub body after the block.
#include "protocol/body_reader.h"
#include "protocol/codec.h"
#include "protocol/codec_internal.h"

namespace ironbus::protocol::internal {
namespace {

// Block of var fields: u8 1 | u16 field_len | var... Names are capped at kMaxNameLen.
Status PutBlock(Bytes* out, std::initializer_list<ByteView> fields) {
  Bytes block;
  for (ByteView f : fields) {
    if (f.size() > kMaxNameLen) return Status::OutOfRange("name longer than 1024 bytes");
    PutVar(&block, f);
  }
  PutU8(out, kBodyVersion);
  PutFixed16(out, static_cast<uint16_t>(block.size()));
  PutBytes(out, block);
  return Status::Ok();
}

// Reads `n` var fields from a block; nullopt when malformed or a name is over the cap.
std::optional<std::vector<Bytes>> ReadBlock(BodyReader* r, int n) {
  auto block = r->Block();
  if (!block) return std::nullopt;
  std::vector<Bytes> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(block->Var());
    if (!block->ok() || out.back().size() > kMaxNameLen) return std::nullopt;
  }
  return out;
}

}  // namespace

Status EncodeV2(const Frame& frame, Bytes* out) {
  if (auto* s = std::get_if<StreamDeclare>(&frame)) return PutBlock(out, {s->stream_id});
  if (auto* s = std::get_if<StreamInfoRequest>(&frame)) return PutBlock(out, {s->stream_id});
  if (auto* s = std::get_if<StreamInfoResponse>(&frame)) {
    PutU8(out, kBodyVersion);
    PutFixed16(out, 9);
    PutU8(out, s->exists ? 1 : 0);
    PutFixed64(out, s->head);
    return Status::Ok();
  }
  if (auto* s = std::get_if<PubTo>(&frame)) {
    RETURN_IF_ERROR(PutBlock(out, {s->stream_id}));
    return EncodePub(s->pub, out);
  }
  if (auto* s = std::get_if<SubTo>(&frame)) return PutBlock(out, {s->stream_id, s->group});
  if (auto* s = std::get_if<BindSubject>(&frame)) return PutBlock(out, {s->stream_id, s->pattern});
  if (auto* s = std::get_if<PubSubject>(&frame)) {
    RETURN_IF_ERROR(PutBlock(out, {s->subject}));
    return EncodePub(s->pub, out);
  }
  if (auto* s = std::get_if<SubSubject>(&frame)) return PutBlock(out, {s->subject, s->group});
  if (auto* s = std::get_if<NotLeader>(&frame)) {
    if (s->leader_hint.size() > kMaxVarFieldLen) return TooLong("leader hint");
    PutU8(out, kBodyVersion);
    PutFixed16(out, static_cast<uint16_t>(s->leader_hint.size()));
    PutBytes(out, AsBytes(s->leader_hint));
    return Status::Ok();
  }
  return Status::Internal("not a v2 frame");
}

Result<Frame> DecodeV2(Tag tag, ByteView body, bool to_server) {
  BodyReader r(body);
  auto malformed = [tag] {
    return Status::InvalidArgument("malformed body for frame type " + std::to_string(static_cast<int>(tag)));
  };
  switch (tag) {
    case Tag::kStreamDeclare: {
      auto f = ReadBlock(&r, 1);
      if (!f) return malformed();
      return Frame(StreamDeclare{std::move((*f)[0])});
    }
    case Tag::kStreamInfo: {
      if (to_server) {
        auto f = ReadBlock(&r, 1);
        if (!f) return malformed();
        return Frame(StreamInfoRequest{std::move((*f)[0])});
      }
      auto block = r.Block();
      if (!block) return malformed();
      StreamInfoResponse resp;
      resp.exists = block->U8() == 1;  // other values read as 0
      resp.head = block->U64();
      if (!block->ok()) return malformed();
      return Frame(resp);
    }
    case Tag::kPubTo:
    case Tag::kPubSubject: {
      auto f = ReadBlock(&r, 1);
      if (!f) return malformed();
      const Bytes tail = r.Rest();
      ASSIGN_OR_RETURN(Pub pub, DecodePub(tail));
      if (tag == Tag::kPubTo) return Frame(PubTo{std::move((*f)[0]), std::move(pub)});
      return Frame(PubSubject{std::move((*f)[0]), std::move(pub)});
    }
    case Tag::kSubTo:
    case Tag::kBindSubject:
    case Tag::kSubSubject: {
      auto f = ReadBlock(&r, 2);
      if (!f) return malformed();
      if (tag == Tag::kSubTo) return Frame(SubTo{std::move((*f)[0]), std::move((*f)[1])});
      if (tag == Tag::kBindSubject) return Frame(BindSubject{std::move((*f)[0]), std::move((*f)[1])});
      return Frame(SubSubject{std::move((*f)[0]), std::move((*f)[1])});
    }
    case Tag::kNotLeader: {
      // The Go reader skips the version byte without checking it; so do we.
      (void)r.U8();
      const uint16_t len = r.U16();
      Bytes hint = r.Raw(len);
      if (!r.ok()) return malformed();
      return Frame(NotLeader{std::string(AsChars(hint))});
    }
    default: break;
  }
  return Status::NotFound(std::string(kTextUnknownFrameType));
}

}  // namespace ironbus::protocol::internal
