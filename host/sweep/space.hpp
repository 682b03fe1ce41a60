// A checked [sweep] table: the objective, the sampler and pruner with their settings, and
// the search space, every dimension checked against the plugin parameter it sets.
#ifndef SLUICE_HOST_SWEEP_SPACE_HPP_
#define SLUICE_HOST_SWEEP_SPACE_HPP_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/builder.hpp"
#include "pipeline/diagnostics.hpp"
#include "pipeline/resolved.hpp"
#include "pipeline/spec.hpp"
#include "plugin/registry.hpp"

namespace sluice::sweep {

using json = nlohmann::json;

struct Dimension {
  enum class Kind { kUniform, kLogUniform, kInt, kChoice };
  std::string key;  // "stage.param"
  Kind kind = Kind::kUniform;
  double low = 0, high = 0;    // numeric kinds (inclusive)
  std::optional<double> step;  // numeric kinds: values low, low + step, ...
  bool integer_param = false;  // the parameter is an int: sampled values are rounded
  std::vector<json> choices;   // kChoice
  pipeline::SourceLoc loc;

  bool numeric() const { return kind != Kind::kChoice; }
  // Is `value` a point of this dimension (for warm starts)?
  bool Contains(const json& value) const;
  // Number of distinct values; 0 when continuous.
  int64_t Cardinality() const;
  // The i-th value when the dimension is discrete (grid order).
  json ValueAt(int64_t i) const;
};

struct Sweep {
  std::string metric;  // objective, "stage.metric"
  bool maximize = true;
  std::string sampler = "tpe";  // grid | random | tpe
  std::optional<int64_t> trials;
  std::optional<double> timeout_seconds;
  std::string pruner = "none";          // none | median | asha
  std::string prune_metric;             // intermediate metric, "stage.metric"
  int64_t min_resource = 1;             // asha: first rung (steps)
  std::optional<int64_t> max_resource;  // both: a trial's last step; no trial is stopped there
  int64_t reduction_factor = 3;         // asha: keep the top 1/factor at each rung
  int64_t startup_trials = 5;           // median: finished trials before pruning starts
  int64_t warmup_steps = 0;             // median: steps before a trial can be pruned
  int64_t tpe_startup_trials = 10;      // tpe: random trials before the model is used
  bool tpe_multivariate = true;         // tpe: model the dimensions jointly
  uint64_t seed = 0;                    // of every draw; see seed_given
  bool seed_given = false;              // [sweep] seed set: draws repeat from study to study. If not,
                                        // each study mixes its id in, so a new study explores new points
  bool warm_start = true;
  std::vector<Dimension> space;

  json ToJson() const;
  static Sweep FromJson(const json& j);
  // Identifies the search space (keys, kinds and ranges), for warm starts.
  std::string SpaceKey() const;
  // "better" in the objective's direction.
  bool Better(double a, double b) const { return maximize ? a > b : a < b; }
};

// The [sweep] table's options, as a parameter schema: checked by the converter stage
// parameters go through (pipeline::ConvertValue); the defaults are Sweep's.
const std::vector<ParamSpec>& SweepOptions();

// Checks `spec.sweep` against the pipeline and its plugins' contracts. Problems go to
// `diag` (FILE:LINE:COL as for the rest of the file).
std::optional<Sweep> ResolveSweep(const pipeline::PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                  pipeline::Diagnostics& diag);

// The pipeline of one trial: the base spec with the trial's values set. Problems (which
// would be bugs, since values come from the checked space) go to `diag`.
std::optional<pipeline::ResolvedPipeline> TrialPipeline(pipeline::PipelineBuilder base, const json& params,
                                                        const plugin::PluginRegistry& registry,
                                                        pipeline::Diagnostics& diag);

}  // namespace sluice::sweep

#endif  // SLUICE_HOST_SWEEP_SPACE_HPP_
