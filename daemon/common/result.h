// Errors as values.  g++ 12 has no std::expected, so this is the small subset
// tdpwatch needs: a Result<T> that holds either a T or an Error, and Status
// (Result<void>) for operations that return nothing.
//
// An Error carries a complete, human-readable message with its context (the
// path, the byte offset, the strerror text), so callers can log it as is, and
// the errno value when there was one, so callers can still branch on it.
// Exceptions are reserved for the top of main (STYLE.md); value() on an error
// is a precondition violation (it throws std::bad_variant_access).
#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace tdpwatch {

struct Error {
  std::string message;
  int errno_value = 0;  // 0 when the failure was not a system call's
};

// "<context>: <strerror(err)>", keeping err.  std::system_category() rather
// than strerror(): the same text, but thread-safe.
inline Error errno_error(const std::string& context, int err) {
  return Error{context + ": " + std::system_category().message(err), err};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;                                // success
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace tdpwatch
