#include "sluice/status.hpp"

#include <new>

#include "sluice/abi.h"
#include "sluice/plugin.hpp"

namespace sluice {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNotFound:
      return "not found";
    case Code::kIoError:
      return "I/O error";
    case Code::kCancelled:
      return "cancelled";
    case Code::kFailedPrecondition:
      return "failed precondition";
    case Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

namespace internal {
SluiceStatus* ToC(const Status& status) {
  if (status.ok()) return nullptr;
  return sluice_status_new(static_cast<int>(status.code()), status.message().c_str());
}
}  // namespace internal

}  // namespace sluice

// The C error object. Allocated and freed only here, so both sides of the boundary use
// one allocator.
struct SluiceStatus {
  int code;
  std::string message;
};

extern "C" {

// Returned when a status cannot be allocated: an error all the same, never NULL (which
// means success), and never freed.
static SluiceStatus g_out_of_memory{static_cast<int>(sluice::Status::Code::kInternal),
                                    "out of memory (while reporting an error)"};

SluiceStatus* sluice_status_new(int code, const char* message) {
  try {
    return new SluiceStatus{code, message ? message : ""};
  } catch (...) {
    return &g_out_of_memory;
  }
}

int sluice_status_code(const SluiceStatus* status) { return status ? status->code : 0; }

const char* sluice_status_message(const SluiceStatus* status) { return status ? status->message.c_str() : ""; }

void sluice_status_free(SluiceStatus* status) {
  if (status != &g_out_of_memory) delete status;
}

}  // extern "C"
