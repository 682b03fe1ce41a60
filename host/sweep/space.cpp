#include "space.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <type_traits>

#include "pipeline/stored.hpp"

namespace sluice::sweep {

using pipeline::Diagnostics;
using pipeline::RawValue;
using pipeline::SourceLoc;

namespace {

const char* KindName(Dimension::Kind k) {
  switch (k) {
    case Dimension::Kind::kUniform:
      return "uniform";
    case Dimension::Kind::kLogUniform:
      return "log_uniform";
    case Dimension::Kind::kInt:
      return "int";
    case Dimension::Kind::kChoice:
      return "choice";
  }
  return "?";
}

json RawToJson(const RawValue& v) {
  switch (v.type) {
    case RawValue::Type::kBool:
      return v.b;
    case RawValue::Type::kInt:
      return v.i;
    case RawValue::Type::kFloat:
      return v.f;
    case RawValue::Type::kString:
      return v.s;
    case RawValue::Type::kArray: {
      json a = json::array();
      for (const RawValue& item : v.items) a.push_back(RawToJson(item));
      return a;
    }
    default:
      return nullptr;
  }
}

bool IsNumber(const RawValue& v) { return v.type == RawValue::Type::kInt || v.type == RawValue::Type::kFloat; }
double Number(const RawValue& v) { return v.type == RawValue::Type::kInt ? static_cast<double>(v.i) : v.f; }

// "90", 90.5, "90s", "30m", "2h" -> seconds.
std::optional<double> Duration(const RawValue& v) {
  if (IsNumber(v)) return Number(v) > 0 ? std::optional<double>(Number(v)) : std::nullopt;
  if (v.type != RawValue::Type::kString || v.s.empty()) return std::nullopt;
  char* end = nullptr;
  const double amount = std::strtod(v.s.c_str(), &end);
  const std::string unit(end);
  const double factor = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (end == v.s.c_str() || factor == 0 || amount <= 0) return std::nullopt;
  return amount * factor;
}

}  // namespace

bool Dimension::Contains(const json& value) const {
  if (kind == Kind::kChoice) return std::find(choices.begin(), choices.end(), value) != choices.end();
  if (!value.is_number()) return false;
  const double v = value.get<double>();
  if (v < low - 1e-12 * std::fabs(low) || v > high + 1e-12 * std::fabs(high)) return false;
  if (integer_param && v != std::floor(v)) return false;
  if (step) {
    const double k = (v - low) / *step;
    if (std::fabs(k - std::round(k)) > 1e-9) return false;
  }
  return true;
}

int64_t Dimension::Cardinality() const {
  if (kind == Kind::kChoice) return static_cast<int64_t>(choices.size());
  if (step) return static_cast<int64_t>(std::floor((high - low) / *step + 1e-9)) + 1;
  if (kind == Kind::kInt) return static_cast<int64_t>(high - low) + 1;
  return 0;
}

json Dimension::ValueAt(int64_t i) const {
  if (kind == Kind::kChoice) return choices.at(static_cast<size_t>(i));
  const double s = step ? *step : 1.0;
  const double v = low + static_cast<double>(i) * s;
  if (integer_param || kind == Kind::kInt) return static_cast<int64_t>(std::llround(v));
  return v;
}

json Sweep::ToJson() const {
  json space_json = json::array();
  for (const Dimension& d : space) {
    json j = {{"key", d.key}, {"kind", KindName(d.kind)}, {"integer", d.integer_param}};
    if (d.numeric()) {
      j["low"] = d.low;
      j["high"] = d.high;
      if (d.step) j["step"] = *d.step;
    } else {
      j["choices"] = d.choices;
    }
    space_json.push_back(std::move(j));
  }
  json out = {{"metric", metric},
              {"direction", maximize ? "maximize" : "minimize"},
              {"sampler", sampler},
              {"pruner", pruner},
              {"prune_metric", prune_metric},
              {"min_resource", min_resource},
              {"max_resource", max_resource ? json(*max_resource) : json(nullptr)},
              {"reduction_factor", reduction_factor},
              {"startup_trials", startup_trials},
              {"warmup_steps", warmup_steps},
              {"tpe_startup_trials", tpe_startup_trials},
              {"tpe_multivariate", tpe_multivariate},
              {"seed", seed},
              {"seed_given", seed_given},
              {"warm_start", warm_start},
              {"space", space_json}};
  out["trials"] = trials ? json(*trials) : json(nullptr);
  out["timeout_seconds"] = timeout_seconds ? json(*timeout_seconds) : json(nullptr);
  return out;
}

Sweep Sweep::FromJson(const json& j) {
  Sweep s;
  s.metric = j.at("metric");
  s.maximize = j.at("direction") == "maximize";
  s.sampler = j.at("sampler");
  s.pruner = j.at("pruner");
  s.prune_metric = j.at("prune_metric");
  s.min_resource = j.at("min_resource");
  if (j.contains("max_resource") && !j.at("max_resource").is_null())
    s.max_resource = j.at("max_resource").get<int64_t>();
  s.reduction_factor = j.at("reduction_factor");
  s.startup_trials = j.at("startup_trials");
  s.warmup_steps = j.at("warmup_steps");
  s.tpe_startup_trials = j.at("tpe_startup_trials");
  s.tpe_multivariate = j.value("tpe_multivariate", true);
  s.seed = j.at("seed");
  s.seed_given = j.value("seed_given", true);
  s.warm_start = j.at("warm_start");
  if (!j.at("trials").is_null()) s.trials = j.at("trials").get<int64_t>();
  if (!j.at("timeout_seconds").is_null()) s.timeout_seconds = j.at("timeout_seconds").get<double>();
  for (const json& dj : j.at("space")) {
    Dimension d;
    d.key = dj.at("key");
    const std::string kind = dj.at("kind");
    d.kind = kind == "uniform"       ? Dimension::Kind::kUniform
             : kind == "log_uniform" ? Dimension::Kind::kLogUniform
             : kind == "int"         ? Dimension::Kind::kInt
                                     : Dimension::Kind::kChoice;
    d.integer_param = dj.value("integer", false);
    if (d.numeric()) {
      d.low = dj.at("low");
      d.high = dj.at("high");
      if (dj.contains("step")) d.step = dj.at("step").get<double>();
    } else {
      d.choices = dj.at("choices").get<std::vector<json>>();
    }
    s.space.push_back(std::move(d));
  }
  return s;
}

std::string Sweep::SpaceKey() const { return ToJson().at("space").dump(); }

const std::vector<ParamSpec>& SweepOptions() {
  static const std::vector<ParamSpec> options = {
      ParamSpec("metric", ParamType::kString).optional().doc("the objective, \"stage.metric\" (required)"),
      ParamSpec("direction", ParamType::kString)
          .optional()
          .choices({"maximize", "minimize"})
          .doc("default: what the metric's plugin declares better"),
      ChoiceParam("sampler", "tpe", {"grid", "random", "tpe"}).doc("how trials are chosen"),
      ParamSpec("trials", ParamType::kInt).optional().min(1).doc("how many trials (a budget: trials, timeout or both)"),
      ParamSpec("timeout", ParamType::kString).optional().doc("seconds, or a duration like \"30m\""),
      ChoiceParam("pruner", "none", {"none", "median", "asha"}).doc("stops unpromising trials early"),
      ParamSpec("prune_metric", ParamType::kString).optional().doc("the per-epoch metric pruning judges by"),
      IntParam("min_resource", 1).min(1).doc("asha: steps before the first rung"),
      ParamSpec("max_resource", ParamType::kInt).optional().min(1).doc("asha: the most steps a trial runs"),
      IntParam("reduction_factor", 3).min(2).doc("asha: one in this many trials goes on at each rung"),
      IntParam("startup_trials", 5).min(0).doc("median: trials before pruning starts"),
      IntParam("warmup_steps", 0).min(0).doc("median: steps of a trial before it may be pruned"),
      IntParam("tpe_startup_trials", 10).min(0).doc("tpe: random trials before the model"),
      IntParam("seed", 0).min(0).doc("the sampler's seed (default: [pipeline] seed)"),
      BoolParam("tpe_multivariate", true).doc("tpe: model the parameters jointly"),
      BoolParam("warm_start", true).doc("seed the sampler with past runs of this pipeline"),
  };
  return options;
}

std::optional<Sweep> ResolveSweep(const pipeline::PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                  Diagnostics& diag) {
  const size_t before = diag.size();
  const pipeline::SweepSpec& raw = spec.sweep;
  Sweep out;
  out.seed = static_cast<uint64_t>(spec.seed);
  const std::vector<ParamSpec>& options = SweepOptions();
  auto option = [&](const std::string& name) -> const RawValue* {
    auto it = raw.options.find(name);
    return it == raw.options.end() ? nullptr : &it->second;
  };
  std::vector<std::string> option_names;
  for (const ParamSpec& p : options) option_names.push_back(p.name());
  for (const auto& [name, loc] : raw.option_keys) {
    if (std::find(option_names.begin(), option_names.end(), name) == option_names.end()) {
      diag.Error(loc, "unknown key '" + name + "' in [sweep]" + pipeline::DidYouMean(name, option_names));
    }
  }
  // An option given in the file, converted and checked against its schema as stage
  // parameters are; null when left out or wrong (reported).
  std::map<std::string, Value> given;
  for (const ParamSpec& p : options) {
    const RawValue* v = option(p.name());
    if (!v || p.name() == "timeout") continue;  // timeout: seconds or a duration text, below
    Value value;
    if (pipeline::ConvertValue(
            spec, p, *v, [](const std::string& n) { return "[sweep] " + n; }, diag, value)) {
      given[p.name()] = std::move(value);
    }
  }
  // Sets `target` to the option's value when it was given (and passed its schema).
  auto take = [&](const std::string& name, auto& target) {
    using T = std::decay_t<decltype(target)>;
    if (auto it = given.find(name); it != given.end()) target = std::get<T>(it->second);
  };

  std::vector<std::string> stage_names;
  for (const auto& s : spec.stages) stage_names.push_back(s.name);
  // The metric as the stage's plugin declares it (null when the plugin declares none, as
  // plugins built before SDK 1.0 do, or when something is already reported).
  auto check_metric = [&](const std::string& name, const std::string& value,
                          const SourceLoc& loc) -> const MetricSpec* {
    const auto dot = value.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == value.size()) {
      diag.Error(loc, "[sweep] " + name + " must name a metric as \"stage.metric\", e.g. \"eval.accuracy\"");
      return nullptr;
    }
    const pipeline::StageSpec* stage = spec.FindStage(value.substr(0, dot));
    if (!stage) {
      diag.Error(loc, "[sweep] " + name + " '" + value + "': no stage '" + value.substr(0, dot) + "' in the pipeline" +
                          pipeline::DidYouMean(value.substr(0, dot), stage_names));
      return nullptr;
    }
    std::string error;
    const plugin::PluginDescriptor* plugin = registry.Find(stage->plugin, error);
    if (!plugin || plugin->contract.metrics().empty()) return nullptr;
    const std::string metric = value.substr(dot + 1);
    if (const MetricSpec* declared = plugin->contract.FindMetric(metric)) return declared;
    std::vector<std::string> names;
    for (const MetricSpec& m : plugin->contract.metrics()) names.push_back(m.name);
    diag.Error(loc, "[sweep] " + name + " '" + value + "': stage '" + stage->name + "' (plugin " + plugin->name +
                        ") logs no metric '" + metric + "'" + pipeline::DidYouMean(metric, names) +
                        " (`sluice plugins show " + plugin->name + "` lists its metrics)");
    return nullptr;
  };

  const MetricSpec* objective = nullptr;
  if (!option("metric")) {
    diag.Error(raw.loc, "[sweep] needs metric = \"stage.metric\", the objective (e.g. \"eval.accuracy\")");
  } else {
    take("metric", out.metric);
    if (!out.metric.empty()) objective = check_metric("metric", out.metric, option("metric")->loc);
  }
  // The direction defaults to what the metric's plugin declares better; given, it must
  // agree with it.
  const bool declared = objective && objective->goal != Goal::kNone;
  std::string direction;
  if (!option("direction")) {
    if (declared) {
      out.maximize = objective->goal == Goal::kMaximize;
    } else {
      diag.Error(raw.loc, "[sweep] needs direction = \"maximize\" or \"minimize\"");
    }
  } else {
    take("direction", direction);
    out.maximize = direction != "minimize";
    if (declared && !direction.empty() && out.maximize != (objective->goal == Goal::kMaximize)) {
      diag.Error(option("direction")->loc, "[sweep] direction = \"" + direction + "\", but " + out.metric +
                                               " is better when " +
                                               (objective->goal == Goal::kMaximize ? "higher" : "lower") +
                                               " (its plugin declares it so); leave direction out, or say \"" +
                                               (objective->goal == Goal::kMaximize ? "maximize" : "minimize") + "\"");
    }
  }
  take("sampler", out.sampler);
  take("pruner", out.pruner);
  take("prune_metric", out.prune_metric);
  if (!out.prune_metric.empty()) check_metric("prune_metric", out.prune_metric, option("prune_metric")->loc);
  if (out.pruner != "none" && out.prune_metric.empty()) {
    diag.Error(option("pruner") ? option("pruner")->loc : raw.loc,
               "pruner = \"" + out.pruner +
                   "\" needs prune_metric, the metric a stage logs every epoch to judge trials by "
                   "(e.g. \"train.val_accuracy\")");
  }
  int64_t trials = 0;
  if (option("trials")) {
    take("trials", trials);
    if (trials > 0) out.trials = trials;
  }
  if (const RawValue* t = option("timeout")) {
    out.timeout_seconds = Duration(*t);
    if (!out.timeout_seconds)
      diag.Error(t->loc, "[sweep] timeout must be seconds, or a duration like \"90s\", \"30m\", \"2h\"");
  }
  take("min_resource", out.min_resource);
  if (option("max_resource")) {
    int64_t max_resource = 0;
    take("max_resource", max_resource);
    if (max_resource > 0) out.max_resource = max_resource;
  }
  take("reduction_factor", out.reduction_factor);
  take("startup_trials", out.startup_trials);
  take("warmup_steps", out.warmup_steps);
  take("tpe_startup_trials", out.tpe_startup_trials);
  int64_t seed = static_cast<int64_t>(out.seed);
  take("seed", seed);
  out.seed = static_cast<uint64_t>(seed);
  out.seed_given = option("seed") != nullptr;
  take("tpe_multivariate", out.tpe_multivariate);
  take("warm_start", out.warm_start);

  if (raw.space.empty()) {
    diag.Error(raw.loc,
               "[sweep] needs a search space: [sweep.space] with entries like \"train.lr\" = "
               "{ log_uniform = [1e-4, 1e-1] }");
  }
  for (const pipeline::SpaceEntry& e : raw.space) {
    Dimension d;
    d.key = e.key;
    d.loc = e.key_loc;
    if (e.kind == "choice") {
      d.kind = Dimension::Kind::kChoice;
      if (e.values.empty()) diag.Error(e.loc, "'choice' of '" + e.key + "' is empty");
      bool ok = true;
      for (const RawValue& v : e.values) {
        ok = CheckParamValue(spec, registry, e.key, e.key_loc, v, diag) != nullptr && ok;
        d.choices.push_back(RawToJson(v));
      }
      if (e.step) diag.Error(e.step->loc, "'step' does not apply to a choice");
      if (ok) out.space.push_back(std::move(d));
      continue;
    }
    d.kind = e.kind == "uniform"       ? Dimension::Kind::kUniform
             : e.kind == "log_uniform" ? Dimension::Kind::kLogUniform
                                       : Dimension::Kind::kInt;
    const bool integers = d.kind == Dimension::Kind::kInt;
    if (e.values.size() != 2 || !IsNumber(e.values[0]) || !IsNumber(e.values[1]) ||
        (integers && (e.values[0].type != RawValue::Type::kInt || e.values[1].type != RawValue::Type::kInt))) {
      diag.Error(e.values.empty() ? e.loc : e.values[0].loc,
                 "'" + e.kind + "' of '" + e.key + "' must be [low, high]" + (integers ? " integers" : " numbers"));
      continue;
    }
    d.low = Number(e.values[0]);
    d.high = Number(e.values[1]);
    if (!(d.low < d.high)) {
      diag.Error(e.values[0].loc, "'" + e.key + "': low must be below high");
      continue;
    }
    if (d.kind == Dimension::Kind::kLogUniform && d.low <= 0) {
      diag.Error(e.values[0].loc, "'" + e.key + "': log_uniform needs low > 0");
      continue;
    }
    if (e.step) {
      if (!IsNumber(*e.step) || Number(*e.step) <= 0 || (integers && e.step->type != RawValue::Type::kInt)) {
        diag.Error(e.step->loc, "'step' of '" + e.key + "' must be a positive " + (integers ? "integer" : "number"));
        continue;
      }
      if (d.kind == Dimension::Kind::kLogUniform) {
        diag.Error(e.step->loc, "'step' does not apply to log_uniform");
        continue;
      }
      d.step = Number(*e.step);
    }
    // Both ends must be values the parameter accepts (type and range).
    const ParamSpec* p = CheckParamValue(spec, registry, e.key, e.key_loc, e.values[0], diag);
    if (!p || !CheckParamValue(spec, registry, e.key, e.key_loc, e.values[1], diag)) continue;
    d.integer_param = p->type() == ParamType::kInt;
    if (d.integer_param && d.kind == Dimension::Kind::kUniform) {
      diag.Error(e.key_loc, "'" + e.key + "' is an integer parameter: use { int = [low, high] } (or log_uniform)");
      continue;
    }
    if (p->type() != ParamType::kInt && p->type() != ParamType::kFloat) {
      diag.Error(e.key_loc, "'" + e.key + "' is a " + ParamTypeName(p->type()) + " parameter: use { choice = [...] }");
      continue;
    }
    out.space.push_back(std::move(d));
  }
  if (out.sampler == "grid") {
    for (const Dimension& d : out.space) {
      if (d.Cardinality() == 0) {
        diag.Error(d.loc, "sampler = \"grid\" cannot enumerate '" + d.key + "': give it a step, or use int or choice");
      }
    }
  } else if (!out.trials && !out.timeout_seconds) {
    diag.Error(raw.loc, "[sweep] needs a budget: trials = N, timeout = \"30m\", or both");
  }
  if (diag.size() > before) return std::nullopt;
  return out;
}

std::optional<pipeline::ResolvedPipeline> TrialPipeline(pipeline::PipelineBuilder base, const json& params,
                                                        const plugin::PluginRegistry& registry, Diagnostics& diag) {
  const SourceLoc here{"trial parameters", 0, 0, 1};
  for (const auto& [key, value] : params.items()) {
    if (!base.Set(key, pipeline::RawValueFromJson(value, here))) diag.Error(here, "no stage for '" + key + "'");
  }
  if (!diag.empty()) return std::nullopt;
  return base.Validate(registry, std::nullopt, diag);
}

}  // namespace sluice::sweep
