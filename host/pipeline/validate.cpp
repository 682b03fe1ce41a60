// The meaning passes over a parsed pipeline, in order, each a function that reports every
// problem it finds: ResolvePlugins, CheckParameters (through the one value converter,
// which also checks [pipeline] and [sweep]), WireEdges (inputs to typed outputs),
// OrderStages (execution order; cycles). Parsing comes before them (parse.cpp), the
// sweep's pass after them (sweep/space.cpp).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "data/data_path.hpp"
#include "resolved.hpp"

namespace sluice::pipeline {

namespace fs = std::filesystem;

uint64_t StageSeed(int64_t pipeline_seed, const std::string& stage_name) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : stage_name) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  uint64_t z = static_cast<uint64_t>(pipeline_seed) ^ h;  // SplitMix64 finalizer
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z & 0x7fffffffULL;
}

namespace {

std::string Describe(const ParamSpec& p) {
  std::string text = ParamTypeName(p.type());
  const std::string constraint = p.ConstraintText();
  return constraint.empty() ? text : text + ", " + constraint;
}

// "must be in [0, 1)", "must be >= 0".
std::string MustBe(const ParamSpec& p) {
  const std::string range = p.RangeText();
  return (range[0] == '[' || range[0] == '(' ? "must be in " : "must be ") + range;
}

std::string Where(const StageSpec& stage, const std::string& param) {
  return "parameter '" + param + "' of stage '" + stage.name + "'";
}

// The one value converter: a raw value (TOML, --set, a stored pipeline) to the type a
// ParamSpec declares, with its constraints checked (range, choices, item counts, device,
// file, directory and name formats). Stage parameters, the [pipeline] table and the
// [sweep] options all go through it; `where` names the value in messages.
class ValueConverter {
 public:
  ValueConverter(const PipelineSpec& spec, WhereFn where, Diagnostics& diag)
      : spec_(spec), where_(std::move(where)), diag_(diag) {}

  bool operator()(const ParamSpec& p, const RawValue& raw, Value& out) {
    return Convert(p, raw, out) && CheckConstraints(p, raw, out);
  }

 private:
  bool TypeError(const ParamSpec& p, const RawValue& raw, const std::string& expected) {
    diag_.Error(raw.loc,
                where_(p.name()) + " must be " + expected + ", not " + RawTypeName(raw.type) + " (" + raw.text + ")");
    return false;
  }

  bool Convert(const ParamSpec& p, const RawValue& raw, Value& out) {
    using T = RawValue::Type;
    auto list_of = [&](T want, const char* expected, auto&& take) {
      if (raw.type != T::kArray) return TypeError(p, raw, expected);
      for (const RawValue& item : raw.items) {
        const bool fits = item.type == want || (want == T::kFloat && item.type == T::kInt);
        if (!fits) {
          diag_.Error(item.loc, where_(p.name()) + " must be " + expected + "; element " + item.text + " is " +
                                    RawTypeName(item.type));
          return false;
        }
        take(item);
      }
      return true;
    };
    switch (p.type()) {
      case ParamType::kBool:
        if (raw.type != T::kBool) return TypeError(p, raw, "a boolean (true or false)");
        out = raw.b;
        return true;
      case ParamType::kInt:
        if (raw.type != T::kInt) return TypeError(p, raw, "an integer");
        out = raw.i;
        return true;
      case ParamType::kFloat:
        if (raw.type == T::kInt) {
          out = static_cast<double>(raw.i);
          return true;
        }
        if (raw.type != T::kFloat) return TypeError(p, raw, "a number");
        out = raw.f;
        return true;
      case ParamType::kString:
        if (raw.type != T::kString && raw.bare.empty()) return TypeError(p, raw, "a string");
        out = raw.type == T::kString ? raw.s : raw.bare;
        return true;
      case ParamType::kIntList: {
        std::vector<int64_t> items;
        if (!list_of(T::kInt, "an array of integers, e.g. [256, 128]",
                     [&](const RawValue& i) { items.push_back(i.i); }))
          return false;
        out = std::move(items);
        return true;
      }
      case ParamType::kFloatList: {
        std::vector<double> items;
        if (!list_of(T::kFloat, "an array of numbers, e.g. [0.5, 1.0]",
                     [&](const RawValue& i) { items.push_back(i.type == T::kInt ? static_cast<double>(i.i) : i.f); }))
          return false;
        out = std::move(items);
        return true;
      }
      case ParamType::kStringList: {
        std::vector<std::string> items;
        if (!list_of(T::kString, "an array of strings, e.g. [\"a\", \"b\"]",
                     [&](const RawValue& i) { items.push_back(i.s); }))
          return false;
        out = std::move(items);
        return true;
      }
    }
    return false;
  }

  bool CheckNumber(const ParamSpec& p, double v, const RawValue& raw) {
    if (!p.InRange(v)) {
      const bool element = p.type() == ParamType::kIntList || p.type() == ParamType::kFloatList;
      diag_.Error(raw.loc,
                  (element ? "each element of " : "") + where_(p.name()) + " " + MustBe(p) + ", got " + raw.text);
      return false;
    }
    return true;
  }

  bool CheckString(const ParamSpec& p, std::string& s, const RawValue& raw) {
    if (!p.AllowsChoice(s)) {
      const std::string each = p.type() == ParamType::kStringList ? "each element of " : "";
      diag_.Error(raw.loc, each + where_(p.name()) + " must be " + p.ConstraintText() + ", got " + raw.text +
                               DidYouMean(s, p.choices()));
      return false;
    }
    switch (p.string_format()) {
      case StringFormat::kNone:
        return true;
      case StringFormat::kDevice: {
        bool ok = s == "auto" || s == "cpu" || s == "cuda";
        if (!ok && s.rfind("cuda:", 0) == 0 && s.size() > 5) {
          ok = std::all_of(s.begin() + 5, s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        }
        if (!ok) {
          diag_.Error(raw.loc, where_(p.name()) + " must be a device (auto, cpu, cuda or cuda:N), got " + raw.text +
                                   DidYouMean(s, {"auto", "cpu", "cuda"}));
        }
        return ok;
      }
      case StringFormat::kFile:
      case StringFormat::kDirectory:
        return CheckPath(p, s, raw);
      case StringFormat::kName:
        if (!IsValidName(s)) {
          diag_.Error(raw.loc, where_(p.name()) + " must be a name (" + kNameRule + "), got " + raw.text);
          return false;
        }
        return true;
    }
    return true;
  }

  // A relative path is looked for in the pipeline file's folder (the current folder for
  // --set), then along the data path; the value becomes the absolute path found. A file
  // must be a regular file: a device, FIFO or socket could be read forever.
  bool CheckPath(const ParamSpec& p, std::string& s, const RawValue& raw) {
    const bool want_dir = p.string_format() == StringFormat::kDirectory;
    const char* noun = want_dir ? "directory" : "file";
    std::error_code ec;
    fs::path path(s);
    if (s.empty()) {
      diag_.Error(raw.loc, where_(p.name()) + " must name a " + noun + ", got an empty string");
      return false;
    }
    if (path.is_relative()) {
      const fs::path base = raw.loc.file == "--set" ? fs::current_path(ec) : fs::path(spec_.file).parent_path();
      std::vector<fs::path> tried;
      std::optional<fs::path> found = data::FindData(path, base, &tried);
      if (!found) {
        std::string folders;
        for (const fs::path& t : tried) folders += (folders.empty() ? "" : ", ") + t.string();
        diag_.Error(raw.loc, where_(p.name()) + ": no " + noun + " '" + s + "' in " + folders +
                                 " (the pipeline's folder, then the data path: SLUICE_DATA_PATH adds folders, "
                                 "tools/setup installs the shipped pipelines' data)");
        return false;
      }
      path = *found;
    } else {
      path = path.lexically_normal();
    }
    const std::string kind = data::FileKind(path);
    if (kind.empty()) {
      diag_.Error(raw.loc, where_(p.name()) + ": no such " + noun + " '" + path.string() + "'");
      return false;
    }
    const bool ok = want_dir ? kind == "a directory" : kind == "a regular file";
    if (!ok) {
      diag_.Error(raw.loc, where_(p.name()) + ": '" + path.string() + "' is " + kind + ", not " +
                               (want_dir ? "a directory" : "a regular file"));
      return false;
    }
    s = path.string();
    return true;
  }

  bool CheckConstraints(const ParamSpec& p, const RawValue& raw, Value& value) {
    bool ok = true;
    if (auto* i = std::get_if<int64_t>(&value)) ok = CheckNumber(p, static_cast<double>(*i), raw);
    if (auto* d = std::get_if<double>(&value)) ok = CheckNumber(p, *d, raw);
    if (auto* s = std::get_if<std::string>(&value)) ok = CheckString(p, *s, raw);
    auto check_items = [&](auto& items, auto&& check) {
      const auto n = static_cast<int64_t>(items.size());
      if (!p.AllowsItemCount(n)) {
        std::string bounds;
        if (p.min_item_count()) bounds = "at least " + std::to_string(*p.min_item_count());
        if (p.max_item_count())
          bounds += (bounds.empty() ? "at most " : " and at most ") + std::to_string(*p.max_item_count());
        diag_.Error(raw.loc, where_(p.name()) + " must have " + bounds + " items, got " + std::to_string(n));
        ok = false;
      }
      for (size_t k = 0; k < items.size(); ++k) ok = check(items[k], raw.items[k]) && ok;
    };
    if (auto* v = std::get_if<std::vector<int64_t>>(&value)) {
      check_items(*v, [&](int64_t x, const RawValue& r) { return CheckNumber(p, static_cast<double>(x), r); });
    }
    if (auto* v = std::get_if<std::vector<double>>(&value)) {
      check_items(*v, [&](double x, const RawValue& r) { return CheckNumber(p, x, r); });
    }
    if (auto* v = std::get_if<std::vector<std::string>>(&value)) {
      check_items(*v, [&](std::string& x, const RawValue& r) { return CheckString(p, x, r); });
    }
    return ok;
  }

  const PipelineSpec& spec_;
  WhereFn where_;
  Diagnostics& diag_;
};

// Checks a stage's parameters against its plugin's contract.
class StageChecker {
 public:
  StageChecker(const PipelineSpec& spec, const StageSpec& stage, const Contract& contract, Diagnostics& diag)
      : stage_(stage),
        contract_(contract),
        diag_(diag),
        convert_(
            spec, [&stage](const std::string& name) { return Where(stage, name); }, diag) {}

  // Converts and checks one value for parameter `p` (as if the stage set it).
  bool CheckOne(const ParamSpec& p, const RawValue& raw, Value& out) { return convert_(p, raw, out); }

  // Converts and checks every parameter; fills `out` with all declared parameters.
  bool Check(Params& out, uint64_t stage_seed) {
    bool ok = true;
    std::vector<std::string> names;
    for (const ParamSpec& p : contract_.params()) names.push_back(p.name());
    std::set<std::string> given;
    for (const ParamEntry& entry : stage_.params) {
      given.insert(entry.name);
      const ParamSpec* p = contract_.FindParam(entry.name);
      if (!p) {
        diag_.Error(entry.name_loc, "unknown parameter '" + entry.name + "' of stage '" + stage_.name + "' (plugin " +
                                        contract_.name() + ")" + DidYouMean(entry.name, names));
        ok = false;
        continue;
      }
      Value value;
      if (convert_(*p, entry.value, value)) {
        out.Set(p->name(), std::move(value));
      } else {
        ok = false;
      }
    }
    for (const ParamSpec& p : contract_.params()) {
      if (given.count(p.name())) continue;
      if (p.has_default()) {
        out.Set(p.name(), p.default_value());
      } else if (p.name() == "seed" && p.type() == ParamType::kInt) {
        out.Set("seed", static_cast<int64_t>(stage_seed));  // derived from [pipeline] seed
      } else if (p.is_optional()) {
        out.Set(p.name(), std::monostate{});
      } else {
        const std::string doc = p.doc().empty() ? "" : ": " + p.doc();
        diag_.Error(stage_.name_loc, "stage '" + stage_.name + "' (plugin " + contract_.name() +
                                         ") is missing required parameter '" + p.name() + "' (" + Describe(p) + ")" +
                                         doc);
        ok = false;
      }
    }
    return ok;
  }

 private:
  const StageSpec& stage_;
  const Contract& contract_;
  Diagnostics& diag_;
  ValueConverter convert_;
};

nlohmann::ordered_json JsonValue(const Value& value) {
  return std::visit(
      [](const auto& v) -> nlohmann::ordered_json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(v)) return ValueToString(v);  // JSON has no NaN or infinity
          return v;
        } else {
          return v;
        }
      },
      value);
}

std::string PortList(const std::vector<PortSpec>& ports) {
  std::string text;
  for (const PortSpec& p : ports) text += (text.empty() ? "" : ", ") + p.name + " (" + p.type + ")";
  return text.empty() ? "none" : text;
}

// The state the validation passes share.
struct Validation {
  const PipelineSpec& spec;
  const plugin::PluginRegistry& registry;
  Diagnostics& diag;
  std::map<std::string, ResolvedStage> resolved;                                   // by stage name
  std::map<std::string, std::vector<std::pair<std::string, SourceLoc>>> upstream;  // stage -> (dep, where)
  std::vector<std::string> order;                                                  // execution order

  std::vector<std::string> StageNames() const {
    std::vector<std::string> names;
    for (const StageSpec& s : spec.stages) names.push_back(s.name);
    return names;
  }
};

// Pass "resolve plugins": each stage's plugin, found by name on the plugin path.
void ResolvePlugins(Validation& v) {
  const std::vector<std::string> plugin_names = v.registry.Names();
  for (const StageSpec& stage : v.spec.stages) {
    ResolvedStage r;
    r.name = stage.name;
    r.seed = StageSeed(v.spec.seed, stage.name);
    if (!stage.plugin.empty()) {
      std::string error;
      r.plugin = v.registry.Find(stage.plugin, error);
      if (!r.plugin) {
        if (error.rfind("unknown plugin", 0) == 0) {
          const size_t unreadable = v.registry.issues().size();
          error += " in stage '" + stage.name + "'" + DidYouMean(stage.plugin, plugin_names) +
                   " (`sluice plugins list` shows the installed plugins" +
                   (unreadable ? ", and " + std::to_string(unreadable) + " warning" + (unreadable == 1 ? "" : "s") +
                                     " about files on the plugin path)"
                               : std::string(")"));
        }
        v.diag.Error(stage.plugin_loc, error);
      }
    }
    v.resolved.emplace(stage.name, std::move(r));
  }
}

// Pass "check parameters": each stage's parameters against its plugin's schema, through
// the value converter; defaults filled in, the stage's seed derived.
void CheckParameters(Validation& v) {
  for (const StageSpec& stage : v.spec.stages) {
    ResolvedStage& r = v.resolved.at(stage.name);
    if (!r.plugin) continue;  // reported by ResolvePlugins
    StageChecker(v.spec, stage, r.plugin->contract, v.diag).Check(r.params, r.seed);
    if (r.params.Has("seed")) r.seed = static_cast<uint64_t>(r.params.Int("seed"));
  }
}

// Pass "wire edges": each input to an output of the same port type.
void WireEdges(Validation& v) {
  const PipelineSpec& spec = v.spec;
  Diagnostics& diag = v.diag;
  std::map<std::string, ResolvedStage>& resolved = v.resolved;
  auto& upstream = v.upstream;
  const std::vector<std::string> stage_names = v.StageNames();
  for (const StageSpec& stage : spec.stages) {
    ResolvedStage& r = resolved.at(stage.name);
    const Contract* contract = r.plugin ? &r.plugin->contract : nullptr;
    std::vector<std::string> port_names;
    if (contract) {
      for (const PortSpec& p : contract->inputs()) port_names.push_back(p.name);
    }
    std::set<std::string> wired;
    for (const InputSpec& input : stage.inputs) {
      const PortSpec* port = contract ? contract->FindInput(input.port) : nullptr;
      if (contract && !port) {
        diag.Error(input.port_loc, "stage '" + stage.name + "' has no input port '" + input.port + "' (plugin " +
                                       contract->name() + " takes " + PortList(contract->inputs()) + ")" +
                                       DidYouMean(input.port, port_names));
      }
      wired.insert(input.port);
      const auto dot = input.source.find('.');
      const std::string from = input.source.substr(0, dot);
      const std::string from_port = dot == std::string::npos ? "" : input.source.substr(dot + 1);
      const StageSpec* source = spec.FindStage(from);
      if (!source) {
        diag.Error(input.source_loc, "input '" + input.port + "' of stage '" + stage.name + "' names stage '" + from +
                                         "', which does not exist" + DidYouMean(from, stage_names));
        continue;
      }
      upstream[stage.name].emplace_back(from, input.source_loc);
      const ResolvedStage& src = resolved.at(from);
      if (!src.plugin || !port) continue;  // already reported
      const std::vector<PortSpec>& outputs = src.plugin->contract.outputs();
      const PortSpec* chosen = nullptr;
      if (!from_port.empty()) {
        chosen = src.plugin->contract.FindOutput(from_port);
        if (!chosen) {
          std::vector<std::string> out_names;
          for (const PortSpec& o : outputs) out_names.push_back(o.name);
          diag.Error(input.source_loc, "stage '" + from + "' has no output port '" + from_port + "' (plugin " +
                                           src.plugin->name + " outputs " + PortList(outputs) + ")" +
                                           DidYouMean(from_port, out_names));
          continue;
        }
      } else {
        std::vector<const PortSpec*> same_type;
        for (const PortSpec& o : outputs) {
          if (o.type == port->type) same_type.push_back(&o);
        }
        if (same_type.size() == 1) {
          chosen = same_type.front();
        } else if (same_type.size() > 1) {
          diag.Error(input.source_loc, "stage '" + from + "' has several " + port->type + " outputs; name one as \"" +
                                           from + ".PORT\" (" + PortList(outputs) + ")");
          continue;
        } else if (outputs.size() == 1) {
          chosen = &outputs.front();
        } else if (outputs.empty()) {
          diag.Error(input.source_loc, "input '" + input.port + "' of stage '" + stage.name + "' names stage '" + from +
                                           "', which has no outputs (plugin " + src.plugin->name + ")");
          continue;
        }
      }
      if (!chosen || chosen->type != port->type) {
        diag.Error(input.source_loc, "input '" + input.port + "' of stage '" + stage.name + "' expects " + port->type +
                                         ", but stage '" + from + "' (plugin " + src.plugin->name + ") outputs " +
                                         PortList(outputs));
        continue;
      }
      r.inputs.push_back({input.port, from, chosen->name, chosen->type});
    }
    if (contract) {
      for (const PortSpec& p : contract->inputs()) {
        if (p.optional || wired.count(p.name)) continue;
        diag.Error(stage.name_loc, "stage '" + stage.name + "' (plugin " + contract->name() + ") needs input '" +
                                       p.name + "' (" + p.type + "): add inputs = { " + p.name + " = \"STAGE\" }");
      }
    }
  }
}

// Pass "order stages": execution order (Kahn's algorithm, ties in file order); a cycle is
// reported along the data flow.
void OrderStages(Validation& v) {
  const PipelineSpec& spec = v.spec;
  Diagnostics& diag = v.diag;
  auto& upstream = v.upstream;
  std::vector<std::string>& order = v.order;
  // Kahn's algorithm, taking of the stages ready the first declared: a stage runs after
  // all it reads from, otherwise in the file's order.
  const size_t n = spec.stages.size();
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < n; ++i) position.emplace(spec.stages[i].name, i);
  std::vector<size_t> pending(n);
  std::vector<std::vector<size_t>> readers(n);
  std::set<size_t> ready;
  for (size_t i = 0; i < n; ++i) {
    std::set<std::string> deps;
    for (const auto& [dep, loc] : upstream[spec.stages[i].name]) deps.insert(dep);
    pending[i] = deps.size();
    for (const std::string& dep : deps) {
      if (auto at = position.find(dep); at != position.end()) readers[at->second].push_back(i);
    }
    if (pending[i] == 0) ready.insert(i);
  }
  std::vector<bool> ordered(n, false);
  while (!ready.empty()) {
    const size_t next = *ready.begin();
    ready.erase(ready.begin());
    ordered[next] = true;
    order.push_back(spec.stages[next].name);
    for (size_t reader : readers[next]) {
      if (--pending[reader] == 0) ready.insert(reader);
    }
  }
  const auto done = [&](const std::string& name) {
    const auto at = position.find(name);
    return at != position.end() && ordered[at->second];
  };
  if (order.size() < spec.stages.size()) {
    // Walk upstream edges from a stuck stage until one repeats: that loop is the cycle.
    std::string at;
    for (const StageSpec& s : spec.stages) {
      if (!done(s.name)) {
        at = s.name;
        break;
      }
    }
    std::vector<std::string> path;
    std::vector<SourceLoc> where;
    while (std::find(path.begin(), path.end(), at) == path.end()) {
      path.push_back(at);
      for (const auto& [dep, loc] : upstream[at]) {
        if (!done(dep)) {
          where.push_back(loc);
          at = dep;
          break;
        }
      }
    }
    // The walk went against the data flow (x0 <- x1 <- ... <- xk <- x0); print it along
    // the flow: x0 -> xk -> ... -> x1 -> x0.
    auto start = std::find(path.begin(), path.end(), at);
    std::string cycle = at;
    for (auto it = path.rbegin(); it != std::make_reverse_iterator(start + 1); ++it) cycle += " -> " + *it;
    cycle += " -> " + at;
    const SourceLoc loc = where[static_cast<size_t>(start - path.begin())];
    diag.Error(loc, "the stages form a cycle: " + cycle + " (inputs must flow one way)");
  }
}

}  // namespace

std::optional<ResolvedPipeline> Validate(const PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                         Diagnostics& diag) {
  const size_t errors_before = diag.size();
  ResolvedPipeline out;
  out.name = spec.name;
  std::error_code ec;
  out.file = fs::absolute(spec.file, ec).lexically_normal().string();
  out.description = spec.description;
  out.seed = spec.seed;
  out.threads = spec.threads;

  // The passes, in order; each reports every problem it finds. (Parsing, before them,
  // is ParsePipeline; the sweep, after them, is sweep::ResolveSweep.)
  Validation v{spec, registry, diag, {}, {}, {}};
  ResolvePlugins(v);
  CheckParameters(v);
  WireEdges(v);
  OrderStages(v);

  if (diag.size() > errors_before) return std::nullopt;
  for (const std::string& name : v.order) {
    ResolvedStage& stage = v.resolved.at(name);
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    for (const auto& [key, value] : stage.params.values()) params[key] = JsonValue(value);
    stage.params_json = params.dump();
    out.stages.push_back(std::move(stage));
  }
  return out;
}

const ParamSpec* CheckParamValue(const PipelineSpec& spec, const plugin::PluginRegistry& registry,
                                 const std::string& key, const SourceLoc& key_loc, const RawValue& value,
                                 Diagnostics& diag, Value* out) {
  const auto dot = key.find('.');
  const std::string stage_name = dot == std::string::npos ? key : key.substr(0, dot);
  const std::string param = dot == std::string::npos ? "" : key.substr(dot + 1);
  const StageSpec* stage = spec.FindStage(stage_name);
  if (!stage || param.empty()) {
    std::vector<std::string> names;
    for (const StageSpec& s : spec.stages) names.push_back(s.name);
    diag.Error(key_loc, "'" + key + "' is not STAGE.PARAM of this pipeline" +
                            (stage ? "" : "; no stage '" + stage_name + "'" + DidYouMean(stage_name, names)));
    return nullptr;
  }
  std::string error;
  const plugin::PluginDescriptor* plugin = registry.Find(stage->plugin, error);
  if (!plugin) return nullptr;  // the stage itself is reported by Validate
  const ParamSpec* p = plugin->contract.FindParam(param);
  if (!p) {
    std::vector<std::string> names;
    for (const ParamSpec& candidate : plugin->contract.params()) names.push_back(candidate.name());
    diag.Error(key_loc, "stage '" + stage_name + "' (plugin " + plugin->name + ") has no parameter '" + param + "'" +
                            DidYouMean(param, names));
    return nullptr;
  }
  Value converted;
  if (!StageChecker(spec, *stage, plugin->contract, diag).CheckOne(*p, value, converted)) return nullptr;
  if (out) *out = std::move(converted);
  return p;
}

bool ConvertValue(const PipelineSpec& spec, const ParamSpec& p, const RawValue& raw, const WhereFn& where,
                  Diagnostics& diag, Value& out) {
  return ValueConverter(spec, where, diag)(p, raw, out);
}

const std::vector<ParamSpec>& PipelineOptions() {
  static const std::vector<ParamSpec> options = {
      ParamSpec("name", ParamType::kString).optional().doc("the pipeline's name (default: the file's name)"),
      IntParam("seed", 0).min(0).doc("seeds every stage (each gets one derived from it and its name)"),
      IntParam("threads", 0).min(0).doc("LibTorch's intra-op threads (0: one per core)"),
      ParamSpec("description", ParamType::kString).optional().doc("a line about the pipeline"),
  };
  return options;
}

std::map<std::string, std::string> ResolvedPipeline::ParamsJson() const {
  std::map<std::string, std::string> params;
  params["pipeline.seed"] = std::to_string(seed);
  params["pipeline.threads"] = std::to_string(threads);
  for (const ResolvedStage& s : stages) {
    for (const auto& [key, value] : s.params.values()) params[s.name + "." + key] = JsonValue(value).dump();
  }
  return params;
}

std::string ResolvedPipeline::ToJson() const {
  nlohmann::ordered_json j;
  j["name"] = name;
  j["file"] = file;
  j["seed"] = seed;
  j["threads"] = threads;
  nlohmann::ordered_json stages_json = nlohmann::ordered_json::array();
  for (const ResolvedStage& s : stages) {
    nlohmann::ordered_json st;
    st["name"] = s.name;
    st["plugin"] = s.plugin->name;
    st["plugin_version"] = s.plugin->version;
    nlohmann::ordered_json inputs = nlohmann::ordered_json::object();
    for (const ResolvedInput& in : s.inputs) inputs[in.port] = in.from_stage + "." + in.from_port;
    st["inputs"] = inputs;
    st["params"] = nlohmann::ordered_json::parse(s.params_json);
    stages_json.push_back(std::move(st));
  }
  j["stages"] = std::move(stages_json);
  return j.dump();
}

}  // namespace sluice::pipeline
