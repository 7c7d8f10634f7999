// Replays every golden vector of the reference (tests/protocol/wire_golden_vectors.json, a copy
// of shared/vectors): decode the frame, compare every field, and re-encode byte for byte.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "format/compression.h"
#include "protocol/codec.h"
#include "protocol/frame_decoder.h"
#include "protocol/wire_format.h"

namespace ironbus::protocol {
namespace {

using nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Bytes FromHex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string Hex(const Bytes& b) { return HexEncode(b); }
std::string U64(uint64_t v) { return std::to_string(v); }

json PubFields(const Pub& p) {
  json dedup = nullptr;
  if (p.dedup) {
    dedup = {{"producer_id_hex", Hex(p.dedup->producer_id)},
             {"epoch", U64(p.dedup->epoch)},
             {"msg_id_hex", Hex(p.dedup->msg_id)},
             {"seq", p.dedup->seq ? json(U64(*p.dedup->seq)) : json(nullptr)}};
  }
  return {{"flags", p.flags},
          {"timestamp_ms", U64(p.timestamp_ms)},
          {"key_hex", Hex(p.key)},
          {"headers_hex", Hex(p.headers)},
          {"fire_and_forget", p.fire_and_forget()},
          {"ack_level", p.ack_level()},
          {"dedup", dedup},
          {"payload_hex", Hex(p.payload)}};
}

Bytes PubBody(const Pub& p) {
  Bytes out;
  EXPECT_TRUE(EncodePubBody(p, &out).ok());
  return out;
}

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// The decoded frame in the vectors' field conventions: u64 as decimal strings, bytes as hex.
json Fields(const Frame& frame) {
  if (auto* c = std::get_if<Connect>(&frame)) {
    return {{"requested_credit", Opt(c->requested_credit)},
            {"requested_credit_bytes", c->requested_credit_bytes ? json(U64(*c->requested_credit_bytes)) : json(nullptr)},
            {"wants_gap_marker", c->wants_gap_marker},
            {"default_ack_level", Opt(c->default_ack_level)},
            {"understands_streaming", c->understands_streaming},
            {"default_tier", Opt(c->default_tier)},
            {"understands_deliver_batch", c->understands_deliver_batch},
            {"understands_streams", c->understands_streams},
            {"auth_mechanism", c->auth ? json(c->auth->mechanism) : json(nullptr)},
            {"auth_material_hex", c->auth ? json(Hex(c->auth->material)) : json(nullptr)}};
  }
  if (auto* i = std::get_if<Info>(&frame)) {
    json credit = nullptr, credit_bytes = nullptr;
    if (i->credit) credit = {{"negotiated", i->credit->negotiated}, {"cap", i->credit->cap}};
    if (i->credit_bytes) {
      credit_bytes = {{"negotiated", U64(i->credit_bytes->negotiated)}, {"cap", U64(i->credit_bytes->cap)}};
    }
    return {{"credit", credit},           {"credit_bytes", credit_bytes},
            {"gap_marker", i->gap_marker}, {"default_ack_level", Opt(i->default_ack_level)},
            {"streaming", i->streaming},   {"default_tier", Opt(i->default_tier)},
            {"deliver_batch", i->deliver_batch}, {"streams", i->streams}};
  }
  if (auto* p = std::get_if<Pub>(&frame)) return PubFields(*p);
  if (auto* a = std::get_if<PubAck>(&frame)) return {{"offset", U64(a->offset)}};
  if (auto* a = std::get_if<PubAckDuplicate>(&frame)) return {{"offset", U64(a->offset)}};
  if (auto* s = std::get_if<Sub>(&frame)) return {{"group_hex", Hex(s->group)}};
  if (auto* a = std::get_if<Ack>(&frame)) {
    return {{"op", a->op}, {"offset", U64(a->offset)}, {"generation", U64(a->generation)}, {"delay_ms", U64(a->delay_ms)}};
  }
  if (auto* s = std::get_if<AckStatus>(&frame)) return {{"status", s->status}};
  if (auto* f = std::get_if<Fetch>(&frame)) {
    return {{"max_records", f->max_records},
            {"max_bytes", U64(f->max_bytes)},
            {"expires_ms", U64(f->expires_ms)},
            {"no_wait", f->no_wait}};
  }
  if (auto* d = std::get_if<Deliver>(&frame)) {
    json uncompressed = nullptr;
    if (d->flags & kPubFlagCompressed) {
      Bytes out;
      if (format::Decompress(d->payload, &out) == format::DecompressError::kOk) uncompressed = Hex(out);
    }
    return {{"offset", U64(d->offset)},         {"generation", U64(d->generation)}, {"flags", d->flags},
            {"timestamp_ms", U64(d->timestamp_ms)}, {"key_hex", Hex(d->key)},     {"headers_hex", Hex(d->headers)},
            {"payload_hex", Hex(d->payload)},   {"payload_uncompressed_hex", uncompressed}};
  }
  if (auto* f = std::get_if<Flow>(&frame)) return {{"credit", f->credit}};
  if (auto* f = std::get_if<FlowEnd>(&frame)) return {{"count", f->count}};
  if (auto* c = std::get_if<CumulativeAck>(&frame)) return {{"up_to", U64(c->up_to)}, {"group_hex", Hex(c->group)}};
  if (auto* d = std::get_if<DeadLetter>(&frame)) return {{"offset", U64(d->offset)}, {"reason", d->reason}};
  if (auto* t = std::get_if<Truncated>(&frame)) {
    return {{"earliest_retained", U64(t->earliest_retained)}, {"skipped", U64(t->skipped)}};
  }
  if (auto* g = std::get_if<GapMarker>(&frame)) {
    return {{"from", U64(g->from)}, {"to", U64(g->to)}, {"bytes_skipped", U64(g->bytes_skipped)}, {"reason", g->reason}};
  }
  if (auto* s = std::get_if<StreamDeclare>(&frame)) return {{"stream_id_hex", Hex(s->stream_id)}};
  if (auto* s = std::get_if<StreamInfoRequest>(&frame)) return {{"stream_id_hex", Hex(s->stream_id)}};
  if (auto* s = std::get_if<StreamInfoResponse>(&frame)) return {{"exists", s->exists}, {"head", U64(s->head)}};
  if (auto* s = std::get_if<PubTo>(&frame)) return {{"stream_id_hex", Hex(s->stream_id)}, {"pub_body_hex", Hex(PubBody(s->pub))}};
  if (auto* s = std::get_if<SubTo>(&frame)) return {{"stream_id_hex", Hex(s->stream_id)}, {"group_hex", Hex(s->group)}};
  if (auto* s = std::get_if<BindSubject>(&frame)) {
    return {{"stream_id_hex", Hex(s->stream_id)}, {"pattern_hex", Hex(s->pattern)}};
  }
  if (auto* s = std::get_if<PubSubject>(&frame)) {
    return {{"subject_hex", Hex(s->subject)}, {"pub_body_hex", Hex(PubBody(s->pub))}};
  }
  if (auto* s = std::get_if<SubSubject>(&frame)) return {{"subject_hex", Hex(s->subject)}, {"group_hex", Hex(s->group)}};
  if (auto* n = std::get_if<NotLeader>(&frame)) return {{"leader_hint", n->leader_hint}};
  if (auto* e = std::get_if<Err>(&frame)) return {{"code", e->code}, {"message", e->message}};
  return json::object();  // Ping, Pong, Ok, Unsub
}

// The receiving side of a vector: the sender column of section 4, and for the two-way tags the
// kind (tag 29 is a request or a response; Ping decodes either way).
Direction DirectionOf(const std::string& kind, uint8_t tag) {
  switch (SenderOf(tag)) {
    case Sender::kServer: return Direction::kToClient;
    case Sender::kEither: return kind == "stream_info_response" ? Direction::kToClient : Direction::kToServer;
    default: return Direction::kToServer;
  }
}

json LoadVectors() {
  const std::string path = std::string(IRONBUS_SOURCE_DIR) + "/tests/protocol/wire_golden_vectors.json";
  const std::string text = ReadFile(path);
  EXPECT_FALSE(text.empty()) << path;
  return json::parse(text);
}

TEST(GoldenVectors, CopyMatchesTheSharedVectorsWhenPresent) {
  const std::string shared = std::string(IRONBUS_SOURCE_DIR) + "/../shared/vectors/wire_golden_vectors.json";
  if (!std::filesystem::exists(shared)) return;  // only the in-repo copy is available here
  EXPECT_EQ(ReadFile(shared), ReadFile(std::string(IRONBUS_SOURCE_DIR) + "/tests/protocol/wire_golden_vectors.json"));
}

TEST(GoldenVectors, EveryVectorDecodesToItsFieldsAndReencodesByteForByte) {
  const json vectors = LoadVectors();
  ASSERT_EQ(vectors.size(), 47u) << "the reference ships 47 vectors";
  int reencoded = 0;
  for (const auto& v : vectors) {
    const std::string name = v["name"];
    SCOPED_TRACE(name);
    const Bytes wire = FromHex(v["frame_hex"]);
    FrameDecoder decoder;
    decoder.Feed(wire);
    RawFrame raw;
    ASSERT_EQ(decoder.Next(&raw), FrameDecoder::State::kFrame);
    EXPECT_EQ(raw.tag, v["tag"].get<int>());
    EXPECT_EQ(decoder.buffered(), 0u) << "the vector is exactly one frame";
    DecodeError why = DecodeError::kUnknownTag;
    auto frame = DecodeBody(raw.tag, raw.body, DirectionOf(v["kind"], raw.tag), &why);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ(why, DecodeError::kNone);
    EXPECT_EQ(static_cast<uint8_t>(TagOf(*frame)), raw.tag);
    EXPECT_EQ(Fields(*frame), v["fields"]);
    if (v["reencode"].get<bool>()) {
      auto encoded = EncodeFrame(*frame);
      ASSERT_TRUE(encoded.ok());
      EXPECT_EQ(Hex(*encoded), v["frame_hex"].get<std::string>());
      ++reencoded;
    }
  }
  EXPECT_EQ(reencoded, 46) << "every vector but info_empty_old_server re-encodes";
}

TEST(GoldenVectors, EachVectorAlsoDecodesWhenFedOneByteAtATime) {
  const json vectors = LoadVectors();
  ASSERT_EQ(vectors.size(), 47u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const Bytes wire = FromHex(v["frame_hex"]);
    FrameDecoder decoder;
    RawFrame raw;
    for (size_t i = 0; i + 1 < wire.size(); ++i) {
      decoder.Feed(ByteView(wire.data() + i, 1));
      ASSERT_EQ(decoder.Next(&raw), FrameDecoder::State::kNeedMore) << "a frame completed early at byte " << i;
    }
    decoder.Feed(ByteView(wire.data() + wire.size() - 1, 1));
    ASSERT_EQ(decoder.Next(&raw), FrameDecoder::State::kFrame);
    EXPECT_EQ(5 + raw.body.size(), wire.size());
  }
}

TEST(GoldenVectors, NamesAreUniqueAndEveryKindIsCovered) {
  const json vectors = LoadVectors();
  std::set<std::string> names, kinds;
  for (const auto& v : vectors) {
    EXPECT_TRUE(names.insert(v["name"].get<std::string>()).second) << v["name"];
    kinds.insert(v["kind"].get<std::string>());
  }
  // The 26 body codecs the spec lists for the vectors.
  EXPECT_EQ(kinds.size(), 26u);
}

TEST(GoldenVectors, TheSpecsHandshakeExamplesAreByteExact) {
  // Section 5.1: the Go SDK's default Connect (gap marker + streams, nothing appended).
  Connect connect;
  connect.wants_gap_marker = true;
  connect.understands_streams = true;
  EXPECT_EQ(Hex(*EncodeFrame(Frame(connect))), "110000000101" "0d00" "84" "00000000" "0000000000000000");
  // Section 5.2: a reply to it (credit 64/64, 8 MiB/8 MiB, gap marker and streams confirmed).
  Info info;
  info.credit = Advert<uint32_t>{64, 64};
  info.credit_bytes = Advert<uint64_t>{8u << 20, 8u << 20};
  info.gap_marker = true;
  info.streams = true;
  EXPECT_EQ(Hex(*EncodeFrame(Frame(info))),
            "1d0000000201" "1900" "87" "40000000" "40000000" "0000800000000000" "0000800000000000");
  // Section 5.3: Authorization Violation is the uncoded 23-byte text.
  EXPECT_EQ(Hex(*EncodeFrame(Frame(Err{"", std::string(kTextAuthorizationViolation)}))),
            "180000000c" + HexEncode(AsBytes(kTextAuthorizationViolation)));
}

}  // namespace
}  // namespace ironbus::protocol
