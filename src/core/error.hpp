#pragma once
// Errors that reach a user. Each carries the HTTP status the API answers with, a stable
// machine-readable code, a message for people and, for bad input, the offending field.
// The API maps them to {"error": {"code", "message", "field"}} in one place
// (api/http.cpp); the CLI prints the message and exits non-zero.
#include <stdexcept>
#include <string>

namespace flexmarket {

class Error : public std::runtime_error {
 public:
  Error(int status, std::string code, const std::string& message, std::string field = {})
      : std::runtime_error(message), status_(status), code_(std::move(code)), field_(std::move(field)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // Empty unless the error is about one input field.
  const std::string& field() const { return field_; }
  // Seconds after which a refused request may be retried (429); 0 when not applicable.
  int retry_after_seconds() const { return retry_after_; }
  Error& with_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::string code_;
  std::string field_;
  int retry_after_ = 0;
};

// 400: the request could not be read at all (not JSON, wrong content type).
inline Error bad_request(const std::string& code, const std::string& message) {
  return Error(400, code, message);
}
// 422: the request was read but a field is missing, of the wrong type or out of range.
inline Error invalid_field(const std::string& field, const std::string& message) {
  return Error(422, "invalid_field", message, field);
}
// 413: the request asks for more than a configured limit allows (stated in the message).
inline Error too_large(const std::string& field, const std::string& message) {
  return Error(413, "limit_exceeded", message, field);
}
inline Error unauthorized(const std::string& message) {
  return Error(401, "unauthorized", message);
}
inline Error forbidden(const std::string& message) { return Error(403, "forbidden", message); }
inline Error not_found(const std::string& message) { return Error(404, "not_found", message); }
inline Error conflict(const std::string& message) { return Error(409, "conflict", message); }
inline Error too_many_requests(const std::string& message) {
  return Error(429, "too_many_requests", message);
}
// 500/503 for faults of the platform, never of the caller.
inline Error internal_error(const std::string& message) {
  return Error(500, "internal_error", message);
}
inline Error unavailable(const std::string& message) {
  return Error(503, "unavailable", message);
}

}  // namespace flexmarket
