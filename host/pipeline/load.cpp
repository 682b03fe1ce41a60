#include "load.hpp"

namespace sluice::pipeline {

LoadedPipeline LoadPipeline(const std::string& file, const std::vector<std::string>& overrides,
                            const plugin::PluginRegistry& registry) {
  LoadedPipeline out;
  PipelineSpec spec = ParsePipelineFile(file, out.texts, out.diagnostics);
  if (!out.diagnostics.empty() && spec.stages.empty()) return out;  // nothing readable to check further
  ApplyOverrides(spec, overrides, out.texts, out.diagnostics);
  std::optional<ResolvedPipeline> resolved = Validate(spec, registry, out.diagnostics);
  if (out.diagnostics.empty()) out.pipeline = std::move(resolved);
  out.spec = std::move(spec);
  return out;
}

}  // namespace sluice::pipeline
