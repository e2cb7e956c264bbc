// SPDX-License-Identifier: Apache-2.0
#pragma once

// Result<T, E>: the return type for expected failures. Its API mirrors the parts of
// std::expected that the project uses, so it can be swapped for the standard type in C++23.

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace hfm::common {

// The error of the common layer and of the tools that use it directly: a kind plus a
// human-readable message (never a token).
enum class ErrorKind {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kIo,
  kCorrupt,
  kPermission,
  kConflict,
  kUnsupported,
  kNoSpace,  // ENOSPC or EDQUOT from the local disk
};

struct Error {
  ErrorKind kind = ErrorKind::kIo;
  std::string message;
};

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

inline Unexpected<Error> makeError(ErrorKind kind, std::string message) {
  return Unexpected<Error>(Error{kind, std::move(message)});
}

template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T, class = std::enable_if_t<std::is_constructible_v<T, U&&>>>
  Result(U&& value) : data_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  template <class G>
  Result(Unexpected<G> error)  // NOLINT(google-explicit-constructor)
      : data_(std::in_place_index<1>, std::move(error).error()) {}

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & { return std::get<1>(data_); }
  const E& error() const& { return std::get<1>(data_); }
  E&& error() && { return std::get<1>(std::move(data_)); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> data_;
};

// Result<void>: success carries nothing.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <class G>
  Result(Unexpected<G> error)  // NOLINT(google-explicit-constructor)
      : error_(std::move(error).error()), has_error_(true) {}

  bool has_value() const { return !has_error_; }
  explicit operator bool() const { return has_value(); }
  E& error() & { return error_; }
  const E& error() const& { return error_; }

 private:
  E error_{};
  bool has_error_ = false;
};

using Status = Result<void>;

}  // namespace hfm::common
