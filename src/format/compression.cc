// Payload compression (spec/storage.md 5, DESIGN.md D8).
//
// Reading must handle whatever the reference writes (it compresses with lz4 by default), so
// every bound is checked from the 9-byte descriptor before any allocation: a CRC-valid record
// can still carry a hostile uncompressed_len, because the CRC only proves the bytes are the
// ones the producer sent.
//
// Writing is conservative (D8): only payloads from 1 KiB, never above the 8 MiB cap every
// reader enforces, and only when descriptor + block is strictly shorter than the raw bytes.

#include "format/compression.h"

#include <lz4.h>

#include <climits>
#include <cstring>

#include "format/record_format.h"

namespace ironbus::format {
namespace {

constexpr size_t kDescOffCodec = 0;
constexpr size_t kDescOffDictId = 1;
constexpr size_t kDescOffUncompressedLen = 5;
static_assert(kDescOffUncompressedLen + 4 == kCompressionDescriptorSize);

void PutDescriptor(uint8_t* dst, uint8_t codec, uint32_t uncompressed_len) {
  dst[kDescOffCodec] = codec;
  EncodeFixed32(dst + kDescOffDictId, 0);  // lz4 never uses a dictionary
  EncodeFixed32(dst + kDescOffUncompressedLen, uncompressed_len);
}

}  // namespace

std::string_view DecompressErrorName(DecompressError e) {
  switch (e) {
    case DecompressError::kOk: return "Ok";
    case DecompressError::kTruncatedDescriptor: return "TruncatedDescriptor";
    case DecompressError::kUnknownCodec: return "PoisonUnknownCodec";
    case DecompressError::kUnresolvedDict: return "PoisonUnresolvedDict";
    case DecompressError::kDecompressedTooLarge: return "DecompressedTooLarge";
    case DecompressError::kCorruptStream: return "CorruptStream";
    case DecompressError::kBadRawLength: return "BadRawLength";
  }
  return "Unknown";
}

std::optional<Bytes> MaybeCompress(ByteView payload, Compression mode) {
  if (mode != Compression::kLz4) return std::nullopt;
  if (payload.size() < kCompressMinPayloadBytes || payload.size() > kMaxDecompressedBytes) return std::nullopt;
  // Give lz4 exactly the room that would still be a strict saving; it returns 0 when the block
  // does not fit, which is the "store raw" answer without a second size comparison.
  const size_t limit = payload.size() - kCompressionDescriptorSize - 1;
  Bytes out(kCompressionDescriptorSize + limit);
  const int written =
      LZ4_compress_default(reinterpret_cast<const char*>(payload.data()),
                           reinterpret_cast<char*>(out.data() + kCompressionDescriptorSize),
                           static_cast<int>(payload.size()), static_cast<int>(limit));
  if (written <= 0) return std::nullopt;
  PutDescriptor(out.data(), kCodecLz4, static_cast<uint32_t>(payload.size()));
  out.resize(kCompressionDescriptorSize + static_cast<size_t>(written));
  return out;
}

DecompressError ParseDescriptor(ByteView stored, DescriptorInfo* out) {
  if (stored.size() < kCompressionDescriptorSize) return DecompressError::kTruncatedDescriptor;
  out->codec = stored[kDescOffCodec];
  out->dict_id = DecodeFixed32(stored.data() + kDescOffDictId);
  out->uncompressed_len = DecodeFixed32(stored.data() + kDescOffUncompressedLen);
  // zstd (codec 2) is registered in the id space but not built here: POISON, exactly as a
  // default reference build treats it.
  if (out->codec != kCodecNone && out->codec != kCodecLz4) return DecompressError::kUnknownCodec;
  // No dictionary store in this build, so any dictionary id is unresolvable.
  if (out->dict_id != 0) return DecompressError::kUnresolvedDict;
  if (out->uncompressed_len > kMaxDecompressedBytes) return DecompressError::kDecompressedTooLarge;
  return DecompressError::kOk;
}

DecompressError Decompress(ByteView stored, Bytes* out) {
  out->clear();
  DescriptorInfo info;
  const DecompressError e = ParseDescriptor(stored, &info);
  if (e != DecompressError::kOk) return e;
  const ByteView stream = stored.subspan(kCompressionDescriptorSize);
  if (info.codec == kCodecNone) {
    if (stream.size() != info.uncompressed_len) return DecompressError::kBadRawLength;
    out->assign(stream.begin(), stream.end());
    return DecompressError::kOk;
  }
  // lz4: a raw block whose output must fill exactly uncompressed_len (bounded above).
  if (stream.size() > static_cast<size_t>(INT_MAX)) return DecompressError::kCorruptStream;
  out->resize(info.uncompressed_len);
  const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(stream.data()), reinterpret_cast<char*>(out->data()),
                                    static_cast<int>(stream.size()), static_cast<int>(info.uncompressed_len));
  if (n < 0 || static_cast<uint32_t>(n) != info.uncompressed_len) {
    out->clear();
    return DecompressError::kCorruptStream;
  }
  return DecompressError::kOk;
}

bool IsWellFormedCompressedPayload(ByteView stored) {
  // Shape only, no decompression (spec 5.2): codec registered, claim within the cap, raw
  // length exact, compressed stream non-empty. Dictionary ids are a read-time concern.
  if (stored.size() < kCompressionDescriptorSize) return false;
  const uint8_t codec = stored[kDescOffCodec];
  const uint32_t claim = DecodeFixed32(stored.data() + kDescOffUncompressedLen);
  const size_t stream_len = stored.size() - kCompressionDescriptorSize;
  if (claim > kMaxDecompressedBytes) return false;
  switch (codec) {
    case kCodecNone: return stream_len == claim;
    case kCodecLz4:
    case kCodecZstd: return stream_len > 0;
    default: return false;
  }
}

}  // namespace ironbus::format
