// sluice models list|show|promote: the model registry.
#include <iostream>

#include "commands.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "run_store.hpp"
#include "table.hpp"

namespace sluice::cli {

namespace {

json ModelJson(const store::ModelRecord& m, bool with_manifest) {
  json j = {{"name", m.name},
            {"version", m.version},
            {"aliases", m.aliases},
            {"run_id", m.run_id ? json(*m.run_id) : json(nullptr)},
            {"stage", m.stage},
            {"path", m.path},
            {"created_at", m.created_at},
            {"description", m.description}};
  if (with_manifest) j["manifest"] = json::parse(m.manifest);
  return j;
}

}  // namespace

int ModelsCommand(const Args& args) {
  po::options_description options("sluice models options");
  options.add_options()                                                                               //
      ("help,h", "show this help")                                                                    //
      ("action", po::value<std::string>()->required(), "list | show | promote")                       //
      ("model", po::value<std::string>(), "NAME, NAME:VERSION or NAME@ALIAS (show); NAME (promote)")  //
      ("version", po::value<int64_t>(), "version to promote")                                         //
      ("alias", po::value<std::string>(), "alias to point at VERSION (promote)")                      //
      ("json", po::bool_switch(), "JSON on stdout")                                                   //
      ("store", po::value<std::string>()->default_value(""), "store folder");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice models list [NAME] [--json]\n"
                       "       sluice models show NAME[:VERSION|@ALIAS] [--json]\n"
                       "       sluice models promote NAME VERSION --alias ALIAS")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"action", "model", "version"});
  const std::string action = vm["action"].as<std::string>();
  const bool as_json = vm["json"].as<bool>();
  auto store =
      OpenExistingStore(vm["store"].as<std::string>(), action == "promote" ? StoreAccess::kWrite : StoreAccess::kRead);

  if (action == "list") {
    std::optional<std::string> name;
    if (vm.count("model")) name = vm["model"].as<std::string>();
    std::vector<store::ModelRecord> models = store->ListModels(name);
    if (as_json) {
      json out = json::array();
      for (const auto& m : models) out.push_back(ModelJson(m, false));
      std::cout << Dump(out) << "\n";
      return kExitOk;
    }
    if (models.empty()) {
      std::cerr << "no registered models" << (name ? " named " + *name : "") << "\n";
      return kExitOk;
    }
    Table table({"NAME", "VERSION", "ALIASES", "RUN", "CREATED (UTC)", "DESCRIPTION"});
    for (const auto& m : models) {
      std::string aliases;
      for (const auto& a : m.aliases) aliases += (aliases.empty() ? "@" : " @") + a;
      table.Row({m.name, std::to_string(m.version), aliases, m.run_id.value_or("-"),
                 m.created_at.substr(0, 10) + " " + m.created_at.substr(11, 8), m.description});
    }
    std::cout << table.Render();
    return kExitOk;
  }
  if (!vm.count("model")) throw po::error("models " + action + " needs a model NAME");
  if (action == "show") {
    store::ModelRecord m = store->FindModel(vm["model"].as<std::string>());
    if (as_json) {
      std::cout << Dump(ModelJson(m, true)) << "\n";
      return kExitOk;
    }
    const json manifest = json::parse(m.manifest);
    Table head({"", ""});
    std::string aliases;
    for (const auto& a : m.aliases) aliases += (aliases.empty() ? "@" : " @") + a;
    head.Row({"model", m.name + " v" + std::to_string(m.version) + (aliases.empty() ? "" : "  " + aliases)});
    head.Row({"path", m.path});
    head.Row({"run", m.run_id.value_or("-") + "  (stage " + m.stage + ")"});
    head.Row({"created", m.created_at});
    if (!m.description.empty()) head.Row({"description", m.description});
    head.Row({"task", manifest.value("task", "") + " of '" + manifest.value("target", "") + "'"});
    head.Row({"architecture", manifest["model"].value("plugin", "") + " " +
                                  manifest["model"].value("plugin_version", "") + " " +
                                  manifest["model"]["params"].dump()});
    head.Row({"input", manifest.value("input", "")});
    if (manifest.contains("class_names") && !manifest["class_names"].empty()) {
      head.Row({"classes", manifest["class_names"].dump()});
    }
    head.Row({"built with", "sluice " + manifest.value("sluice", "") + ", LibTorch " + manifest.value("libtorch", "")});
    std::cout << head.Render() << "\nmetrics of its run\n";
    Table metrics({"", ""}, "  ");
    for (const auto& [key, value] : manifest["metrics"].items()) {
      if (value.is_number()) metrics.Row({key, HumanNumber(value.get<double>())});
    }
    std::cout << (metrics.empty() ? "  (none)\n" : metrics.Render());
    return kExitOk;
  }
  if (action == "promote") {
    if (!vm.count("version") || !vm.count("alias"))
      throw po::error("usage: sluice models promote NAME VERSION --alias ALIAS");
    const std::string name = vm["model"].as<std::string>();
    const int64_t version = vm["version"].as<int64_t>();
    const std::string alias = vm["alias"].as<std::string>();
    store->SetAlias(name, alias, version);
    if (as_json) {
      std::cout << Dump(json{{"name", name}, {"alias", alias}, {"version", version}}) << "\n";
    } else {
      std::cout << name << "@" << alias << " is now version " << version << "\n";
    }
    return kExitOk;
  }
  throw po::error("unknown action '" + action + "' (expected list, show or promote)");
}

}  // namespace sluice::cli
