// Payload compression descriptor (spec/storage.md section 5; DESIGN.md D8).
// Stored payload when COMPRESSED: codec u8 | dict_id u32 | uncompressed_len u32 | stream.
// lz4 stream = one raw LZ4 block (no frame header, no size prefix).
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"

namespace ironbus::format {

enum class Compression : uint8_t { kNone, kLz4 };

// Writer rule (D8): with kLz4 and a payload of at least kCompressMinPayloadBytes and at most
// kMaxDecompressedBytes, returns descriptor + lz4 block when strictly shorter than the raw
// payload; otherwise nullopt (store raw, flag clear).
std::optional<Bytes> MaybeCompress(ByteView payload, Compression mode);

enum class DecompressError : uint8_t {
  kOk = 0,
  kTruncatedDescriptor,
  kUnknownCodec,        // POISON (includes zstd in this build)
  kUnresolvedDict,      // POISON, loss reason UnresolvedDictId
  kDecompressedTooLarge,
  kCorruptStream,
  kBadRawLength,
};
std::string_view DecompressErrorName(DecompressError e);

struct DescriptorInfo {
  uint8_t codec = 0;
  uint32_t dict_id = 0;
  uint32_t uncompressed_len = 0;
};
// Parses the 9-byte descriptor (no decompression).
DecompressError ParseDescriptor(ByteView stored, DescriptorInfo* out);
// Decompresses a stored COMPRESSED payload; refuses uncompressed_len > 8 MiB before allocating.
DecompressError Decompress(ByteView stored, Bytes* out);
// Produce-time shape check of a producer-supplied compressed payload (spec 5.2).
bool IsWellFormedCompressedPayload(ByteView stored);

}  // namespace ironbus::format
