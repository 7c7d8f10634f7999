// Record frame codec. The decoder follows spec/storage.md 3.8 step by step because the step
// that fails decides the error, and recovery turns the error into a loss reason: a frame whose
// header is damaged must never be reported as a torn tail, and a damaged body must report
// BadBodyCrc rather than BadXxh3 (CRC32C always runs first).
//
// Lengths are summed in 64 bits and checked against the 1 GiB ceiling before anything trusts
// them, so a damaged length can neither overflow the sum nor make a caller allocate.

#include "format/record.h"

#include <xxhash.h>

#include <limits>
#include <string>

#include <openssl/crypto.h>

#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

constexpr uint8_t kDerivedFlags = kFlagHasKey | kFlagHasXxh3 | kFlagHasSubject | kFlagHasStreamTag | kFlagEncrypted;

// Size of a present subject / stream-tag field: len u16 | bytes | CRC32C u32.
constexpr uint64_t TaggedFieldSize(uint64_t len) { return kTaggedFieldLenSize + len + kTaggedFieldCrcSize; }

// Frame length from the fields a header states, in 64 bits (spec 3.3). `tagged_len` is the
// subject or stream-tag length, used only when one of those bits is set.
uint64_t ComputeTotal(uint8_t flags, uint64_t key_len, uint64_t hdr_len, uint64_t payload_len,
                      uint64_t tagged_len) {
  uint64_t total = kRecordHeaderSize + key_len + hdr_len + payload_len + kRecordTrailerSize;
  if (flags & (kFlagHasSubject | kFlagHasStreamTag)) total += TaggedFieldSize(tagged_len);
  if (flags & kFlagHasXxh3) total += kRecordXxh3Size;
  if (flags & kFlagEncrypted) total += kAeadTagSize;  // plaintext lengths + the tag (security.md 5.3)
  return total;
}

// Steps 1-7 of spec 3.8 on the start of `in`. On kOk also reports the tagged-field length.
struct HeaderProbe {
  ProbeResult result;
  uint16_t tagged_len = 0;
};

HeaderProbe ProbeHeader(ByteView in) {
  HeaderProbe p;
  // Step 1. Fewer than 36 bytes: a writer that crashed mid-header leaves exactly this, so it is
  // "need more bytes", never corruption.
  if (in.size() < kRecordHeaderSize) {
    p.result.outcome = ParseOutcome::kTruncated;
    return p;
  }
  const uint8_t* h = in.data();
  // Step 2. An all-zero region (preallocated or zero-filled tail) fails here.
  if (DecodeFixed16(h + kRecordOffMagic) != kRecordMagic) {
    p.result.outcome = ParseOutcome::kBadMagic;
    return p;
  }
  // Step 3. Newer versions are refused too: their layout is unknown to this reader.
  p.result.version = h[kRecordOffVersion];
  if (p.result.version != kRecordVersion) {
    p.result.outcome = ParseOutcome::kUnsupportedVersion;
    return p;
  }
  // Step 4. Nothing below trusts flags or lengths until the header CRC vouches for them.
  if (crc32c::Value(h, kRecordHeaderCrcCoverage) != DecodeFixed32(h + kRecordOffHeaderCrc)) {
    p.result.outcome = ParseOutcome::kBadHeaderCrc;
    return p;
  }
  const uint8_t flags = h[kRecordOffFlags];
  const bool has_subject = (flags & kFlagHasSubject) != 0;
  const bool has_tag = (flags & kFlagHasStreamTag) != 0;
  // Step 5. The two v2 fields share position 36; both at once cannot be sized.
  if (has_subject && has_tag) {
    p.result.outcome = ParseOutcome::kBadLength;
    return p;
  }
  // Step 6. The tagged field's length sits right after the header.
  if (has_subject || has_tag) {
    if (in.size() < kRecordHeaderSize + kTaggedFieldLenSize) {
      p.result.outcome = ParseOutcome::kTruncated;
      return p;
    }
    p.tagged_len = DecodeFixed16(h + kRecordHeaderSize);
    if (p.tagged_len == 0) {
      p.result.outcome = ParseOutcome::kBadLength;
      return p;
    }
  }
  // Step 7. Three u32 lengths plus fixed parts cannot overflow u64.
  const uint64_t total =
      ComputeTotal(flags, DecodeFixed32(h + kRecordOffKeyLen), DecodeFixed32(h + kRecordOffHdrLen),
                   DecodeFixed32(h + kRecordOffPayloadLen), p.tagged_len);
  if (total > kMaxRecordBytesCeiling) {
    p.result.outcome = ParseOutcome::kTooLarge;
    return p;
  }
  p.result.total_len = total;
  return p;
}

uint64_t Xxh3(const uint8_t* data, size_t n) { return XXH3_64bits(data, n); }

}  // namespace

std::string_view ParseOutcomeName(ParseOutcome outcome) {
  switch (outcome) {
    case ParseOutcome::kOk: return "Ok";
    case ParseOutcome::kTruncated: return "Truncated";
    case ParseOutcome::kBadMagic: return "BadMagic";
    case ParseOutcome::kUnsupportedVersion: return "UnsupportedVersion";
    case ParseOutcome::kBadHeaderCrc: return "BadHeaderCrc";
    case ParseOutcome::kBadLength: return "BadLength";
    case ParseOutcome::kTooLarge: return "TooLarge";
    case ParseOutcome::kBadSubjectCrc: return "BadSubjectCrc";
    case ParseOutcome::kBadStreamTagCrc: return "BadStreamTagCrc";
    case ParseOutcome::kBadBodyCrc: return "BadBodyCrc";
    case ParseOutcome::kBadXxh3: return "BadXxh3";
  }
  return "Unknown";
}

bool IsHeaderOutcome(ParseOutcome outcome) {
  // kBadLength is deliberately absent: the probe reports it for steps 5-6 and the full decode
  // for steps 9 and 11. Recovery runs the probe first (spec 6.2), so it classifies a probe
  // failure as a header failure by where it came from, not by this function.
  switch (outcome) {
    case ParseOutcome::kBadMagic:
    case ParseOutcome::kUnsupportedVersion:
    case ParseOutcome::kBadHeaderCrc:
    case ParseOutcome::kTooLarge:
      return true;
    default:
      return false;
  }
}

Record Record::FromView(const RecordView& v) {
  Record r;
  r.flags = v.flags;
  r.seq = v.seq;
  r.timestamp_ms = v.timestamp_ms;
  r.key.assign(v.key.begin(), v.key.end());
  r.headers.assign(v.headers.begin(), v.headers.end());
  r.payload.assign(v.payload.begin(), v.payload.end());
  if (v.subject) r.subject = Bytes(v.subject->begin(), v.subject->end());
  if (v.stream_tag) r.stream_tag = Bytes(v.stream_tag->begin(), v.stream_tag->end());
  return r;
}

RecordView Record::view() const {
  RecordView v;
  v.flags = flags;
  v.seq = seq;
  v.timestamp_ms = timestamp_ms;
  v.key = key;
  v.headers = headers;
  v.payload = payload;
  if (subject) v.subject = ByteView(*subject);
  if (stream_tag) v.stream_tag = ByteView(*stream_tag);
  return v;
}

Result<uint64_t> EncodedRecordSize(const RecordView& record, bool encrypted) {
  constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
  if (record.key.size() > kU32Max || record.headers.size() > kU32Max || record.payload.size() > kU32Max) {
    return Status::InvalidArgument("record key, headers or payload longer than a u32 length field");
  }
  if (record.subject && record.stream_tag) {
    return Status::InvalidArgument("record has both a subject and a stream tag");
  }
  const std::optional<ByteView>& tagged = record.subject ? record.subject : record.stream_tag;
  uint8_t flags = 0;
  uint64_t tagged_len = 0;
  if (tagged) {
    if (tagged->empty()) return Status::InvalidArgument("record subject or stream tag is empty");
    if (tagged->size() > std::numeric_limits<uint16_t>::max()) {
      return Status::InvalidArgument("record subject or stream tag longer than a u16 length field");
    }
    flags |= record.subject ? kFlagHasSubject : kFlagHasStreamTag;
    tagged_len = tagged->size();
  }
  const uint64_t body = uint64_t{record.key.size()} + record.headers.size() + record.payload.size();
  if (body >= kXxh3BodyThreshold) flags |= kFlagHasXxh3;
  if (encrypted) flags |= kFlagEncrypted;
  const uint64_t total =
      ComputeTotal(flags, record.key.size(), record.headers.size(), record.payload.size(), tagged_len);
  if (total > kMaxRecordBytesCeiling) {
    return Status::OutOfRange("record frame of " + std::to_string(total) + " bytes exceeds the 1 GiB ceiling");
  }
  return total;
}

Status EncodeRecord(const RecordView& record, Bytes* out, const RecordCipher* cipher) {
  // Rule 1: every refusal happens before *out is touched.
  if (cipher != nullptr && (AeadSuiteFromId(static_cast<uint8_t>(cipher->suite)) == std::nullopt ||
                            cipher->key == nullptr)) {
    return Status::InvalidArgument("record cipher without a suite or key");
  }
  ASSIGN_OR_RETURN(const uint64_t total, EncodedRecordSize(record, cipher != nullptr));

  // Rule 2: derived bits are recomputed; COMPRESSED and unknown bits pass through.
  const uint64_t body_len = uint64_t{record.key.size()} + record.headers.size() + record.payload.size();
  uint8_t flags = record.flags & static_cast<uint8_t>(~kDerivedFlags);
  if (!record.key.empty()) flags |= kFlagHasKey;
  if (body_len >= kXxh3BodyThreshold) flags |= kFlagHasXxh3;
  if (record.subject) flags |= kFlagHasSubject;
  if (record.stream_tag) flags |= kFlagHasStreamTag;
  if (cipher != nullptr) flags |= kFlagEncrypted;

  const size_t start = out->size();
  out->reserve(start + total);

  // Rule 3: the header and its CRC.
  uint8_t h[kRecordHeaderSize];
  EncodeFixed16(h + kRecordOffMagic, kRecordMagic);
  h[kRecordOffVersion] = kRecordVersion;
  h[kRecordOffFlags] = flags;
  EncodeFixed64(h + kRecordOffSeq, record.seq);
  EncodeFixed64(h + kRecordOffTimestamp, record.timestamp_ms);
  EncodeFixed32(h + kRecordOffKeyLen, static_cast<uint32_t>(record.key.size()));
  EncodeFixed32(h + kRecordOffHdrLen, static_cast<uint32_t>(record.headers.size()));
  EncodeFixed32(h + kRecordOffPayloadLen, static_cast<uint32_t>(record.payload.size()));
  EncodeFixed32(h + kRecordOffHeaderCrc, crc32c::Value(h, kRecordHeaderCrcCoverage));
  out->insert(out->end(), h, h + kRecordHeaderSize);

  // v2 field (never produced by this build's broker, but the codec stays symmetric).
  const std::optional<ByteView>& tagged = record.subject ? record.subject : record.stream_tag;
  if (tagged) {
    const size_t field_start = out->size();
    PutFixed16(out, static_cast<uint16_t>(tagged->size()));
    PutBytes(out, *tagged);
    const uint32_t field_crc = crc32c::Value(out->data() + field_start, out->size() - field_start);
    PutFixed32(out, field_crc);
  }

  // Rule 4: body, optional xxh3, trailer. Both checksums run over the contiguous copy.
  const size_t body_start = out->size();
  PutBytes(out, record.key);
  PutBytes(out, record.headers);
  PutBytes(out, record.payload);
  uint64_t stored_body_len = body_len;
  if (cipher != nullptr) {
    // Seal in place: the plaintext body just written becomes ciphertext, the tag follows it.
    out->resize(out->size() + kAeadTagSize);
    uint8_t nonce[kAeadNonceSize];
    BuildAeadNonce(cipher->segment_id, cipher->record_counter, nonce);
    uint8_t* at = out->data() + body_start;
    Status sealed = AeadSeal(cipher->suite, cipher->key, nonce, ByteView(at, body_len), at);
    if (!sealed.ok()) {
      // Never leave plaintext behind in the caller's buffer.
      OPENSSL_cleanse(at, body_len);
      out->resize(start);
      return sealed;
    }
    stored_body_len += kAeadTagSize;
  }
  const uint8_t* body = out->data() + body_start;
  const uint32_t body_crc = crc32c::Value(body, stored_body_len);
  if (flags & kFlagHasXxh3) PutFixed64(out, Xxh3(body, stored_body_len));
  PutFixed32(out, body_crc);
  PutFixed32(out, static_cast<uint32_t>(total));
  CHECK(out->size() - start == total, "encoded record length disagrees with EncodedRecordSize");
  return Status::Ok();
}

ProbeResult ProbeRecord(ByteView prefix) { return ProbeHeader(prefix).result; }

DecodeResult DecodeRecord(ByteView in, RecordView* out) {
  DecodeResult r;
  const HeaderProbe probe = ProbeHeader(in);  // steps 1-7
  r.version = probe.result.version;
  if (probe.result.outcome != ParseOutcome::kOk) {
    r.outcome = probe.result.outcome;
    return r;
  }
  const uint64_t total = probe.result.total_len;
  // Step 8. The header is intact and promises more bytes than exist: a torn frame.
  if (in.size() < total) {
    r.outcome = ParseOutcome::kTruncated;
    return r;
  }
  const uint8_t* h = in.data();
  const uint8_t flags = h[kRecordOffFlags];
  const uint32_t key_len = DecodeFixed32(h + kRecordOffKeyLen);
  const uint32_t hdr_len = DecodeFixed32(h + kRecordOffHdrLen);
  const uint32_t payload_len = DecodeFixed32(h + kRecordOffPayloadLen);
  const uint64_t body_len = uint64_t{key_len} + hdr_len + payload_len;

  // Step 9. Derived bits must agree with the lengths they summarise.
  if (((flags & kFlagHasKey) != 0) != (key_len != 0) ||
      ((flags & kFlagHasXxh3) != 0) != (body_len >= kXxh3BodyThreshold)) {
    r.outcome = ParseOutcome::kBadLength;
    return r;
  }

  // Step 10. The tagged field's own CRC covers its length and bytes.
  size_t pos = kRecordHeaderSize;
  std::optional<ByteView> tagged;
  if (flags & (kFlagHasSubject | kFlagHasStreamTag)) {
    const size_t covered = kTaggedFieldLenSize + probe.tagged_len;
    const uint32_t stored = DecodeFixed32(h + pos + covered);
    if (crc32c::Value(h + pos, covered) != stored) {
      r.outcome = (flags & kFlagHasStreamTag) ? ParseOutcome::kBadStreamTagCrc : ParseOutcome::kBadSubjectCrc;
      return r;
    }
    tagged = in.subspan(pos + kTaggedFieldLenSize, probe.tagged_len);
    pos += TaggedFieldSize(probe.tagged_len);
  }

  // Step 11. The stored total is the last 4 bytes of the frame as the header sizes it.
  if (DecodeFixed32(h + total - kRecordLengthFieldSize) != total) {
    r.outcome = ParseOutcome::kBadLength;
    return r;
  }

  // Step 12, then 13: CRC32C before xxh3, so body damage is always BadBodyCrc.
  // An encrypted body is ciphertext || tag; both checksums cover all of it (security.md 5.5).
  const bool encrypted = (flags & kFlagEncrypted) != 0;
  const uint64_t stored_body_len = body_len + (encrypted ? kAeadTagSize : 0);
  const uint8_t* body = h + pos;
  const uint8_t* after_body = body + stored_body_len;
  const uint32_t stored_body_crc = DecodeFixed32(h + total - kRecordTrailerSize);
  if (crc32c::Value(body, stored_body_len) != stored_body_crc) {
    r.outcome = ParseOutcome::kBadBodyCrc;
    return r;
  }
  if ((flags & kFlagHasXxh3) && Xxh3(body, stored_body_len) != DecodeFixed64(after_body)) {
    r.outcome = ParseOutcome::kBadXxh3;
    return r;
  }

  out->flags = flags;
  out->seq = DecodeFixed64(h + kRecordOffSeq);
  out->timestamp_ms = DecodeFixed64(h + kRecordOffTimestamp);
  out->sealed.reset();
  if (encrypted) {
    out->key = ByteView();
    out->headers = ByteView();
    out->payload = ByteView();
    out->sealed = RecordView::Sealed{in.subspan(pos, stored_body_len), key_len, hdr_len, payload_len};
  } else {
    out->key = in.subspan(pos, key_len);
    out->headers = in.subspan(pos + key_len, hdr_len);
    out->payload = in.subspan(pos + key_len + hdr_len, payload_len);
  }
  out->subject.reset();
  out->stream_tag.reset();
  if (flags & kFlagHasSubject) out->subject = tagged;
  if (flags & kFlagHasStreamTag) out->stream_tag = tagged;
  r.frame_len = total;
  return r;
}

bool OpenRecord(const RecordView& sealed_view, const RecordCipher& cipher, Bytes* plain, RecordView* out) {
  if (!sealed_view.sealed || cipher.key == nullptr) return false;
  const RecordView::Sealed& s = *sealed_view.sealed;
  const uint64_t body_len = uint64_t{s.key_len} + s.hdr_len + s.payload_len;
  if (s.bytes.size() != body_len + kAeadTagSize) return false;
  uint8_t nonce[kAeadNonceSize];
  BuildAeadNonce(cipher.segment_id, cipher.record_counter, nonce);
  if (!plain->empty()) OPENSSL_cleanse(plain->data(), plain->size());  // the previous record's plaintext
  plain->resize(body_len);
  if (!AeadOpen(cipher.suite, cipher.key, nonce, s.bytes, plain->data())) {
    plain->clear();
    return false;
  }
  *out = sealed_view;
  out->sealed.reset();
  const ByteView p(*plain);
  out->key = p.subspan(0, s.key_len);
  out->headers = p.subspan(s.key_len, s.hdr_len);
  out->payload = p.subspan(uint64_t{s.key_len} + s.hdr_len, s.payload_len);
  return true;
}

}  // namespace ironbus::format
