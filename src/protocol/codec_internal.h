// Internal: the per-message body codecs the dispatch in codec_frames.cc calls.
#pragma once

#include "base/result.h"
#include "protocol/messages.h"

namespace ironbus::protocol::internal {

Status TooLong(std::string_view what);

void EncodeConnect(const Connect& c, Bytes* out);
Result<Frame> DecodeConnect(ByteView body);
void EncodeInfo(const Info& i, Bytes* out);
Result<Frame> DecodeInfo(ByteView body);
Status EncodePub(const Pub& p, Bytes* out);
Result<Pub> DecodePub(ByteView body);

// v2 stream and subject verbs (codec_v2.cc).
Status EncodeV2(const Frame& frame, Bytes* out);  // REQUIRES: one of the v2 alternatives
Result<Frame> DecodeV2(Tag tag, ByteView body, bool to_server);

}  // namespace ironbus::protocol::internal
