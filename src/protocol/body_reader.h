// Internal: bounds-checked readers and writers for body fields. Every read checks what is left
// first; the first failure latches with its kind (truncated or bad version), so a decoder can
// read all fields and test once.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "protocol/codec.h"
#include "protocol/wire_format.h"

namespace ironbus::protocol::internal {

class BodyReader {
 public:
  explicit BodyReader(ByteView body) : body_(body) {}

  uint8_t U8() { return Need(1) ? body_[pos_++] : 0; }
  uint16_t U16() { return Take<uint16_t>(2, DecodeFixed16); }
  uint32_t U32() { return Take<uint32_t>(4, DecodeFixed32); }
  uint64_t U64() { return Take<uint64_t>(8, DecodeFixed64); }
  // A var field: u16 length, then that many bytes (a length past the end is kTruncated).
  Bytes Var() {
    const uint16_t n = U16();
    return Raw(n);
  }
  Bytes Raw(size_t n) {
    if (!Need(n)) return {};
    Bytes out(body_.begin() + static_cast<std::ptrdiff_t>(pos_),
              body_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return out;
  }
  Bytes Rest() { return Raw(remaining()); }

  // Reads a versioned block header and returns a reader over exactly its field bytes (the caller
  // ignores what follows unless the verb defines a tail). A version other than 1 latches
  // kBadVersion; a missing header or a field_len beyond the body latches kTruncated.
  std::optional<BodyReader> Block() {
    const uint8_t version = U8();
    const uint16_t field_len = U16();
    if (!ok()) return std::nullopt;
    if (version != kBodyVersion) {
      Fail(DecodeError::kBadVersion);
      return std::nullopt;
    }
    if (field_len > remaining()) {
      Fail(DecodeError::kTruncated);
      return std::nullopt;
    }
    BodyReader inner(body_.subspan(pos_, field_len));
    pos_ += field_len;
    return inner;
  }

  size_t remaining() const { return body_.size() - pos_; }
  bool ok() const { return error_ == DecodeError::kNone; }
  DecodeError error() const { return error_; }
  void Fail(DecodeError e) {
    if (ok()) error_ = e;
  }

 private:
  bool Need(size_t n) {
    if (!ok()) return false;
    if (remaining() < n) {
      Fail(DecodeError::kTruncated);
      return false;
    }
    return true;
  }
  template <typename T, typename F>
  T Take(size_t n, F decode) {
    if (!Need(n)) return 0;
    T v = decode(body_.data() + pos_);
    pos_ += n;
    return v;
  }

  ByteView body_;
  size_t pos_ = 0;
  DecodeError error_ = DecodeError::kNone;
};

inline void PutU8(Bytes* out, uint8_t v) { out->push_back(v); }
// Returns false when the field does not fit a u16 length.
inline bool PutVar(Bytes* out, ByteView v) {
  if (v.size() > kMaxVarFieldLen) return false;
  PutFixed16(out, static_cast<uint16_t>(v.size()));
  PutBytes(out, v);
  return true;
}

}  // namespace ironbus::protocol::internal
