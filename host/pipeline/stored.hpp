// Pipelines that do not come from a file: a run's stored spec (for `sluice run --resume`)
// and pipelines the host writes itself (for `sluice predict`). Both are the JSON of
// ResolvedPipeline::ToJson and are validated like a file.
#ifndef SLUICE_HOST_PIPELINE_STORED_HPP_
#define SLUICE_HOST_PIPELINE_STORED_HPP_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "diagnostics.hpp"
#include "plugin/registry.hpp"
#include "resolved.hpp"

namespace sluice::pipeline {

// A JSON value (a stored parameter, a trial's sampled value) as if the TOML file had said
// it, reported at `loc`. For nlohmann::json and nlohmann::ordered_json alike.
template <class Json>
RawValue RawValueFromJson(const Json& j, const SourceLoc& loc) {
  RawValue v;
  v.loc = loc;
  v.text = j.dump();
  if (j.is_boolean()) {
    v.type = RawValue::Type::kBool;
    v.b = j.template get<bool>();
  } else if (j.is_number_integer()) {
    v.type = RawValue::Type::kInt;
    v.i = j.template get<int64_t>();
  } else if (j.is_number()) {
    v.type = RawValue::Type::kFloat;
    v.f = j.template get<double>();
  } else if (j.is_string()) {
    v.type = RawValue::Type::kString;
    v.s = j.template get<std::string>();
  } else if (j.is_array()) {
    v.type = RawValue::Type::kArray;
    for (const Json& item : j) v.items.push_back(RawValueFromJson(item, loc));
  } else if (j.is_object()) {
    v.type = RawValue::Type::kTable;
  }
  return v;
}

// Validates the pipeline in `spec_json` against today's plugins. When `version_hint` is
// set, a plugin whose version differs from the one recorded is an error, whose message
// ends with the hint (what to do). Problems are reported against `origin`.
std::optional<ResolvedPipeline> LoadStoredPipeline(const std::string& spec_json, const std::string& origin,
                                                   const plugin::PluginRegistry& registry,
                                                   const std::optional<std::string>& version_hint, Diagnostics& diag);

// The same in two steps, for callers that change parameters in between (sweep trials):
// the spec as stored, then validated (keeping the recorded file name).
std::optional<PipelineSpec> StoredPipelineSpec(const std::string& spec_json, const std::string& origin,
                                               const plugin::PluginRegistry& registry,
                                               const std::optional<std::string>& version_hint, Diagnostics& diag);
std::optional<ResolvedPipeline> ValidateStored(const PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                               Diagnostics& diag);

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_STORED_HPP_
