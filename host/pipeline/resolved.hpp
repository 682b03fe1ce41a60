// A validated pipeline: every stage bound to a plugin, every parameter typed and
// defaulted, every input wired to a typed output, stages in execution order.
#ifndef SLUICE_HOST_PIPELINE_RESOLVED_HPP_
#define SLUICE_HOST_PIPELINE_RESOLVED_HPP_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "plugin/registry.hpp"
#include "sluice/value.hpp"
#include "spec.hpp"

namespace sluice::pipeline {

struct ResolvedInput {
  std::string port;        // this stage's input port
  std::string from_stage;  // upstream stage
  std::string from_port;   // upstream output port
  std::string type;        // port type
};

struct ResolvedStage {
  std::string name;
  const plugin::PluginDescriptor* plugin = nullptr;  // owned by the registry
  Params params;
  std::string params_json;  // the same as one JSON object
  uint64_t seed = 0;
  std::vector<ResolvedInput> inputs;
};

struct ResolvedPipeline {
  std::string name;
  std::string file;  // absolute path
  std::string description;
  int64_t seed = 0;
  int64_t threads = 0;
  std::vector<ResolvedStage> stages;  // in execution order

  // Every resolved parameter as "stage.param" -> JSON text, plus pipeline.seed and
  // pipeline.threads.
  std::map<std::string, std::string> ParamsJson() const;
  // The whole resolved pipeline as one JSON document (stored with the run).
  std::string ToJson() const;
};

// Derives a stage's seed from the pipeline seed and the stage name (stable across
// versions: FNV-1a and SplitMix64), in [0, 2^31).
uint64_t StageSeed(int64_t pipeline_seed, const std::string& stage_name);

// Names a value in messages: "parameter 'lr' of stage 'train'", "[sweep] trials".
using WhereFn = std::function<std::string(const std::string& name)>;

// The one value converter: converts `raw` to the type `p` declares and checks its
// constraints (range, choices, item counts; device, file, directory and name formats),
// reporting "<where(name)> must be ..." at the value. Stage parameters, [pipeline] keys
// and [sweep] options all go through it.
bool ConvertValue(const PipelineSpec& spec, const ParamSpec& p, const RawValue& raw, const WhereFn& where,
                  Diagnostics& diag, Value& out);

// The [pipeline] table's keys, as a parameter schema (checked by ConvertValue, from the
// file and from --set pipeline.KEY=...).
const std::vector<ParamSpec>& PipelineOptions();

// Checks `value` for the parameter `key` ("stage.param") of `spec` as if the stage set it,
// reporting at the value's location. Returns the parameter's spec when it fits (and the
// converted value in `out`), null otherwise (unknown stage or parameter included).
const ParamSpec* CheckParamValue(const PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                 const std::string& key, const SourceLoc& key_loc, const RawValue& value,
                                 Diagnostics& diag, Value* out = nullptr);

// Checks the meaning of a parsed pipeline against the plugins' contracts: plugins
// exist and are compatible, parameters are known, typed, in range and present, inputs
// name existing stages and ports of the right type, no cycles. Every problem goes to
// `diag`; the result is empty if there was any.
std::optional<ResolvedPipeline> Validate(const PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                         Diagnostics& diag);

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_RESOLVED_HPP_
