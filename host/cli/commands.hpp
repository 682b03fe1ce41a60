// One function per `sluice` command. Each takes the arguments after the command word
// and returns the process exit code: 0 success, 1 a run or lookup failed, 2 bad usage
// or an invalid pipeline, 130 interrupted.
#ifndef SLUICE_HOST_CLI_COMMANDS_HPP_
#define SLUICE_HOST_CLI_COMMANDS_HPP_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/load.hpp"
#include "run_store.hpp"
#include "sweep/space.hpp"

namespace sluice::cli {

using Args = std::vector<std::string>;

int RunCommand(const Args& args, const std::string& command_line);
int ValidateCommand(const Args& args);
int PluginsCommand(const Args& args);
int RunsCommand(const Args& args);
int ModelsCommand(const Args& args);
int PredictCommand(const Args& args);
int ServeCommand(const Args& args);
int UiCommand(const Args& args);
int SweepCommand(const Args& args, const std::string& command_line);
int StudiesCommand(const Args& args);
int DataCommand(const Args& args);
int StoreCommand(const Args& args);

// Parses, overrides and validates a pipeline file, its [sweep] table included (the
// resolved sweep goes to `sweep_out` when asked for and valid).
pipeline::LoadedPipeline LoadChecked(const std::string& file, const std::vector<std::string>& overrides,
                                     const plugin::PluginRegistry& registry,
                                     std::optional<sweep::Sweep>* sweep_out = nullptr);

// --store, else $SLUICE_STORE, else ./.sluice
std::string StoreDir(const std::string& flag);
// The engine of the store StoreDir(flag) names: PostgreSQL for a postgresql:// URL.
store::Dialect StoreDialect(const std::string& flag);
enum class StoreAccess { kRead, kWrite };
// The store there, which must exist (commands that only read it never create one).
// kRead opens it read-only: another user's store and a read-only mount can be read.
std::unique_ptr<store::RunStore> OpenExistingStore(const std::string& flag, StoreAccess access = StoreAccess::kRead);

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

}  // namespace sluice::cli

#endif  // SLUICE_HOST_CLI_COMMANDS_HPP_
