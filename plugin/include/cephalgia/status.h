// File: status.h
//
// Status and Result<T>: errors on request paths are values, never exceptions.
// The code set is small and canonical (after absl::StatusCode); it is mapped to HTTP in exactly
// one place (cds-hooks/src/http_status.cc). A Status may carry a `location`, the JSON path or
// FHIR element path of the offending input (e.g. `context.patientId`,
// `Observation.valueQuantity.value`), so an error can say *where* as well as *what*.
//
//   Result<int> ParsePort(std::string_view s);
//   auto port = ParsePort(arg);
//   if (!port.ok()) return port.status();
//   Use(*port);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cephalgia {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the client sent something malformed (HTTP 400)
  kNotFound,            // unknown service, resource or path (404)
  kMethodNotAllowed,    // wrong HTTP method for a known path (405)
  kFailedPrecondition,  // data the service needs cannot be had (412, CDS Hooks)
  kPayloadTooLarge,     // body or response over a configured limit (413)
  kUnauthenticated,     // missing or invalid client credentials (401)
  kPermissionDenied,    // authenticated but not allowed (403)
  kDeadlineExceeded,    // a deadline passed (504 when it is ours)
  kUnavailable,         // a peer (FHIR server) could not be reached (503)
  kInternal,            // a bug or an invariant broken on our side (500)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string location = {})
      : code_(code), message_(std::move(message)), location_(std::move(location)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Where in the input the problem is (JSON path / FHIR element path); empty if not known.
  const std::string& location() const { return location_; }

  // "INVALID_ARGUMENT: hook is required (at context.patientId)".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string location_;
};

inline Status InvalidArgument(std::string msg, std::string location = {}) {
  return {StatusCode::kInvalidArgument, std::move(msg), std::move(location)};
}
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg, std::string location = {}) {
  return {StatusCode::kFailedPrecondition, std::move(msg), std::move(location)};
}
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status Unauthenticated(std::string msg) {
  return {StatusCode::kUnauthenticated, std::move(msg)};
}

// Value-or-error. Accessing the value of an error Result is a bug; it is checked in all builds.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<1>, std::move(value)) {}  // NOLINT: implicit
  Result(Status status) : state_(std::in_place_index<0>, std::move(status)) {  // NOLINT
    if (std::get<0>(state_).ok()) {
      state_.template emplace<0>(Internal("Result constructed from an OK status"));
    }
  }

  bool ok() const { return state_.index() == 1; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<0>(state_);
  }

  T& value() & { return std::get<1>(state_); }
  const T& value() const& { return std::get<1>(state_); }
  T&& value() && { return std::get<1>(std::move(state_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> state_;
};

}  // namespace cephalgia

// Returns early from the enclosing function with the Status of `expr` if it is an error.
#define CEPHALGIA_RETURN_IF_ERROR(expr)                 \
  do {                                                  \
    ::cephalgia::Status cephalgia_status_ = (expr);     \
    if (!cephalgia_status_.ok()) return cephalgia_status_; \
  } while (false)

#define CEPHALGIA_CONCAT_INNER_(a, b) a##b
#define CEPHALGIA_CONCAT_(a, b) CEPHALGIA_CONCAT_INNER_(a, b)
// `CEPHALGIA_ASSIGN_OR_RETURN(auto x, MakeX());`
#define CEPHALGIA_ASSIGN_OR_RETURN(lhs, rexpr)                                 \
  auto CEPHALGIA_CONCAT_(cephalgia_result_, __LINE__) = (rexpr);               \
  if (!CEPHALGIA_CONCAT_(cephalgia_result_, __LINE__).ok())                    \
    return CEPHALGIA_CONCAT_(cephalgia_result_, __LINE__).status();            \
  lhs = std::move(CEPHALGIA_CONCAT_(cephalgia_result_, __LINE__)).value()
