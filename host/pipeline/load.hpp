// File + overrides -> validated pipeline, the path shared by `sluice run` and
// `sluice validate`.
#ifndef SLUICE_HOST_PIPELINE_LOAD_HPP_
#define SLUICE_HOST_PIPELINE_LOAD_HPP_

#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "plugin/registry.hpp"
#include "resolved.hpp"
#include "spec.hpp"

namespace sluice::pipeline {

struct LoadedPipeline {
  std::optional<ResolvedPipeline> pipeline;  // set when there were no errors
  PipelineSpec spec;                         // as parsed, overrides applied
  Diagnostics diagnostics;
  SourceTexts texts;
  std::string RenderErrors() const { return diagnostics.Render(texts); }
};

// Parses `file`, applies `--set` overrides, validates against the registry's contracts.
LoadedPipeline LoadPipeline(const std::string& file, const std::vector<std::string>& overrides,
                            const plugin::PluginRegistry& registry);

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_LOAD_HPP_
