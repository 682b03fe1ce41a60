#include "stored.hpp"

#include <nlohmann/json.hpp>

namespace sluice::pipeline {

namespace {

using json = nlohmann::ordered_json;

}  // namespace

std::optional<PipelineSpec> StoredPipelineSpec(const std::string& spec_json, const std::string& origin,
                                               const plugin::PluginRegistry& registry,
                                               const std::optional<std::string>& version_hint, Diagnostics& diag) {
  const SourceLoc where{origin, 0, 0, 1};
  PipelineSpec spec;
  spec.file = origin;
  json j;
  try {
    j = json::parse(spec_json);
    spec.name = j.at("name").get<std::string>();
    spec.seed = j.at("seed").get<int64_t>();
    spec.threads = j.value("threads", int64_t{0});
    for (const json& st : j.at("stages")) {
      StageSpec stage;
      stage.name = st.at("name").get<std::string>();
      stage.name_loc = where;
      stage.plugin = st.at("plugin").get<std::string>();
      stage.plugin_loc = where;
      for (const auto& [port, source] : st.at("inputs").items()) {
        stage.inputs.push_back({port, where, source.get<std::string>(), where});
      }
      for (const auto& [name, value] : st.at("params").items()) {
        if (value.is_null()) continue;  // an optional parameter that was not set
        stage.params.push_back({name, where, RawValueFromJson(value, where)});
      }
      if (version_hint) {
        std::string error;
        const plugin::PluginDescriptor* d = registry.Find(stage.plugin, error);
        const std::string recorded = st.value("plugin_version", "");
        if (d && d->version != recorded) {
          diag.Error(where, "stage '" + stage.name + "': plugin " + stage.plugin + " is version " + d->version +
                                " here (" + d->path + "), but " + origin + " used " + recorded + "; " + *version_hint);
        }
      }
      spec.stages.push_back(std::move(stage));
    }
    spec.file = j.value("file", origin);
  } catch (const json::exception& e) {
    diag.Error(where, std::string("the stored pipeline is unreadable: ") + e.what());
    return std::nullopt;
  }
  return spec;
}

std::optional<ResolvedPipeline> ValidateStored(const PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                               Diagnostics& diag) {
  std::optional<ResolvedPipeline> resolved = Validate(spec, registry, diag);
  if (!resolved || !diag.empty()) return std::nullopt;
  resolved->file = spec.file;  // as recorded, not made absolute again
  return resolved;
}

std::optional<ResolvedPipeline> LoadStoredPipeline(const std::string& spec_json, const std::string& origin,
                                                   const plugin::PluginRegistry& registry,
                                                   const std::optional<std::string>& version_hint, Diagnostics& diag) {
  std::optional<PipelineSpec> spec = StoredPipelineSpec(spec_json, origin, registry, version_hint, diag);
  if (!spec || !diag.empty()) return std::nullopt;
  return ValidateStored(*spec, registry, diag);
}

}  // namespace sluice::pipeline
