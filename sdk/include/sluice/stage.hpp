// The C++ tier: what a stage sees while it runs.
//
// Ownership and lifetime:
//   - The host calls a plugin's Stage::Run with a StageContext it owns; the context, the
//     Params it returns and every string it hands out are valid until Run returns.
//   - Port values are std::shared_ptr<PortValue>: shared. An input is kept alive by the
//     host at least until Run returns, and for as long as the stage holds its pointer
//     (the trainer keeps its input dataset inside its output model, for instance).
//   - A value published with SetOutput is held by the host until the last stage that
//     reads it has run, then released; downstream stages share it, never copy it.
//   - Files under ScratchDir() are the stage's until the run ends (then removed);
//     AddArtifact moves one into the store, after which the store owns it.
#ifndef SLUICE_STAGE_HPP_
#define SLUICE_STAGE_HPP_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/contract.hpp"
#include "sluice/export.h"
#include "sluice/services.hpp"
#include "sluice/status.hpp"
#include "sluice/value.hpp"

namespace sluice {

// Base of everything that flows along a pipeline edge. Concrete types (TensorDataset,
// ModelSpec, TrainedModel in sluice/torch.hpp) are defined in SDK libraries, so their
// type information is unique process-wide and dynamic casts work across plugins.
class SLUICE_API PortValue {
 public:
  virtual ~PortValue();
  // The port type this value satisfies (one of sluice::ports).
  virtual const char* port_type() const = 0;
  // Whether the value keeps its port type's rules (sluice/torch.hpp states them), as an
  // error naming the first one broken. The host checks every value a stage publishes, so
  // a bad value fails the stage that made it, not the next one; the test harness does
  // the same. The default accepts anything.
  virtual Status Check() const;

  // Where the value came from, filled in by the host when a stage publishes it: the
  // stage, its plugin and version, and its resolved parameters as a JSON object. A bundle
  // uses it to record how to rebuild a model.
  struct Origin {
    std::string stage, plugin, plugin_version, params_json;
  };
  Origin origin;
};

// Thrown by StageContext::Input<T> and Params accessors; caught by the SDK wrapper and
// reported as the stage's error.
class SLUICE_API StageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ~StageError() override;
};

// A snapshot of a long stage's progress, rendered by the host as a live bar on a
// terminal or as plain lines otherwise.
struct Progress {
  std::string phase;  // e.g. "epoch 2/3"
  int64_t done = 0;   // units done in this phase
  int64_t total = 0;  // units in this phase (0: unknown)
  std::string unit = "step";
  // Figures shown next to the bar, e.g. {"loss", 0.41}, {"samples/s", 51234}.
  std::vector<std::pair<std::string, double>> figures;
};

// The core of what a stage sees while it runs. Frozen for every SDK 1.x: no virtual
// method is ever added, removed or changed here, so a plugin built against SDK 1.0 runs in
// any 1.x host. What later hosts add arrives as services (sluice/services.hpp), found
// through FindService by name and version.
class SLUICE_API StageContext {
 public:
  virtual ~StageContext();

  // The stage's name in the pipeline (the key under [stages]).
  virtual const std::string& stage_name() const = 0;
  // Resolved parameters: every declared one, defaults filled in.
  virtual const Params& params() const = 0;
  // Seed for this stage, derived from [pipeline] seed and the stage name; a parameter
  // named "seed" overrides it.
  virtual uint64_t seed() const = 0;

  // The value wired to an input port, or null if an optional port is unwired.
  virtual std::shared_ptr<PortValue> InputValue(std::string_view port) const = 0;
  // Publishes an output port's value. The host checks it against the port's type's rules
  // (sluice/torch.hpp); a value that breaks them fails this stage once Run returns.
  virtual void SetOutput(std::string_view port, std::shared_ptr<PortValue> value) = 0;

  // Logs one point of a metric series. `key` is stored as "<stage>.<key>". Cheap
  // (buffered; written to the store in batches). Declare every metric in the contract
  // (Contract::metric) and log it through Log(spec, ...).
  virtual void LogMetric(std::string_view key, int64_t step, double value) = 0;
  void Log(const MetricSpec& metric, int64_t step, double value) { LogMetric(metric.name, step, value); }
  // Moves `file` (written under ScratchDir()) into the store's content-addressed
  // artifact folder and records it under `name` for this stage.
  virtual Status AddArtifact(std::string_view name, const std::string& file) = 0;
  // A folder private to this stage of this run, for files the stage writes.
  virtual std::string ScratchDir() = 0;

  // True once the user asked to stop (Ctrl-C). Long loops check it every step and
  // return Status::Cancelled.
  virtual bool StopRequested() const = 0;
  virtual void ReportProgress(const Progress& progress) = 0;
  // A line of information for the user (stderr).
  virtual void Info(std::string_view message) = 0;

  // The host's service `name` at `version`, or null when this host does not offer it
  // (an older sluice). Prefer Service<S>() and RequireService<S>().
  virtual void* FindService(std::string_view name, uint32_t version) = 0;

  template <class S>
  S* Service() {
    return static_cast<S*>(FindService(S::kName, S::kVersion));
  }
  // The service, or a StageError naming it (fails the stage with that message).
  template <class S>
  S& RequireService() {
    S* service = Service<S>();
    if (!service) {
      throw StageError("this sluice does not offer the service '" + std::string(S::kName) + "' version " +
                       std::to_string(S::kVersion) + " that plugin stage '" + stage_name() + "' needs; upgrade sluice");
    }
    return *service;
  }

  // The input as a concrete type; throws StageError if it is missing or of another type.
  template <class T>
  std::shared_ptr<T> Input(std::string_view port) const {
    std::shared_ptr<PortValue> value = InputValue(port);
    if (!value) throw StageError("input port '" + std::string(port) + "' is not connected");
    std::shared_ptr<T> typed = std::dynamic_pointer_cast<T>(value);
    if (!typed) {
      throw StageError("input port '" + std::string(port) + "' received a value of type '" + value->port_type() +
                       "' this plugin cannot use");
    }
    return typed;
  }
};

template <class T>
std::shared_ptr<T> In<T>::Get(const StageContext& ctx) const {
  if (optional && !ctx.InputValue(name)) return nullptr;
  return ctx.template Input<T>(name);
}

template <class T>
void Out<T>::Set(StageContext& ctx, std::shared_ptr<T> value) const {
  ctx.SetOutput(name, std::move(value));
}

// Why `value`, published by a stage on output `port`, breaks its contract (an undeclared
// port, another type) or its type's rules (PortValue::Check), as "published ..."; ""
// when it is fine. What the host checks, and the test harness (sluice/testing).
SLUICE_API std::string CheckPublished(const Contract& contract, std::string_view port, const PortValue* value);

// A plugin's stage. One instance is created per stage execution.
class SLUICE_API Stage {
 public:
  virtual ~Stage();
  virtual Status Run(StageContext& ctx) = 0;
};

}  // namespace sluice

#endif  // SLUICE_STAGE_HPP_
