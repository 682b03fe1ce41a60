// TOML text -> PipelineSpec. The only translation unit that includes toml++ (Debian's
// compiled toml++ is built with exceptions, so parse errors arrive as toml::parse_error).
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "resolved.hpp"
#include "sluice/excerpt.hpp"
#include "spec.hpp"

namespace sluice::pipeline {

const char* RawTypeName(RawValue::Type type) {
  switch (type) {
    case RawValue::Type::kBool:
      return "a boolean";
    case RawValue::Type::kInt:
      return "an integer";
    case RawValue::Type::kFloat:
      return "a float";
    case RawValue::Type::kString:
      return "a string";
    case RawValue::Type::kArray:
      return "an array";
    case RawValue::Type::kTable:
      return "a table";
    case RawValue::Type::kOther:
      return "a date or time";
  }
  return "a value";
}

StageSpec* PipelineSpec::FindStage(const std::string& stage_name) {
  for (StageSpec& s : stages) {
    if (s.name == stage_name) return &s;
  }
  return nullptr;
}

const StageSpec* PipelineSpec::FindStage(const std::string& stage_name) const {
  return const_cast<PipelineSpec*>(this)->FindStage(stage_name);
}

namespace {

SourceLoc Loc(const std::string& file, const toml::source_region& region) {
  SourceLoc loc{file, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column), 1};
  if (region.end.line == region.begin.line && region.end.column > region.begin.column) {
    loc.length = static_cast<int>(region.end.column - region.begin.column);
  }
  return loc;
}

// The value as the user wrote it (quoted from the source when it sits on one line).
std::string NodeText(const toml::node& node, const SourceLoc& loc, const SourceTexts& texts) {
  const std::string_view line = texts.Line(loc.file, loc.line);
  if (loc.column >= 1 && loc.length > 1 && static_cast<size_t>(loc.column - 1 + loc.length) <= line.size()) {
    return std::string(line.substr(static_cast<size_t>(loc.column - 1), static_cast<size_t>(loc.length)));
  }
  if (const auto* str = node.as_string()) return "\"" + str->get() + "\"";
  std::ostringstream out;
  node.visit([&](const auto& n) { out << n; });
  return out.str();
}

RawValue ToRaw(const toml::node& node, const SourceLoc& loc, const SourceTexts& texts) {
  RawValue v;
  v.loc = loc;
  switch (node.type()) {
    case toml::node_type::boolean:
      v.type = RawValue::Type::kBool;
      v.b = node.as_boolean()->get();
      break;
    case toml::node_type::integer:
      v.type = RawValue::Type::kInt;
      v.i = node.as_integer()->get();
      break;
    case toml::node_type::floating_point:
      v.type = RawValue::Type::kFloat;
      v.f = node.as_floating_point()->get();
      break;
    case toml::node_type::string:
      v.type = RawValue::Type::kString;
      v.s = node.as_string()->get();
      break;
    case toml::node_type::array:
      v.type = RawValue::Type::kArray;
      for (const toml::node& item : *node.as_array()) {
        // Items of a --set value share its location; they are quoted from toml++ then.
        SourceLoc item_loc =
            loc.file == "--set" ? SourceLoc{loc.file, loc.line, loc.column, 1} : Loc(loc.file, item.source());
        v.items.push_back(ToRaw(item, item_loc, texts));
      }
      break;
    case toml::node_type::table:
      v.type = RawValue::Type::kTable;
      break;
    default:
      v.type = RawValue::Type::kOther;
      break;
  }
  v.text = NodeText(node, loc, texts);
  return v;
}

// A table's entries in file order (toml++ keeps them sorted by key).
std::vector<std::pair<const toml::key*, const toml::node*>> InFileOrder(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [key, node] : table) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& ra = a.first->source().begin;
    const auto& rb = b.first->source().begin;
    return ra.line != rb.line ? ra.line < rb.line : ra.column < rb.column;
  });
  return entries;
}

bool ValidStageName(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

std::string SyntaxMessage(std::string_view description) {
  // toml++ says "Error while parsing key-value pair: cannot redefine existing integer 'x'".
  std::string text(description);
  const std::string prefix = "Error while parsing ";
  if (text.rfind(prefix, 0) == 0) {
    auto colon = text.find(": ");
    if (colon != std::string::npos) text = text.substr(colon + 2);
  }
  if (text.find("cannot redefine existing") != std::string::npos) {
    text += " (each key may be defined only once)";
  }
  return "TOML syntax: " + text;
}

// One [pipeline] key, from the file or from --set pipeline.KEY=..., checked against
// PipelineOptions() by the converter stage parameters go through.
void SetPipelineOption(PipelineSpec& spec, const std::string& key, const SourceLoc& key_loc, const RawValue& raw,
                       Diagnostics& diag) {
  const std::vector<ParamSpec>& options = PipelineOptions();
  auto option = std::find_if(options.begin(), options.end(), [&](const ParamSpec& p) { return p.name() == key; });
  if (option == options.end()) {
    std::vector<std::string> names;
    std::string known;
    for (const ParamSpec& p : options) {
      names.push_back(p.name());
      known += (known.empty() ? "" : ", ") + p.name();
    }
    diag.Error(key_loc, "unknown key '" + key + "' in [pipeline]" + DidYouMean(key, names) + " (known: " + known + ")");
    return;
  }
  Value value;
  auto where = [](const std::string& name) { return "[pipeline] " + name; };
  if (!ConvertValue(spec, *option, raw, where, diag, value)) return;
  if (key == "name") {
    spec.name = std::get<std::string>(value);
    spec.name_loc = raw.loc;
    if (spec.name.empty()) diag.Error(raw.loc, "[pipeline] name must not be empty");
  } else if (key == "description") {
    spec.description = std::get<std::string>(value);
  } else if (key == "seed") {
    spec.seed = std::get<int64_t>(value);
    spec.seed_loc = raw.loc;
  } else if (key == "threads") {
    spec.threads = std::get<int64_t>(value);
  }
}

void ParsePipelineTable(PipelineSpec& spec, const toml::table& table, const SourceTexts& texts, Diagnostics& diag) {
  for (const auto& [key, node] : InFileOrder(table)) {
    SetPipelineOption(spec, std::string(key->str()), Loc(spec.file, key->source()),
                      ToRaw(*node, Loc(spec.file, node->source()), texts), diag);
  }
}

void ParseStage(PipelineSpec& spec, const toml::key& key, const toml::node& node, const SourceTexts& texts,
                Diagnostics& diag) {
  StageSpec stage;
  stage.name = std::string(key.str());
  stage.name_loc = Loc(spec.file, key.source());
  if (!ValidStageName(stage.name) || stage.name == "pipeline") {
    diag.Error(stage.name_loc, "invalid stage name '" + stage.name +
                                   "': use letters, digits, '_' and '-', starting with a letter"
                                   " ('pipeline' is reserved)");
  }
  const toml::table* table = node.as_table();
  if (!table) {
    const SourceLoc loc = Loc(spec.file, node.source());
    diag.Error(loc, "stage '" + stage.name + "' must be a table ([stages." + stage.name + "]), not " +
                        NodeText(node, loc, texts));
    return;
  }
  for (const auto& [k, v] : InFileOrder(*table)) {
    const std::string name(k->str());
    const SourceLoc key_loc = Loc(spec.file, k->source());
    const SourceLoc value_loc = Loc(spec.file, v->source());
    if (name == "plugin") {
      if (!v->is_string()) {
        diag.Error(value_loc, "'plugin' of stage '" + stage.name + "' must be a string naming a plugin");
        continue;
      }
      stage.plugin = v->as_string()->get();
      stage.plugin_loc = value_loc;
    } else if (name == "inputs") {
      const toml::table* inputs = v->as_table();
      if (!inputs) {
        diag.Error(value_loc, "'inputs' of stage '" + stage.name +
                                  "' must be a table of port = \"stage\" or \"stage.port\", e.g. "
                                  "inputs = { data = \"data\" }");
        continue;
      }
      for (const auto& [port_key, source] : InFileOrder(*inputs)) {
        InputSpec input;
        input.port = std::string(port_key->str());
        input.port_loc = Loc(spec.file, port_key->source());
        input.source_loc = Loc(spec.file, source->source());
        if (!source->is_string()) {
          diag.Error(input.source_loc, "input '" + input.port + "' of stage '" + stage.name +
                                           "' must name a stage as a string (\"stage\" or \"stage.port\")");
          continue;
        }
        input.source = source->as_string()->get();
        stage.inputs.push_back(std::move(input));
      }
    } else {
      stage.params.push_back({name, key_loc, ToRaw(*v, value_loc, texts)});
    }
  }
  if (stage.plugin.empty() && !table->contains("plugin")) {
    diag.Error(stage.name_loc,
               "stage '" + stage.name + "' has no 'plugin'; add plugin = \"NAME\" (see `sluice plugins list`)");
  }
  spec.stages.push_back(std::move(stage));
}

void ParseSweep(PipelineSpec& spec, const toml::table& table, const SourceTexts& texts, Diagnostics& diag) {
  static const std::vector<std::string> kKinds = {"uniform", "log_uniform", "int", "choice"};
  for (const auto& [key, node] : InFileOrder(table)) {
    const std::string k(key->str());
    const SourceLoc key_loc = Loc(spec.file, key->source());
    const SourceLoc value_loc = Loc(spec.file, node->source());
    if (k != "space") {
      spec.sweep.options[k] = ToRaw(*node, value_loc, texts);
      spec.sweep.option_keys[k] = key_loc;
      continue;
    }
    const toml::table* space = node->as_table();
    spec.sweep.space_loc = key_loc;
    if (!space) {
      diag.Error(value_loc, "[sweep.space] must be a table of \"stage.param\" = { uniform = [lo, hi] } entries");
      continue;
    }
    for (const auto& [param_key, entry_node] : InFileOrder(*space)) {
      SpaceEntry entry;
      entry.key = std::string(param_key->str());
      entry.key_loc = Loc(spec.file, param_key->source());
      entry.loc = Loc(spec.file, entry_node->source());
      const toml::table* entry_table = entry_node->as_table();
      if (!entry_table) {
        diag.Error(entry.loc, "search space of '" + entry.key +
                                  "' must be a table such as { uniform = [0.0, 1.0] }, { log_uniform = [1e-4, 1e-1] }, "
                                  "{ int = [1, 8] } or { choice = [...] }");
        continue;
      }
      bool reported = false;
      for (const auto& [field_key, field] : InFileOrder(*entry_table)) {
        const std::string f(field_key->str());
        const SourceLoc field_loc = Loc(spec.file, field_key->source());
        if (f == "step") {
          entry.step = ToRaw(*field, Loc(spec.file, field->source()), texts);
          continue;
        }
        if (std::find(kKinds.begin(), kKinds.end(), f) == kKinds.end()) {
          diag.Error(field_loc, "unknown search space kind '" + f + "' for '" + entry.key + "'" +
                                    DidYouMean(f, kKinds) + " (uniform, log_uniform, int, choice; plus step)");
          reported = true;
          continue;
        }
        if (!entry.kind.empty()) {
          diag.Error(field_loc,
                     "'" + entry.key + "' has two search space kinds ('" + entry.kind + "' and '" + f + "')");
          continue;
        }
        entry.kind = f;
        const RawValue values = ToRaw(*field, Loc(spec.file, field->source()), texts);
        if (values.type != RawValue::Type::kArray) {
          diag.Error(values.loc, "'" + f + "' of '" + entry.key + "' must be an array, e.g. " +
                                     (f == "choice" ? "[64, 128, 256]" : "[lo, hi]"));
          entry.kind = "invalid";
          continue;
        }
        entry.values = values.items;
      }
      if (entry.kind.empty()) {
        if (reported) continue;
        diag.Error(entry.loc, "search space of '" + entry.key + "' needs one of uniform, log_uniform, int or choice");
        continue;
      }
      if (entry.kind != "invalid") spec.sweep.space.push_back(std::move(entry));
    }
  }
}

}  // namespace

PipelineSpec ParsePipeline(const std::string& file, const std::string& text, SourceTexts& texts, Diagnostics& diag) {
  texts.Add(file, text);
  PipelineSpec spec;
  spec.file = file;
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& error) {
    diag.Error(Loc(file, error.source()), SyntaxMessage(error.description()));
    return spec;
  }
  static const std::vector<std::string> kTopLevel = {"pipeline", "stages", "sweep"};
  bool has_stages = false;
  for (const auto& [key, node] : InFileOrder(root)) {
    const std::string k(key->str());
    const SourceLoc loc = Loc(file, key->source());
    if (k == "pipeline") {
      if (const toml::table* t = node->as_table()) {
        ParsePipelineTable(spec, *t, texts, diag);
      } else {
        diag.Error(loc, "'pipeline' must be a table ([pipeline])");
      }
    } else if (k == "stages") {
      const toml::table* stages = node->as_table();
      if (!stages) {
        diag.Error(loc, "'stages' must be a table of stages ([stages.NAME])");
        continue;
      }
      has_stages = true;
      for (const auto& [stage_key, stage_node] : InFileOrder(*stages))
        ParseStage(spec, *stage_key, *stage_node, texts, diag);
      if (stages->empty()) {
        diag.Error(loc, "the pipeline has no stages; add one as [stages.NAME] with plugin = \"...\"");
      }
    } else if (k == "sweep") {
      spec.sweep.present = true;
      spec.sweep.loc = loc;
      if (const toml::table* t = node->as_table()) {
        ParseSweep(spec, *t, texts, diag);
      } else {
        diag.Error(loc, "'sweep' must be a table ([sweep])");
      }
    } else {
      diag.Error(loc, "unknown top-level key '" + k + "'" + DidYouMean(k, kTopLevel) +
                          " (a pipeline has [pipeline], [stages.NAME] and [sweep] tables)");
    }
  }
  if (!has_stages) {
    diag.Error(SourceLoc{file, 1, 1, 1}, "the pipeline has no stages; add one as [stages.NAME] with plugin = \"...\"");
  }
  if (spec.name.empty() && !(root["pipeline"].as_table() && root["pipeline"].as_table()->contains("name"))) {
    // No name given: the pipeline is named after its file.
    const std::string base = file.substr(file.find_last_of('/') + 1);
    spec.name = base.substr(0, base.rfind('.'));
  }
  return spec;
}

PipelineSpec ParsePipelineFile(const std::string& file, SourceTexts& texts, Diagnostics& diag) {
  if (FirstInvalidUtf8(file) != std::string_view::npos) {
    diag.Error(SourceLoc{Excerpt(file, 200), 0, 0, 1},
               "the pipeline file's name is not UTF-8; rename it (or run it through a link with a UTF-8 name)");
    PipelineSpec spec;
    spec.file = Excerpt(file, 200);
    return spec;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diag.Error(SourceLoc{file, 0, 0, 1}, std::string("cannot read pipeline file: ") + std::strerror(errno));
    PipelineSpec spec;
    spec.file = file;
    return spec;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParsePipeline(file, text.str(), texts, diag);
}

void ApplyOverrides(PipelineSpec& spec, const std::vector<std::string>& overrides, SourceTexts& texts,
                    Diagnostics& diag) {
  std::string all;
  for (const std::string& o : overrides) all += o + "\n";
  texts.Add("--set", all);
  int line = 0;
  for (const std::string& text : overrides) {
    ++line;
    // Everything a run records is UTF-8 (TOML files are); a command line may not be.
    if (const size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[bad]));
      diag.Error(SourceLoc{"--set", line, static_cast<int>(bad) + 1, 1},
                 std::string("--set is not UTF-8 (byte ") + hex +
                     "); a file name in another encoding needs renaming, or a link with a UTF-8 name");
      continue;
    }
    const auto eq = text.find('=');
    const std::string key = text.substr(0, eq);
    SourceLoc key_loc{"--set", line, 1, std::max<int>(1, static_cast<int>(key.size()))};
    if (eq == std::string::npos || key.find('.') == std::string::npos || key.front() == '.' || key.back() == '.') {
      diag.Error(key_loc, "--set takes STAGE.KEY=VALUE (or pipeline.seed=N), got '" + Excerpt(text, 80) + "'");
      continue;
    }
    const std::string raw_value = text.substr(eq + 1);
    SourceLoc value_loc{"--set", line, static_cast<int>(eq) + 2, std::max<int>(1, static_cast<int>(raw_value.size()))};
    RawValue value;
    std::optional<toml::table> parsed;
    std::string syntax_error;
    try {
      parsed = toml::parse("v = " + raw_value);
    } catch (const toml::parse_error& error) {
      syntax_error = SyntaxMessage(error.description());
    }
    if (parsed && parsed->contains("v")) {
      value = ToRaw(*parsed->get("v"), value_loc, texts);
      if (value.type != RawValue::Type::kString && value.type != RawValue::Type::kArray &&
          value.type != RawValue::Type::kTable)
        value.bare = raw_value;
    } else if (!raw_value.empty() && std::strchr("[{\"'", raw_value.front())) {
      diag.Error(value_loc, "--set value is not valid TOML: " + syntax_error);
      continue;
    } else {
      value.type = RawValue::Type::kString;  // a bare word: cuda:0, adamw
      value.s = raw_value;
      value.text = "\"" + raw_value + "\"";
      value.loc = value_loc;
    }
    const auto dot = key.find('.');
    const std::string stage_name = key.substr(0, dot);
    const std::string param = key.substr(dot + 1);
    SourceLoc param_loc{"--set", line, static_cast<int>(dot) + 2, static_cast<int>(param.size())};
    if (stage_name == "pipeline") {
      SetPipelineOption(spec, param, param_loc, value, diag);
      continue;
    }
    StageSpec* stage = spec.FindStage(stage_name);
    if (!stage) {
      std::vector<std::string> names;
      for (const StageSpec& s : spec.stages) names.push_back(s.name);
      diag.Error(SourceLoc{"--set", line, 1, static_cast<int>(stage_name.size())},
                 "no stage '" + stage_name + "' in the pipeline" + DidYouMean(stage_name, names));
      continue;
    }
    if (param == "plugin") {
      if (value.type != RawValue::Type::kString) {
        diag.Error(value_loc, "'plugin' must be a string naming a plugin");
      } else {
        stage->plugin = value.s;
        stage->plugin_loc = value_loc;
      }
      continue;
    }
    if (param == "inputs" || param.find('.') != std::string::npos) {
      diag.Error(param_loc, "--set overrides parameters; edit the file to rewire '" + param + "'");
      continue;
    }
    auto it =
        std::find_if(stage->params.begin(), stage->params.end(), [&](const ParamEntry& p) { return p.name == param; });
    if (it != stage->params.end()) {
      it->name_loc = param_loc;
      it->value = std::move(value);
    } else {
      stage->params.push_back({param, param_loc, std::move(value)});
    }
  }
}

}  // namespace sluice::pipeline
