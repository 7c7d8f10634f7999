// Status: the error value returned by every call on a storage or I/O path.
//
// Codes are few and each tells the caller what to do (after absl::Status):
//   NotFound            the named thing does not exist
//   InvalidArgument     the caller passed something malformed; do not retry as is
//   OutOfRange          a position or size outside what exists or is allowed
//   FailedPrecondition  the system is not in a state that allows this (frozen log, lock held);
//                       do not retry until an operator fixes the state
//   Unavailable         transient; retry the same call later (at capacity, queue full)
//   Corruption          bytes on disk or on the wire fail a check
//   IOError             the operating system reported an error; sys_errno() has errno
//   Internal            a broken invariant inside IronBus
//
// Thread safety: a Status is a value; copies are independent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ironbus {

enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kOutOfRange,
  kFailedPrecondition,
  kUnavailable,
  kCorruption,
  kIOError,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status NotFound(std::string message) { return Status(StatusCode::kNotFound, std::move(message)); }
  static Status InvalidArgument(std::string message) {
    return Status(StatusCode::kInvalidArgument, std::move(message));
  }
  static Status OutOfRange(std::string message) { return Status(StatusCode::kOutOfRange, std::move(message)); }
  static Status FailedPrecondition(std::string message) {
    return Status(StatusCode::kFailedPrecondition, std::move(message));
  }
  static Status Unavailable(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }
  static Status Corruption(std::string message) { return Status(StatusCode::kCorruption, std::move(message)); }
  // `sys_errno` is the errno the failing system call set (0 if none); callers branch on ENOSPC.
  static Status IOError(std::string message, int sys_errno = 0) {
    Status s(StatusCode::kIOError, std::move(message));
    s.sys_errno_ = sys_errno;
    return s;
  }
  static Status Internal(std::string message) { return Status(StatusCode::kInternal, std::move(message)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int sys_errno() const { return sys_errno_; }

  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsCorruption() const { return code_ == StatusCode::kCorruption; }
  bool IsIOError() const { return code_ == StatusCode::kIOError; }
  bool IsFailedPrecondition() const { return code_ == StatusCode::kFailedPrecondition; }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }
  bool IsNoSpace() const;  // IOError carrying ENOSPC (or EDQUOT)

  // Returns a copy whose message is "<context>: <message>"; code and errno are kept.
  Status WithContext(std::string_view context) const;

  // "<CodeName>: <message>", or "OK".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.sys_errno_ == b.sys_errno_;
  }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  int sys_errno_ = 0;
  std::string message_;
};

}  // namespace ironbus
