// sluice store check: is everything the store recorded still there, and unchanged?
#include <iostream>

#include "commands.hpp"
#include "integrity.hpp"
#include "json_output.hpp"
#include "options.hpp"

namespace sluice::cli {

int StoreCommand(const Args& args) {
  po::options_description options("sluice store options");
  options.add_options()("help,h", "show this help")("action", po::value<std::string>()->required(), "check")(
      "json", po::bool_switch(), "JSON on stdout")("store", po::value<std::string>()->default_value(""),
                                                   "store folder");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice store check [--store DIR] [--json]\n\n"
                       "Verifies the store without changing it: SQLite's integrity and foreign-key checks,\n"
                       "every artifact's file against its recorded size and SHA-256, every registered\n"
                       "bundle's files against their digests, and runs left running by processes that are\n"
                       "gone. Exits 1 and names each problem if there is one.")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"action"});
  const std::string action = vm["action"].as<std::string>();
  if (action != "check") throw po::error("unknown action '" + action + "' (expected check)");
  std::unique_ptr<store::RunStore> store;
  store::StoreCheck check;
  try {
    store = OpenExistingStore(vm["store"].as<std::string>());
    check = store::CheckStore(*store);
  } catch (const store::DamagedStoreError& e) {
    // What the check is for: a finding, not a failure of the check.
    if (vm["json"].as<bool>()) {
      std::cout << Dump(json{{"ok", false}, {"problems", {{{"what", "database"}, {"problem", e.what()}}}}}) << "\n";
    } else {
      std::cout << "problem: " << e.what() << "\nstore: the database cannot be read: 1 problem(s)\n";
    }
    return kExitFailed;
  }
  if (vm["json"].as<bool>()) {
    json problems = json::array();
    for (const store::StoreProblem& p : check.problems) problems.push_back({{"what", p.what}, {"problem", p.message}});
    std::cout << Dump(json{{"store", store->dir().string()},
                           {"ok", check.problems.empty()},
                           {"runs", check.runs},
                           {"artifacts", check.artifacts},
                           {"models", check.models},
                           {"problems", problems},
                           {"notes", check.notes}})
              << "\n";
  } else {
    for (const store::StoreProblem& p : check.problems) std::cout << "problem: " << p.message << "\n";
    for (const std::string& note : check.notes) std::cout << "note: " << note << "\n";
    std::cout << "store " << store->dir().string() << ": " << check.runs << " runs, " << check.artifacts
              << " artifacts, " << check.models << " registered models: "
              << (check.problems.empty() ? "ok" : std::to_string(check.problems.size()) + " problem(s)") << "\n";
  }
  return check.problems.empty() ? kExitOk : kExitFailed;
}

}  // namespace sluice::cli
