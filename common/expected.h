// common/expected.h — a small Expected<T> (C++23's std::expected is not in g++ 12).
//
// Used for configuration and other slow-path parsing where an error carries a message.
// Hot-path code returns plain enums plus counters instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mx {

struct Error {
  // What kind of failure, for callers that answer with a status (the control API: 400, 404,
  // 409, 500). Most errors are kInvalid: the input is wrong, and the message says how.
  enum class Kind : unsigned char { kInvalid, kNotFound, kConflict, kInternal };
  std::string message;
  Kind kind = Kind::kInvalid;
};

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  Expected(Error err) : v_(std::move(err)) {}           // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
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

inline Error make_error(std::string msg) { return Error{std::move(msg)}; }

}  // namespace mx
