// sluice: the command-line host. Dispatches to one command per file in this folder.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "commands.hpp"
#include "database.hpp"
#include "exec/interrupt.hpp"
#include "options.hpp"
#include "run_store.hpp"
#include "sluice/config.h"

namespace {

constexpr const char* kUsage = R"(usage: sluice COMMAND [ARGS]

Run pipelines:
  sluice run FILE [--set STAGE.KEY=VALUE]... [--store DIR] [--json]
  sluice run --resume RUN [--store DIR] [--json]
  sluice validate FILE [--set STAGE.KEY=VALUE]...

Sweeps (a [sweep] table in the pipeline file):
  sluice sweep FILE [--jobs N] [--set STAGE.KEY=VALUE]... [--json]
  sluice sweep --resume STUDY [--jobs N] [--json]
  sluice studies list [--pipeline NAME] [--json]
  sluice studies show STUDY [--json]

Models:
  sluice models list [NAME] [--json]
  sluice models show NAME[:VERSION|@ALIAS] [--json]
  sluice models promote NAME VERSION --alias ALIAS
  sluice predict MODEL --input FILE [--output FILE [--force]] [--json]    (MODEL: a bundle folder or NAME[:VERSION|@ALIAS])
  sluice serve MODEL... [--host 127.0.0.1] [--port 8080] [--max-batch B] [--max-delay-ms D] [--token-file F]

Plugins:
  sluice plugins list [--json]
  sluice plugins show NAME [--json]

Run history (store: --store DIR, $SLUICE_STORE, or ./.sluice; or a PostgreSQL server shared by
several hosts: --store postgresql://USER@HOST:PORT/DB --artifact-root DIR, DIR a folder they all reach):
  sluice runs list [--pipeline NAME] [--status S] [--where EXPR] [--order-by KEY] [--limit N] [--json|--csv]
  sluice runs best --pipeline NAME --metric KEY [--max|--min] [--json]
  sluice runs show RUN [--json]
  sluice runs metrics RUN KEY [--json|--csv]
  sluice runs compare RUN RUN... [--json]
  sluice ui [--host 127.0.0.1] [--port 5000]      the run history in a browser (and its JSON API)

The store and the data:
  sluice store check [--store DIR] [--json]     verify the database, artifacts and registered bundles
  sluice data path [--json]                     the folders where pipelines find their data
  sluice data find NAME [--json]                where a relative data path in a pipeline resolves

RUN is a run id or a unique prefix of one. `sluice COMMAND --help` shows a command's options.
)";

// A forward or backward pass allocates and frees tensors of a few megabytes in every layer of
// every batch. By glibc's defaults, such a block goes back to the kernel when it is freed
// (mmap above a threshold, heap trimming above 128 KB), and the next batch page-faults
// through fresh zeroed pages (`sluice predict` of 604 Reuters stories with a BERT 6x384 in
// bfloat16, batches of 16: 4.7 s, 3.3 s with the memory kept; a CNN on 10,000 images in
// bfloat16: 1.28 s, 0.80 s). Blocks up to 32 MB are kept in the heap for reuse; freed memory
// at the heap's top goes back to the kernel above 512 MB. The peak resident size is
// unchanged; after a peak the process keeps what it will use again (`sluice serve` hands it
// back once idle).
void KeepFreedMemoryForReuse() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace

namespace sluice::cli {

po::variables_map ParseOptions(const std::vector<std::string>& args, const po::options_description& options,
                               const std::vector<std::string>& names, bool repeat_last) {
  po::positional_options_description positional;
  for (size_t i = 0; i < names.size(); ++i) {
    positional.add(names[i].c_str(), repeat_last && i + 1 == names.size() ? -1 : 1);
  }
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  po::notify(vm);
  return vm;
}

bool PrintHelpIfAsked(const std::vector<std::string>& args, const po::options_description& options, const char* usage) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << usage << "\n\n" << options;
      return true;
    }
  }
  return false;
}

std::string StoreDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("SLUICE_STORE"); env && *env) return env;
  return ".sluice";
}

store::Dialect StoreDialect(const std::string& flag) {
  return store::Database::IsUrl(StoreDir(flag)) ? store::Dialect::kPostgres : store::Dialect::kSqlite;
}

std::unique_ptr<store::RunStore> OpenExistingStore(const std::string& flag, StoreAccess access) {
  const std::string dir = StoreDir(flag);
  if (!sluice::store::Database::IsUrl(dir) && !std::filesystem::exists(std::filesystem::path(dir) / "runs.db")) {
    throw store::StoreError("no run store at " + dir +
                            " (runs are recorded by `sluice run`; pass --store DIR or set SLUICE_STORE)");
  }
  return access == StoreAccess::kRead ? store::RunStore::OpenReadOnly(dir) : store::RunStore::Open(dir);
}

}  // namespace sluice::cli

int main(int argc, char** argv) {
  using namespace sluice::cli;
  KeepFreedMemoryForReuse();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::printf("sluice %s (LibTorch %s)\n", SLUICE_SDK_VERSION, SLUICE_TORCH_VERSION);
    return kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  // --artifact-root DIR, taken by every command that opens a store: where a PostgreSQL
  // store keeps its files. Passed on (as SLUICE_ARTIFACT_ROOT) to the processes a
  // command starts.
  for (size_t i = 0; i < args.size(); ++i) {
    std::string root;
    if (args[i] == "--artifact-root" && i + 1 < args.size()) {
      root = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else if (args[i].rfind("--artifact-root=", 0) == 0) {
      root = args[i].substr(16);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      continue;
    }
    if (root.empty()) {
      std::fprintf(stderr, "sluice %s: error: --artifact-root needs a folder\n", command.c_str());
      return kExitUsage;
    }
    setenv("SLUICE_ARTIFACT_ROOT", std::filesystem::absolute(root).c_str(), 1);
    --i;
  }
  if (command == "run" || command == "sweep" || command == "serve" || command == "ui")
    sluice::exec::InstallInterruptWatcher();  // before any other thread
  // As recorded with the run: a store URL's password is not.
  std::string command_line = "sluice";
  for (int i = 1; i < argc; ++i) command_line += " " + sluice::store::RedactUrl(argv[i]);
  try {
    if (command == "run") return RunCommand(args, command_line);
    if (command == "validate") return ValidateCommand(args);
    if (command == "plugins") return PluginsCommand(args);
    if (command == "runs") return RunsCommand(args);
    if (command == "models") return ModelsCommand(args);
    if (command == "predict") return PredictCommand(args);
    if (command == "serve") return ServeCommand(args);
    if (command == "ui") return UiCommand(args);
    if (command == "sweep") return SweepCommand(args, command_line);
    if (command == "studies") return StudiesCommand(args);
    if (command == "data") return DataCommand(args);
    if (command == "store") return StoreCommand(args);
    std::fprintf(stderr, "sluice: error: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return kExitUsage;
  } catch (const po::error& e) {
    std::fprintf(stderr, "sluice %s: error: %s (see `sluice %s --help`)\n", command.c_str(), e.what(), command.c_str());
    return kExitUsage;
  } catch (const sluice::store::StoreError& e) {
    std::fprintf(stderr, "sluice %s: error: %s\n", command.c_str(), e.what());
    return kExitFailed;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice %s: error: %s\n", command.c_str(), e.what());
    return kExitFailed;
  }
}
