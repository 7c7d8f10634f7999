// Builders for the conformance fixtures of spec/storage.md 17.1, regenerated from their
// generator inputs so the tests can compare them with the known-answer vectors of 17.2.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "format/record.h"
#include "format/segment.h"

namespace ironbus::format::testing {

inline constexpr uint64_t kCorpusTimestampMs = 1'700'000'000'000;

// pattern(seed, n): byte i = seed XOR (i AND 0xFF).
Bytes Pattern(uint8_t seed, size_t n);
// "42 49 01 ..." (any whitespace) -> bytes. Aborts the test binary on malformed input.
Bytes FromHex(std::string_view hex);
Bytes Encode(const Record& r);

Bytes RecordMinimal();
Bytes RecordKeyOnly();
Bytes RecordKeyHeadersPayload();
Bytes RecordCompressed();
Bytes RecordMaxSize();
Bytes RecordCompressedOverThreshold();
Bytes RecordNewerVersionReject();

SegmentHeader CorpusSegmentHeader();  // id 7, base_seq 100, base_offset 4096
Bytes SegmentHeaderBytes();
Bytes SegmentActiveNoFooter();       // header + 3 records (246 bytes)
Bytes SegmentSealedWithFooter();     // + footer (278 bytes)

}  // namespace ironbus::format::testing
