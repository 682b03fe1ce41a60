// Pipelines that do not come from a file: a run's stored spec (for `sluice run --resume`)
// and pipelines the host writes itself (for `sluice predict`). Both are the JSON of
// ResolvedPipeline::ToJson and are validated like a file.
#ifndef SLUICE_HOST_PIPELINE_STORED_HPP_
#define SLUICE_HOST_PIPELINE_STORED_HPP_

#include <optional>
#include <string>

#include "diagnostics.hpp"
#include "plugin/registry.hpp"
#include "resolved.hpp"

namespace sluice::pipeline {

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
