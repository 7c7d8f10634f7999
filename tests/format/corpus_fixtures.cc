#include "format/corpus_fixtures.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format::testing {

Bytes Pattern(uint8_t seed, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed ^ (i & 0xFF));
  return out;
}

Bytes FromHex(std::string_view hex) {
  Bytes out;
  int high = -1;
  for (char c : hex) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      std::fprintf(stderr, "FromHex: bad character '%c'\n", c);
      std::abort();
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) {
    std::fprintf(stderr, "FromHex: odd number of digits\n");
    std::abort();
  }
  return out;
}

Bytes Encode(const Record& r) {
  Bytes out;
  const Status s = EncodeRecord(r.view(), &out);
  if (!s.ok()) {
    std::fprintf(stderr, "Encode: %s\n", s.ToString().c_str());
    std::abort();
  }
  return out;
}

namespace {

Record Make(uint64_t seq, uint64_t ts_delta, uint8_t flags, std::string_view key, std::string_view headers,
            Bytes payload) {
  Record r;
  r.seq = seq;
  r.timestamp_ms = kCorpusTimestampMs + ts_delta;
  r.flags = flags;
  r.key = ToBytes(key);
  r.headers = ToBytes(headers);
  r.payload = std::move(payload);
  return r;
}

}  // namespace

Bytes RecordMinimal() { return Encode(Make(1, 0, 0, "", "", ToBytes("x"))); }
Bytes RecordKeyOnly() { return Encode(Make(2, 10, 0, "order-42", "", {})); }
Bytes RecordKeyHeadersPayload() {
  return Encode(Make(3, 20, 0, "k", "content-type=app/json", ToBytes("{\"v\":1}")));
}
Bytes RecordCompressed() { return Encode(Make(4, 30, kFlagCompressed, "ckey", "", Pattern(0xC5, 48))); }
Bytes RecordMaxSize() {
  // Whole frame exactly 16 MiB: header 36 + payload + xxh3 8 + trailer 8.
  const size_t payload = kDefaultMaxRecordBytes - kRecordHeaderSize - kRecordXxh3Size - kRecordTrailerSize;
  return Encode(Make(5, 40, 0, "", "", Pattern(0x5A, payload)));
}
Bytes RecordCompressedOverThreshold() {
  return Encode(Make(6, 50, kFlagCompressed, "big", "", Pattern(0x9E, 65568)));
}
Bytes RecordNewerVersionReject() {
  Bytes b = Encode(Make(9, 60, 0, "k", "", ToBytes("future")));
  b[kRecordOffVersion] = 2;
  EncodeFixed32(b.data() + kRecordOffHeaderCrc, crc32c::Value(b.data(), kRecordHeaderCrcCoverage));
  return b;
}

SegmentHeader CorpusSegmentHeader() {
  SegmentHeader h;
  h.segment_id = 7;
  h.base_seq = 100;
  h.base_offset = 4096;
  h.created_unix_ms = kCorpusTimestampMs;
  return h;
}

Bytes SegmentHeaderBytes() { return EncodeSegmentHeader(CorpusSegmentHeader()); }

Bytes SegmentActiveNoFooter() {
  Bytes seg = SegmentHeaderBytes();
  for (const Record& r : {Make(100, 0, 0, "alpha", "", ToBytes("first-record")),
                          Make(101, 1, 0, "", "h=1", ToBytes("second")),
                          Make(102, 2, kFlagCompressed, "key3", "", ToBytes("third-record-payload"))}) {
    PutBytes(&seg, Encode(r));
  }
  return seg;
}

Bytes SegmentSealedWithFooter() {
  Bytes seg = SegmentActiveNoFooter();
  SegmentFooter f;
  f.segment_id = 7;
  f.last_seq = 102;
  f.record_count = 3;
  PutBytes(&seg, EncodeSegmentFooter(f));
  return seg;
}

}  // namespace ironbus::format::testing
