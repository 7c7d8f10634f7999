// Result<T>: a value or a non-ok Status (like absl::StatusOr), plus the early-return macros.
//
//   ASSIGN_OR_RETURN(auto file, fs.Open(path, io::OpenMode::kRead));
//   RETURN_IF_ERROR(file->Sync());
#pragma once

#include <optional>
#include <utility>

#include "base/check.h"
#include "base/status.h"

namespace ironbus {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    CHECK(!status_.ok(), "Result constructed from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    CHECK(ok(), status_.ToString().c_str());
    return *value_;
  }
  const T& value() const& {
    CHECK(ok(), status_.ToString().c_str());
    return *value_;
  }
  T&& value() && {
    CHECK(ok(), status_.ToString().c_str());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;  // ok when value_ holds a value
  std::optional<T> value_;
};

}  // namespace ironbus

#define IRONBUS_CONCAT_INNER(a, b) a##b
#define IRONBUS_CONCAT(a, b) IRONBUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::ironbus::Status _ib_status = (expr);    \
    if (!_ib_status.ok()) return _ib_status;  \
  } while (0)

#define IRONBUS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  IRONBUS_ASSIGN_OR_RETURN_IMPL(IRONBUS_CONCAT(_ib_result_, __LINE__), lhs, expr)
