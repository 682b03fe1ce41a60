// sluice data path | sluice data find NAME: where pipelines find their data.
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "data/data_path.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "table.hpp"

namespace sluice::cli {

namespace fs = std::filesystem;

int DataCommand(const Args& args) {
  po::options_description options("sluice data options");
  options.add_options()("help,h", "show this help")("action", po::value<std::string>()->required(), "path | find")(
      "name", po::value<std::string>(), "a relative path, as a pipeline writes it (find)")("json", po::bool_switch(),
                                                                                           "JSON on stdout");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice data path [--json]        the folders searched for data, in order\n"
                       "       sluice data find NAME [--json]   where a relative file or folder parameter resolves\n\n"
                       "A relative file or folder in a pipeline is looked for in the pipeline file's folder,\n"
                       "then along the data path: $SLUICE_DATA_PATH (folders separated by ':'), sluice's own\n"
                       "share/sluice/data, /usr/local/share/sluice/data (tools/setup puts the shipped\n"
                       "pipelines' data there), /usr/share/sluice/data, /usr/share/datasets, /usr/share/doc.")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"action", "name"});
  const std::string action = vm["action"].as<std::string>();
  const bool as_json = vm["json"].as<bool>();
  if (action == "path") {
    json out = json::array();
    Table table({"FOLDER", "FROM", "PRESENT"});
    for (const data::DataFolder& f : data::DataPath()) {
      std::error_code ec;
      const bool present = fs::is_directory(f.path, ec);
      out.push_back({{"path", f.path.string()}, {"origin", f.origin}, {"exists", present}});
      table.Row({f.path.string(), f.origin, present ? "yes" : "no"});
    }
    if (as_json) {
      std::cout << Dump(out) << "\n";
    } else {
      std::cout << table.Render();
    }
    return kExitOk;
  }
  if (action == "find") {
    if (!vm.count("name")) throw po::error("data find needs the NAME to look for");
    const std::string name = vm["name"].as<std::string>();
    std::error_code ec;
    std::vector<fs::path> tried;
    std::optional<fs::path> found = fs::path(name).is_absolute()
                                        ? (fs::exists(name, ec) ? std::optional<fs::path>(name) : std::nullopt)
                                        : data::FindData(name, fs::current_path(ec), &tried);
    if (as_json) {
      json searched = json::array();
      for (const fs::path& t : tried) searched.push_back(t.string());
      std::cout << Dump(json{{"name", name},
                             {"found", found ? json(found->string()) : json(nullptr)},
                             {"kind", found ? json(data::FileKind(*found)) : json(nullptr)},
                             {"searched", searched}})
                << "\n";
    } else if (found) {
      std::cout << found->string() << "\n";
    } else {
      std::cerr << "sluice data find: '" << name << "' is in none of:\n";
      for (const fs::path& t : tried) std::cerr << "  " << t.string() << "\n";
    }
    return found ? kExitOk : kExitFailed;
  }
  throw po::error("unknown action '" + action + "' (expected path or find)");
}

}  // namespace sluice::cli
