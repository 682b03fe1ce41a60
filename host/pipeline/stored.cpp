#include "stored.hpp"

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"

namespace sluice::pipeline {

namespace {

using json = nlohmann::ordered_json;

}  // namespace

std::optional<PipelineBuilder> StoredPipeline(const std::string& spec_json, const std::string& origin,
                                              Diagnostics& diag) {
  try {
    const json j = json::parse(spec_json);
    PipelineBuilder b(j.at("name").get<std::string>(), origin);
    b.Seed(j.at("seed").get<int64_t>()).Threads(j.value("threads", int64_t{0}));
    for (const json& st : j.at("stages")) {
      b.Stage(st.at("name").get<std::string>(), st.at("plugin").get<std::string>());
      for (const auto& [port, source] : st.at("inputs").items()) b.Input(port, source.get<std::string>());
      for (const auto& [name, value] : st.at("params").items()) {
        if (value.is_null()) continue;  // an optional parameter that was not set
        b.Param(name, RawValueFromJson(value, b.here()));
      }
      b.RecordedVersion(st.value("plugin_version", ""));
    }
    b.File(j.value("file", origin));
    return b;
  } catch (const json::exception& e) {
    diag.Error(SourceLoc{origin, 0, 0, 1}, std::string("the stored pipeline is unreadable: ") + MessageExcerpt(e));
    return std::nullopt;
  }
}

std::optional<ResolvedPipeline> LoadStoredPipeline(const std::string& spec_json, const std::string& origin,
                                                   const plugin::PluginRegistry& registry,
                                                   const std::optional<std::string>& version_hint, Diagnostics& diag) {
  std::optional<PipelineBuilder> b = StoredPipeline(spec_json, origin, diag);
  if (!b) return std::nullopt;
  return b->Validate(registry, version_hint, diag);
}

}  // namespace sluice::pipeline
