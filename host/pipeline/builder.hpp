// Pipelines the host assembles in code rather than reads from a file: `sluice predict`'s
// two stages, a run's stored spec for `--resume`, a sweep's trials. Stages, wires and
// parameters are set directly on a PipelineSpec and validated exactly as a file is.
//
//   PipelineBuilder b("predict", "sluice predict");
//   b.Stage("model", "mlp").Param("hidden", Value(std::vector<int64_t>{64}));
//   b.Stage("predict", "predictor").Input("model", "model.model").Param("bundle", Value(dir));
//   std::optional<ResolvedPipeline> p = b.Validate(registry, std::nullopt, diag);
#ifndef SLUICE_HOST_PIPELINE_BUILDER_HPP_
#define SLUICE_HOST_PIPELINE_BUILDER_HPP_

#include <cstdint>
#include <optional>
#include <string>

#include "diagnostics.hpp"
#include "plugin/registry.hpp"
#include "resolved.hpp"
#include "sluice/value.hpp"
#include "spec.hpp"

namespace sluice::pipeline {

// A parameter value as if a pipeline file had said it, reported at `loc`.
RawValue RawValueFromValue(const Value& value, const SourceLoc& loc);

class PipelineBuilder {
 public:
  // A new pipeline; problems are reported against `origin` (e.g. "sluice predict").
  PipelineBuilder(std::string name, std::string origin);
  // Starting from an existing spec (a study's base pipeline, for one trial).
  PipelineBuilder(PipelineSpec base, std::string origin);

  PipelineBuilder& Seed(int64_t seed);
  PipelineBuilder& Threads(int64_t threads);
  PipelineBuilder& File(std::string file);
  // Appends a stage; Input, Param and RecordedVersion apply to the last one added.
  PipelineBuilder& Stage(std::string name, std::string plugin);
  PipelineBuilder& Input(std::string port, std::string from);  // from: "stage.port"
  PipelineBuilder& Param(std::string name, RawValue value);
  PipelineBuilder& Param(std::string name, const Value& value);
  // The plugin version this stage ran with before (a stored run, a bundle): Validate
  // refuses another when given a version hint.
  PipelineBuilder& RecordedVersion(std::string version);
  // Sets "stage.param" of an existing stage, replacing a value it has; false when there
  // is no such stage.
  bool Set(const std::string& key, RawValue value);

  const PipelineSpec& spec() const { return spec_; }
  SourceLoc here() const { return here_; }

  // Validates as a file is. With `version_hint`, a stage whose plugin's version differs
  // from its recorded one is an error ending with the hint (what to do). The recorded
  // file name is kept.
  std::optional<ResolvedPipeline> Validate(const plugin::PluginRegistry& registry,
                                           const std::optional<std::string>& version_hint, Diagnostics& diag) const;

 private:
  StageSpec& last();

  PipelineSpec spec_;
  SourceLoc here_;
  std::map<std::string, std::string> recorded_versions_;  // stage -> plugin version
};

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_BUILDER_HPP_
