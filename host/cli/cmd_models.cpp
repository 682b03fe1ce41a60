// sluice models list|show|promote|import|export: the model registry.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "exec/executor.hpp"
#include "history_json.hpp"
#include "integrity.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "pipeline/builder.hpp"
#include "run_store.hpp"
#include "sluice/bundle.hpp"
#include "sluice/contract.hpp"
#include "table.hpp"

namespace sluice::cli {

namespace {

// Runs a one-stage pipeline (hf-import or hf-export) against `store`, recorded as a run.
int RunStage(pipeline::PipelineBuilder& b, store::RunStore& store, const std::string& what) {
  plugin::PluginRegistry registry;
  pipeline::Diagnostics diag;
  std::optional<pipeline::ResolvedPipeline> resolved = b.Validate(registry, "", diag);
  if (!resolved) {
    std::cerr << diag.Render(pipeline::SourceTexts()) << "sluice models: cannot " << what << "\n";
    return kExitUsage;
  }
  exec::ProgressView view(stderr, exec::ProgressView::Mode::kMessages);
  exec::RunOutcome outcome = exec::ExecutePipeline(*resolved, store, view, "sluice models " + what);
  if (outcome.status != store::RunStatus::kSucceeded) {
    std::cerr << "sluice models: error: " << outcome.error.value_or(store::Name(outcome.status)) << "\n";
    return outcome.status == store::RunStatus::kInterrupted ? kExitInterrupted : kExitFailed;
  }
  return kExitOk;
}

// sluice models import DIR [--name NAME]: a Hugging Face BERT folder into the registry.
int Import(const std::string& dir, std::string name, const std::string& store_flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw po::error("models import: " + dir + " is not a folder");
  if (name.empty()) name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  if (!IsValidName(name))
    throw po::error("models import: the name '" + name + "' is not valid (" + std::string(kNameRule) +
                    "); give --name");
  auto store = store::RunStore::Open(StoreDir(store_flag));
  pipeline::PipelineBuilder b("import", "models import");
  b.Stage("import", "hf-import")
      .Param("dir", Value(fs::absolute(dir).lexically_normal().string()))
      .Param("name", Value(name));
  return RunStage(b, *store, "import " + dir);
}

// sluice models export NAME[:V|@A] --format hf --output DIR
int Export(const std::string& model, const std::string& format, const std::string& output,
           const std::string& store_flag) {
  namespace fs = std::filesystem;
  if (format != "hf")
    throw po::error("models export: --format " + format + " is not known (hf: a Hugging Face folder)");
  if (output.empty()) throw po::error("models export needs --output DIR");
  auto store = OpenExistingStore(store_flag, StoreAccess::kWrite);
  store::ModelRecord record = store->FindModel(model);
  if (Status s = store::VerifyModel(record); !s.ok()) throw store::StoreError(s.message());
  pipeline::PipelineBuilder b("export", "models export");
  b.Stage("export", "hf-export")
      .Param("bundle", Value(record.path))
      .Param("output", Value(fs::absolute(output).lexically_normal().string()));
  const int code = RunStage(b, *store, "export " + model);
  if (code == kExitOk) std::cout << record.name << " v" << record.version << " -> " << output << "\n";
  return code;
}

}  // namespace

int ModelsCommand(const Args& args) {
  po::options_description options("sluice models options");
  options.add_options()                                                                            //
      ("help,h", "show this help")                                                                 //
      ("action", po::value<std::string>()->required(), "list | show | promote | import | export")  //
      ("model", po::value<std::string>(),
       "NAME, NAME:VERSION or NAME@ALIAS (show, export); NAME (promote); DIR (import)")                           //
      ("name", po::value<std::string>()->default_value(""), "import: the registry name (default: the folder's)")  //
      ("format", po::value<std::string>()->default_value("hf"), "export: hf (a Hugging Face folder)")             //
      ("output", po::value<std::string>()->default_value(""), "export: the folder to write")                      //
      ("version", po::value<int64_t>(), "version to promote")                                                     //
      ("alias", po::value<std::string>(), "alias to point at VERSION (promote)")                                  //
      ("json", po::bool_switch(), "JSON on stdout")                                                               //
      ("store", po::value<std::string>()->default_value(""), "store folder");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice models list [NAME] [--json]\n"
                       "       sluice models show NAME[:VERSION|@ALIAS] [--json]\n"
                       "       sluice models promote NAME VERSION --alias ALIAS\n"
                       "       sluice models import DIR [--name NAME]\n"
                       "       sluice models export NAME[:VERSION|@ALIAS] --format hf --output DIR")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"action", "model", "version"});
  const std::string action = vm["action"].as<std::string>();
  const bool as_json = vm["json"].as<bool>();
  if (action == "import" || action == "export") {
    if (!vm.count("model"))
      throw po::error("models " + action + " needs " + (action == "import" ? "a DIR" : "a model NAME"));
    if (action == "import")
      return Import(vm["model"].as<std::string>(), vm["name"].as<std::string>(), vm["store"].as<std::string>());
    return Export(vm["model"].as<std::string>(), vm["format"].as<std::string>(), vm["output"].as<std::string>(),
                  vm["store"].as<std::string>());
  }
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
  throw po::error("unknown action '" + action + "' (expected list, show, promote, import or export)");
}

}  // namespace sluice::cli
