// sluice plugins list|show NAME. Reads contracts from the libraries' .sluice_contract
// sections: no plugin code runs, LibTorch is not loaded.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "pipeline/diagnostics.hpp"
#include "plugin/elf_section.hpp"
#include "plugin/registry.hpp"
#include "table.hpp"

namespace sluice::cli {

using json = nlohmann::ordered_json;

namespace {

json PortsJson(const std::vector<PortSpec>& ports, bool inputs) {
  json out = json::array();
  for (const PortSpec& p : ports) {
    json j = {{"name", p.name}, {"type", p.type}, {"doc", p.doc}};
    if (inputs) j["optional"] = p.optional;
    out.push_back(std::move(j));
  }
  return out;
}

json PluginJson(const plugin::PluginDescriptor& d, bool full) {
  json j = {{"name", d.name}, {"version", d.version}, {"kind", d.kind}, {"doc", d.contract.doc()}, {"path", d.path}};
  j["usable"] = d.incompatibility.empty();
  if (!d.incompatibility.empty()) j["problem"] = d.incompatibility;
  if (!full) return j;
  j["abi"] = std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor);
  j["build"] = plugin::BuildId(d.path);
  j["toolchain"] = d.toolchain;
  j["inputs"] = PortsJson(d.contract.inputs(), true);
  j["outputs"] = PortsJson(d.contract.outputs(), false);
  json params = json::array();
  for (const ParamSpec& p : d.contract.params()) {
    json pj = {{"name", p.name()}, {"type", ParamTypeName(p.type())}, {"doc", p.doc()}};
    pj["default"] = p.has_default() ? json::parse(ValueToString(p.default_value())) : json(nullptr);
    pj["required"] = p.is_required();
    pj["constraint"] = p.ConstraintText();
    if (!p.choices().empty()) pj["choices"] = p.choices();
    if (p.min_bound()) pj["min"] = *p.min_bound();
    if (p.max_bound()) pj["max"] = *p.max_bound();
    params.push_back(std::move(pj));
  }
  j["params"] = std::move(params);
  json metrics = json::array();
  for (const MetricSpec& m : d.contract.metrics()) {
    metrics.push_back({{"name", m.name}, {"goal", GoalName(m.goal)}, {"doc", m.doc}});
  }
  j["metrics"] = std::move(metrics);
  return j;
}

std::string DefaultText(const ParamSpec& p) {
  if (p.has_default()) return ValueToString(p.default_value());
  if (p.name() == "seed" && p.type() == ParamType::kInt) return "(from pipeline seed)";
  return p.is_optional() ? "(unset)" : "(required)";
}

void PrintIssues(const plugin::PluginRegistry& registry) {
  for (const plugin::PluginIssue& issue : registry.issues()) {
    std::cerr << "warning: " << issue.path << ": " << issue.message << "\n";
  }
}

}  // namespace

int PluginsCommand(const Args& args) {
  po::options_description options("sluice plugins options");
  options.add_options()("help,h", "show this help")("action", po::value<std::string>()->required(), "list | show")(
      "name", po::value<std::string>(), "plugin name (show)")("json", po::bool_switch(), "print JSON on stdout");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice plugins list [--json]\n       sluice plugins show NAME [--json]")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"action", "name"});
  const std::string action = vm["action"].as<std::string>();
  const bool as_json = vm["json"].as<bool>();
  plugin::PluginRegistry registry;

  if (action == "list") {
    PrintIssues(registry);
    if (as_json) {
      json out = json::array();
      for (const auto& d : registry.plugins()) out.push_back(PluginJson(d, true));
      std::cout << Dump(out) << "\n";
      return kExitOk;
    }
    Table table({"NAME", "VERSION", "KIND", "DESCRIPTION"});
    for (const auto& d : registry.plugins()) {
      table.Row(
          {d.name, d.version, d.kind, d.incompatibility.empty() ? d.contract.doc() : "UNUSABLE: " + d.incompatibility});
    }
    if (table.empty()) {
      std::cerr << "no plugins found; searched:";
      for (const std::string& dir : registry.search_path()) std::cerr << " " << dir;
      std::cerr << "\n";
      return kExitOk;
    }
    std::cout << table.Render();
    return kExitOk;
  }
  if (action != "show") {
    throw po::error("unknown action '" + action + "' (expected list or show)");
  }
  if (!vm.count("name")) throw po::error("plugins show needs a plugin NAME");
  const std::string name = vm["name"].as<std::string>();
  std::vector<const plugin::PluginDescriptor*> matches;
  for (const auto& d : registry.plugins()) {
    if (d.name == name) matches.push_back(&d);
  }
  if (matches.empty()) {
    std::cerr << "sluice plugins: error: unknown plugin '" << name << "'"
              << pipeline::DidYouMean(name, registry.Names()) << "\n";
    return kExitFailed;
  }
  if (as_json) {
    json out = PluginJson(*matches.front(), true);
    if (matches.size() > 1) {
      std::string error;
      registry.Find(name, error);
      out["problem"] = error;
      out["usable"] = false;
    }
    std::cout << Dump(out) << "\n";
    return kExitOk;
  }
  for (const plugin::PluginDescriptor* d : matches) {
    std::cout << d->name << " " << d->version << " (" << d->kind << ")\n";
    if (!d->contract.doc().empty()) std::cout << "  " << d->contract.doc() << "\n";
    std::cout << "  file: " << d->path << "\n";
    if (!d->incompatibility.empty()) {
      std::cout << "  UNUSABLE: " << d->incompatibility << "\n";
      continue;
    }
    auto ports = [](const char* title, const std::vector<PortSpec>& list) {
      std::cout << title << "\n";
      if (list.empty()) {
        std::cout << "  (none)\n";
        return;
      }
      Table t({"", "", ""}, "  ");
      for (const PortSpec& p : list) t.Row({p.name + (p.optional ? " (optional)" : ""), p.type, p.doc});
      std::cout << t.Render();
    };
    ports("inputs", d->contract.inputs());
    ports("outputs", d->contract.outputs());
    std::cout << "parameters\n";
    Table t({"NAME", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION"}, "  ");
    for (const ParamSpec& p : d->contract.params()) {
      t.Row({p.name(), ParamTypeName(p.type()), DefaultText(p), p.ConstraintText(), p.doc()});
    }
    std::cout << (t.empty() ? "  (none)\n" : t.Render());
    std::cout << "metrics (logged as "
              << "STAGE.NAME)\n";
    Table mt({"NAME", "BETTER", "DESCRIPTION"}, "  ");
    for (const MetricSpec& m : d->contract.metrics()) {
      mt.Row({m.name, m.goal == Goal::kMaximize ? "higher" : m.goal == Goal::kMinimize ? "lower" : "", m.doc});
    }
    std::cout << (mt.empty() ? "  (none declared)\n" : mt.Render());
  }
  if (matches.size() > 1) {
    std::string error;
    registry.Find(name, error);
    std::cerr << "sluice plugins: error: " << error << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace sluice::cli
