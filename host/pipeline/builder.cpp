#include "builder.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace sluice::pipeline {

RawValue RawValueFromValue(const Value& value, const SourceLoc& loc) {
  RawValue v;
  v.loc = loc;
  v.text = ValueToString(value);
  auto list = [&](const auto& items) {
    v.type = RawValue::Type::kArray;
    for (const auto& item : items) v.items.push_back(RawValueFromValue(Value(item), loc));
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          v.type = RawValue::Type::kBool;
          v.b = x;
        } else if constexpr (std::is_same_v<T, int64_t>) {
          v.type = RawValue::Type::kInt;
          v.i = x;
        } else if constexpr (std::is_same_v<T, double>) {
          v.type = RawValue::Type::kFloat;
          v.f = x;
        } else if constexpr (std::is_same_v<T, std::string>) {
          v.type = RawValue::Type::kString;
          v.s = x;
        } else if constexpr (std::is_same_v<T, std::monostate>) {
          v.type = RawValue::Type::kOther;
        } else {
          list(x);
        }
      },
      value);
  return v;
}

PipelineBuilder::PipelineBuilder(std::string name, std::string origin) : here_{origin, 0, 0, 1} {
  spec_.name = std::move(name);
  spec_.file = std::move(origin);
  spec_.name_loc = here_;
}

PipelineBuilder::PipelineBuilder(PipelineSpec base, std::string origin)
    : spec_(std::move(base)), here_{std::move(origin), 0, 0, 1} {}

PipelineBuilder& PipelineBuilder::Seed(int64_t seed) {
  spec_.seed = seed;
  return *this;
}

PipelineBuilder& PipelineBuilder::Threads(int64_t threads) {
  spec_.threads = threads;
  return *this;
}

PipelineBuilder& PipelineBuilder::File(std::string file) {
  spec_.file = std::move(file);
  return *this;
}

PipelineBuilder& PipelineBuilder::Stage(std::string name, std::string plugin) {
  StageSpec stage;
  stage.name = std::move(name);
  stage.name_loc = here_;
  stage.plugin = std::move(plugin);
  stage.plugin_loc = here_;
  spec_.stages.push_back(std::move(stage));
  return *this;
}

StageSpec& PipelineBuilder::last() {
  if (spec_.stages.empty()) throw std::logic_error("PipelineBuilder: Stage() first");
  return spec_.stages.back();
}

PipelineBuilder& PipelineBuilder::Input(std::string port, std::string from) {
  last().inputs.push_back({std::move(port), here_, std::move(from), here_});
  return *this;
}

PipelineBuilder& PipelineBuilder::Param(std::string name, RawValue value) {
  last().params.push_back({std::move(name), here_, std::move(value)});
  return *this;
}

PipelineBuilder& PipelineBuilder::Param(std::string name, const Value& value) {
  return Param(std::move(name), RawValueFromValue(value, here_));
}

PipelineBuilder& PipelineBuilder::RecordedVersion(std::string version) {
  recorded_versions_[last().name] = std::move(version);
  return *this;
}

bool PipelineBuilder::Set(const std::string& key, RawValue value) {
  const auto dot = key.find('.');
  StageSpec* stage = spec_.FindStage(key.substr(0, dot));
  if (!stage || dot == std::string::npos) return false;
  const std::string param = key.substr(dot + 1);
  auto it =
      std::find_if(stage->params.begin(), stage->params.end(), [&](const ParamEntry& p) { return p.name == param; });
  if (it != stage->params.end()) {
    it->value = std::move(value);
  } else {
    stage->params.push_back({param, here_, std::move(value)});
  }
  return true;
}

std::optional<ResolvedPipeline> PipelineBuilder::Validate(const plugin::PluginRegistry& registry,
                                                          const std::optional<std::string>& version_hint,
                                                          Diagnostics& diag) const {
  if (version_hint) {
    for (const auto& [stage, recorded] : recorded_versions_) {
      const StageSpec* s = spec_.FindStage(stage);
      std::string error;
      const plugin::PluginDescriptor* d = registry.Find(s->plugin, error);
      if (d && d->version != recorded) {
        diag.Error(here_, "stage '" + stage + "': plugin " + s->plugin + " is version " + d->version + " here (" +
                              d->path + "), but " + here_.file + " used " + recorded + "; " + *version_hint);
      }
    }
  }
  if (!diag.empty()) return std::nullopt;
  std::optional<ResolvedPipeline> resolved = pipeline::Validate(spec_, registry, diag);
  if (!resolved || !diag.empty()) return std::nullopt;
  resolved->file = spec_.file;  // as recorded, not made absolute again
  return resolved;
}

}  // namespace sluice::pipeline
