// Internal: the per-message body codecs the dispatch in codec_frames.cc calls. Every decoder
// takes a non-null `why` and sets it on failure.
#pragma once

#include <string_view>

#include "base/result.h"
#include "protocol/codec.h"
#include "protocol/messages.h"

namespace ironbus::protocol::internal {

Status TooLong(std::string_view what);
// Sets *why = kind and returns InvalidArgument("malformed <what> body").
Status Malformed(DecodeError* why, DecodeError kind, std::string_view what);

// Handshake and producing (codec.cc).
Status EncodeConnect(const Connect& c, Bytes* out);
Result<Frame> DecodeConnect(ByteView body, DecodeError* why);
void EncodeInfo(const Info& i, Bytes* out);
Result<Frame> DecodeInfo(ByteView body, DecodeError* why);
Status EncodePub(const Pub& p, Bytes* out);
Result<Pub> DecodePub(ByteView body, DecodeError* why);

// v2 stream and subject verbs, NotLeader, DeliverBatch (codec_v2.cc).
Status EncodeV2(const Frame& frame, Bytes* out);  // REQUIRES: one of the v2 alternatives
Result<Frame> DecodeV2(Tag tag, ByteView body, Direction direction, DecodeError* why);

}  // namespace ironbus::protocol::internal
