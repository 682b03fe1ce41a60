// A small status type with named constructors (after leveldb's Status).
//
// Plugins return a Status from Stage::Run; the SDK turns a non-ok one into a
// SluiceStatus the host owns. Status is a plain value: copying it copies the message.
#ifndef SLUICE_STATUS_HPP_
#define SLUICE_STATUS_HPP_

#include <string>
#include <utility>

#include "sluice/export.h"

namespace sluice {

class SLUICE_API Status {
 public:
  // Codes are part of the C ABI (sluice_status_code); values never change.
  enum class Code : int {
    kOk = 0,
    kInvalidArgument = 1,     // bad parameter or input data
    kNotFound = 2,            // a file, run or plugin that does not exist
    kIoError = 3,             // reading or writing failed
    kCancelled = 4,           // the user asked to stop (Ctrl-C)
    kFailedPrecondition = 5,  // e.g. CUDA requested but not available
    kInternal = 6,            // a bug or an unexpected exception
  };

  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }
  static Status NotFound(std::string message) { return Status(Code::kNotFound, std::move(message)); }
  static Status IoError(std::string message) { return Status(Code::kIoError, std::move(message)); }
  static Status Cancelled(std::string message) { return Status(Code::kCancelled, std::move(message)); }
  static Status FailedPrecondition(std::string message) {
    return Status(Code::kFailedPrecondition, std::move(message));
  }
  static Status Internal(std::string message) { return Status(Code::kInternal, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsCancelled() const { return code_ == Code::kCancelled; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid argument: <message>", or "ok".
  std::string ToString() const;
  static const char* CodeName(Code code);

  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace sluice

// Returns early from the enclosing function when `expr` yields a non-ok Status.
#define SLUICE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::sluice::Status sluice_status_ = (expr);        \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (false)

#endif  // SLUICE_STATUS_HPP_
