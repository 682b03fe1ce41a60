// Pipelines stored as JSON (ResolvedPipeline::ToJson): a run's spec, for `sluice run
// --resume`, and a study's base pipeline, for its trials. Read into a PipelineBuilder and
// validated like a file.
#ifndef SLUICE_HOST_PIPELINE_STORED_HPP_
#define SLUICE_HOST_PIPELINE_STORED_HPP_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "builder.hpp"
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

// The pipeline a run stored (ResolvedPipeline::ToJson), as a builder holding each
// stage's recorded plugin version; null (and a diagnostic against `origin`) when the
// text is unreadable.
std::optional<PipelineBuilder> StoredPipeline(const std::string& spec_json, const std::string& origin,
                                              Diagnostics& diag);

// StoredPipeline, validated against today's plugins. When `version_hint` is set, a
// plugin whose version differs from the one recorded is an error, whose message ends
// with the hint (what to do).
std::optional<ResolvedPipeline> LoadStoredPipeline(const std::string& spec_json, const std::string& origin,
                                                   const plugin::PluginRegistry& registry,
                                                   const std::optional<std::string>& version_hint, Diagnostics& diag);

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_STORED_HPP_
