// Expected failures travel as values: Status (no payload) and Expected<T>.
// Bugs are assertions. Pattern after ONNX Runtime's Status and LLVM's Expected.
#pragma once

#include <cassert>
#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace retort {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // bad parameter, bad shape, bad recipe value
  kNotFound,         // missing file, unknown name
  kUnsupported,      // op or attribute the engine does not implement
  kParse,            // corrupt file or syntax error
  kIo,               // read/write failure
  kNumerical,        // NaN or infinite loss
  kCancelled,        // interrupted by the user
  kInternal,
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where the error happened ("file.onnx: node 'conv1': ...").
  Status with_context(const std::string& where) const& {
    return ok() ? *this : Status(code_, where + ": " + message_);
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

namespace detail {
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}
}  // namespace detail

// Builds an error status from streamable pieces: make_error(kNotFound, "no file '", p, "'").
template <typename... Args>
Status make_error(ErrorCode code, Args&&... args) {
  return Status(code, detail::str_cat(std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : storage_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Expected(Status status) : storage_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(storage_).ok() && "Expected<T> built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(storage_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(storage_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(storage_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(storage_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> storage_;
};

}  // namespace retort

#define RETORT_CONCAT_INNER(a, b) a##b
#define RETORT_CONCAT(a, b) RETORT_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` failed.
#define RETORT_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::retort::Status retort_status_ = (expr);        \
    if (!retort_status_.ok()) return retort_status_; \
  } while (0)

// `RETORT_ASSIGN_OR_RETURN(auto model, load_onnx(path));`
#define RETORT_ASSIGN_OR_RETURN(lhs, expr) \
  RETORT_ASSIGN_OR_RETURN_IMPL(RETORT_CONCAT(retort_expected_, __LINE__), lhs, expr)
// `lhs` is a declaration ("auto x"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define RETORT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
