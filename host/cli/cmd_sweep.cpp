// sluice sweep FILE | --resume STUDY, and sluice studies list|show: hyperparameter search
// over a pipeline, each trial an ordinary run in the store.
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "exec/interrupt.hpp"
#include "history_json.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "pipeline/load.hpp"
#include "run_store.hpp"
#include "study_store.hpp"
#include "sweep/space.hpp"
#include "sweep/study.hpp"
#include "table.hpp"

extern char** environ;

namespace sluice::cli {

namespace {

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// "best: METRIC = V  run ID (trial N)" and the best parameters, one per line.
void PrintBest(const std::string& metric, const sweep::TrialSummary& best) {
  std::cout << "best: " << metric << " = " << Number(best.value) << "  run " << best.run_id
            << (best.warm ? " (a past run)" : " (trial " + std::to_string(best.number) + ")") << "\n";
  Table table({"", ""}, "  ");
  for (const auto& [k, v] : best.params.items()) table.Row({k, v.dump()});
  std::cout << table.Render();
}

// Starts `sluice sweep --worker STUDY` processes; returns their pids.
std::vector<pid_t> SpawnWorkers(int count, const std::string& study_id, const std::string& store_dir,
                                const std::optional<double>& deadline, bool verbose, int threads) {
  std::vector<pid_t> pids;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args = {self,      "sweep",   "--worker", study_id,
                                     "--store", store_dir, "--parent", std::to_string(getpid())};
    if (deadline) args.insert(args.end(), {"--deadline", Number(*deadline)});
    if (verbose) args.push_back("--verbose");
    if (threads > 0) args.insert(args.end(), {"--trial-threads", std::to_string(threads)});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Its own process group: a terminal's Ctrl-C reaches this process only, which passes
    // it on once (a worker getting it twice would take it for the second, exit-now one).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, self.c_str(), nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc == 0) {
      exec::ForwardSignalsTo(pid);
      pids.push_back(pid);
    } else {
      std::cerr << "sluice sweep: warning: could not start worker " << i + 2 << "; continuing with fewer\n";
    }
  }
  return pids;
}

int WaitWorkers(const std::vector<pid_t>& pids) {
  int failures = 0;
  for (pid_t pid : pids) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != kExitInterrupted)) ++failures;
  }
  return failures;
}

int Report(store::RunStore& store, const std::string& study_id, bool as_json, bool interrupted) {
  store::StudyStore studies(store);
  const store::StudyRecord study = studies.FindStudy(study_id);
  const sweep::Sweep sw = sweep::Sweep::FromJson(sweep::json::parse(study.sweep));
  const std::vector<store::TrialRecord> trials = studies.Trials(study.id);
  const sweep::StudySummary s = sweep::Summarize(sw, trials);
  if (as_json) {
    json out = {{"study", study.id},  {"status", study.status}, {"trials", s.own},           {"complete", s.complete},
                {"pruned", s.pruned}, {"failed", s.failed},     {"warm_start_runs", s.warm}, {"best", BestJson(s)}};
    std::cout << Dump(out) << "\n";
  } else {
    std::cout << "study " << study.id << " " << store::Name(study.status) << ": " << s.own << " trials (" << s.complete
              << " complete, " << s.pruned << " pruned, " << s.failed << " failed)";
    if (s.warm) std::cout << " + " << s.warm << " past runs";
    std::cout << "\n";
    if (s.best) {
      PrintBest(study.metric, *s.best);
    } else {
      std::cout << "no trial has finished\n";
    }
  }
  if (interrupted) return kExitInterrupted;
  return s.best ? kExitOk : kExitFailed;
}

}  // namespace

int SweepCommand(const Args& args, const std::string& command_line) {
  static const std::vector<sweep::Dimension> kNoDimensions;
  po::options_description options("sluice sweep options");
  options.add_options()("help,h", "show this help")("file", po::value<std::string>(), "pipeline file with [sweep]")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a parameter of every trial: STAGE.KEY=VALUE; repeatable")(
      "jobs,j", po::value<int>()->default_value(1), "run trials in N processes sharing the store")(
      "resume", po::value<std::string>(), "continue an interrupted study (id or prefix)")(
      "join", po::value<std::string>(),
      "add this host's workers (--jobs N) to a study that is running, from any host sharing its store")(
      "store", po::value<std::string>()->default_value(""), "store folder (default $SLUICE_STORE or ./.sluice)")(
      "verbose,v", po::bool_switch(), "show each trial's progress, not only its result")(
      "json", po::bool_switch(), "print one JSON object on stdout")("worker", po::value<std::string>(),
                                                                    "(internal) work on this study")(
      "deadline", po::value<double>(), "(internal) start no trial after this unix time")(
      "trial-threads", po::value<int>(), "(internal) threads per trial")(
      "parent", po::value<int64_t>(), "(internal) the coordinating process: stop when it dies");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice sweep FILE [--jobs N] [--set STAGE.KEY=VALUE]... [--store DIR] [--json]\n"
                       "       sluice sweep --resume STUDY [--jobs N] [--store DIR] [--json]\n"
                       "       sluice sweep --join STUDY [--jobs N] [--store postgresql://...] [--json]")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"file"});
  const std::string store_dir = StoreDir(vm["store"].as<std::string>());
  const int jobs = vm["jobs"].as<int>();
  if (jobs < 1 || jobs > 256) throw po::error("--jobs must be between 1 and 256");
  plugin::PluginRegistry registry;
  sweep::WorkerOptions worker;
  worker.command_line = command_line;
  exec::ProgressView lines(stderr, exec::ProgressView::Mode::kLines);
  if (vm["verbose"].as<bool>()) worker.trial_view = &lines;

  // N processes share the cores: a trial whose pipeline leaves pipeline.threads unset
  // gets cores / N threads rather than every core (oversubscription slows them all).
  if (jobs > 1) worker.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / jobs);
  if (vm.count("worker")) {  // one of the processes --jobs started
    if (vm.count("parent")) {
      // Stop with the coordinator however it dies (kill -9 included): the kernel sends
      // SIGTERM, which stops the trial in flight as `interrupted`, as a Ctrl-C would.
      // The study stays resumable with `sluice sweep --resume`.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != static_cast<pid_t>(vm["parent"].as<int64_t>())) return kExitInterrupted;  // already gone
    }
    auto store = store::RunStore::Open(store_dir);
    if (vm.count("deadline")) worker.deadline = vm["deadline"].as<double>();
    if (vm.count("trial-threads")) worker.threads = vm["trial-threads"].as<int>();
    sweep::WorkerResult r = sweep::RunWorker(*store, vm["worker"].as<std::string>(), registry, worker);
    if (r.error) {
      std::cerr << *r.error;
      return kExitFailed;
    }
    return r.interrupted ? kExitInterrupted : kExitOk;
  }

  const bool resume = vm.count("resume") > 0, join = vm.count("join") > 0;
  if (resume && join) throw po::error("--resume and --join: give one");
  if ((resume || join) && (vm.count("file") || vm.count("set"))) {
    throw po::error(std::string(resume ? "--resume" : "--join") +
                    " continues a study with its own pipeline and search space; give no FILE or --set");
  }
  if (!resume && !join && !vm.count("file")) throw po::error("the pipeline FILE is missing");

  std::unique_ptr<store::RunStore> store;
  std::string study_id;
  std::optional<double> timeout;
  if (join) {
    // Workers beside the ones already at work (here or on other hosts): nothing is
    // released (a trial of a worker that died is found by its lock or its heartbeat).
    store = store::RunStore::Open(store_dir);
    store::StudyStore studies(*store);
    store::StudyRecord study = studies.FindStudy(vm["join"].as<std::string>());
    study_id = study.id;
    if (study.status != store::StudyStatus::kRunning) {
      std::cerr << "sluice sweep: study " << study.id << " is " << store::Name(study.status)
                << (study.status == store::StudyStatus::kInterrupted
                        ? "; continue it with `sluice sweep --resume " + study.id + "`"
                        : "; nothing left to join")
                << "\n";
      return Report(*store, study_id, vm["json"].as<bool>(), false);
    }
    timeout = sweep::Sweep::FromJson(sweep::json::parse(study.sweep)).timeout_seconds;
    std::cerr << "sluice: joining study " << study.id << " of " << study.pipeline << " with " << jobs
              << (jobs == 1 ? " worker" : " workers") << " (pid " << getpid() << " on " << store::HostName() << ")\n";
  } else if (resume) {
    store = store::RunStore::Open(store_dir);
    store::StudyStore studies(*store);
    store::StudyRecord study = studies.FindStudy(vm["resume"].as<std::string>());
    study_id = study.id;
    const store::StudyStore::Released released = studies.ReleaseAbandonedTrials(study.id);
    studies.SetStudyStatus(study.id, store::StudyStatus::kRunning);
    timeout = sweep::Sweep::FromJson(sweep::json::parse(study.sweep)).timeout_seconds;
    std::cerr << "sluice: resuming study " << study.id << " of " << study.pipeline;
    if (released.completed) {
      std::cerr << " (" << released.completed << (released.completed == 1 ? " finished trial" : " finished trials")
                << " recorded from " << (released.completed == 1 ? "its run)" : "their runs)");
    }
    if (released.again) std::cerr << " (" << released.again << " unfinished trials to run again)";
    std::cerr << "\n";
  } else {
    const std::string file = vm["file"].as<std::string>();
    std::vector<std::string> overrides = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : Args{};
    std::optional<sweep::Sweep> sw;
    pipeline::LoadedPipeline loaded = LoadChecked(file, overrides, registry, &sw);
    if (!loaded.spec.sweep.present && loaded.diagnostics.empty()) {
      loaded.diagnostics.Error(pipeline::SourceLoc{file, 1, 1, 1},
                               "this pipeline has no [sweep] table: add one with metric, direction, a budget "
                               "and [sweep.space] (see pipelines/README.md)");
    }
    // A swept parameter cannot also be fixed: find the ones --set reached.
    for (const sweep::Dimension& d : sw ? sw->space : kNoDimensions) {
      const pipeline::StageSpec* stage = loaded.spec.FindStage(d.key.substr(0, d.key.find('.')));
      if (!stage) continue;
      for (const pipeline::ParamEntry& p : stage->params) {
        if (p.name_loc.file != "--set" || d.key != stage->name + "." + p.name) continue;
        loaded.diagnostics.Error(pipeline::SourceLoc{"--set", p.name_loc.line, 1, static_cast<int>(d.key.size())},
                                 "'" + d.key +
                                     "' is in the search space ([sweep.space]); the sweep sets it for every "
                                     "trial, so --set cannot fix it");
      }
    }
    if (!loaded.pipeline || !sw || !loaded.diagnostics.empty()) {
      std::cerr << loaded.RenderErrors() << "sluice sweep: the pipeline is invalid; nothing was run\n";
      return kExitUsage;
    }
    store = store::RunStore::Open(store_dir);
    store::StudyRecord study = sweep::CreateStudy(*store, *loaded.pipeline, *sw, command_line);
    study_id = study.id;
    timeout = sw->timeout_seconds;
    const std::vector<store::TrialRecord> trials = store::StudyStore(*store).Trials(study.id);
    std::cerr << "sluice: study " << study.id << " of " << study.pipeline << ": " << sw->sampler << " sampler, "
              << sw->pruner << " pruner, "
              << (sw->trials              ? std::to_string(*sw->trials) + " trials"
                  : sw->sampler == "grid" ? "the whole grid"
                                          : "no trial limit")
              << (timeout ? ", at most " + exec::FormatSeconds(*timeout) : "") << ", " << jobs
              << (jobs == 1 ? " job" : " jobs");
    if (!trials.empty()) std::cerr << "; warm start from " << trials.size() << " past runs";
    std::cerr << "\n";
  }
  if (timeout) worker.deadline = store::UnixNow() + *timeout;

  std::vector<pid_t> children =
      SpawnWorkers(jobs - 1, study_id, store_dir, worker.deadline, vm["verbose"].as<bool>(), worker.threads);
  sweep::WorkerResult r = sweep::RunWorker(*store, study_id, registry, worker);
  const int failed_workers = WaitWorkers(children);
  const bool interrupted = r.interrupted || exec::StopRequested();
  if (r.error) {
    std::cerr << *r.error << "sluice sweep: cannot run study " << study_id << "\n";
    return kExitFailed;
  }
  if (failed_workers) std::cerr << "sluice sweep: warning: " << failed_workers << " worker process(es) failed\n";
  // Finished once no worker anywhere has a trial left running (those that joined from
  // other hosts may still be at work).
  store::StudyStore studies(*store);
  bool others_at_work = false;
  for (const store::TrialRecord& t : studies.Trials(study_id)) {
    others_at_work = others_at_work || t.state == store::TrialState::kRunning;
  }
  if (interrupted) {
    studies.SetStudyStatus(study_id, store::StudyStatus::kInterrupted);
  } else if (!others_at_work) {
    studies.SetStudyStatus(study_id, store::StudyStatus::kFinished);
  }
  if (interrupted) {
    std::cerr << "sluice: interrupted; continue with `sluice sweep --resume " << study_id << "`\n";
  }
  return Report(*store, study_id, vm["json"].as<bool>(), interrupted);
}

namespace {

int ListStudies(const Args& args) {
  po::options_description options("sluice studies list options");
  options.add_options()("help,h", "show this help")("pipeline", po::value<std::string>(),
                                                    "only studies of this pipeline")(
      "limit", po::value<int64_t>()->default_value(50), "at most N studies, newest first (0: all)")(
      "json", po::bool_switch(), "JSON array on stdout")("store", po::value<std::string>()->default_value(""),
                                                         "store folder");
  if (PrintHelpIfAsked(args, options, "usage: sluice studies list [--pipeline NAME] [--limit N] [--json]"))
    return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {});
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  store::StudyStore studies(*store);
  std::optional<std::string> pipeline;
  if (vm.count("pipeline")) pipeline = vm["pipeline"].as<std::string>();
  json out = json::array();
  Table table({"ID", "PIPELINE", "STATUS", "CREATED (UTC)", "METRIC", "TRIALS", "PRUNED", "FAILED", "BEST"});
  for (const store::StudyRecord& study : studies.ListStudies(pipeline, vm["limit"].as<int64_t>())) {
    const sweep::Sweep sw = sweep::Sweep::FromJson(sweep::json::parse(study.sweep));
    const sweep::StudySummary s = sweep::Summarize(sw, studies.Trials(study.id));
    out.push_back(StudySummaryJson(studies, study));
    table.Row({study.id, study.pipeline, store::Name(study.status),
               study.created_at.substr(0, 10) + " " + study.created_at.substr(11, 8),
               study.metric + (study.direction == "maximize" ? " (max)" : " (min)"), std::to_string(s.own),
               std::to_string(s.pruned), std::to_string(s.failed), s.best ? Number(s.best->value) : ""});
  }
  if (vm["json"].as<bool>()) {
    std::cout << Dump(out) << "\n";
  } else if (table.empty()) {
    std::cerr << "no studies" << (pipeline ? " match" : " recorded yet (`sluice sweep FILE` starts one)") << "\n";
  } else {
    std::cout << table.Render();
  }
  return kExitOk;
}

int ShowStudy(const Args& args) {
  po::options_description options("sluice studies show options");
  options.add_options()("help,h", "show this help")("study", po::value<std::string>()->required(),
                                                    "study id or prefix")(
      "json", po::bool_switch(), "JSON object on stdout")("store", po::value<std::string>()->default_value(""),
                                                          "store folder");
  if (PrintHelpIfAsked(args, options, "usage: sluice studies show STUDY [--json]")) return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {"study"});
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  store::StudyStore studies(*store);
  const store::StudyRecord study = studies.FindStudy(vm["study"].as<std::string>());
  const sweep::Sweep sw = sweep::Sweep::FromJson(sweep::json::parse(study.sweep));
  const std::vector<store::TrialRecord> trials = studies.Trials(study.id);
  const sweep::StudySummary s = sweep::Summarize(sw, trials);
  const auto importance = sweep::ParameterImportance(sw, trials);

  if (vm["json"].as<bool>()) {
    std::cout << Dump(StudyJson(studies, study)) << "\n";
    return kExitOk;
  }
  std::cout << "study     " << study.id << " (" << store::Name(study.status) << ")\n"
            << "pipeline  " << study.pipeline << "  " << study.file << "\n"
            << "objective " << study.metric << " (" << study.direction << ")\n"
            << "search    " << sw.sampler << " sampler, " << sw.pruner << " pruner"
            << (sw.pruner != "none" ? " on " + sw.prune_metric : "") << ", seed " << sw.seed << "\n"
            << "created   " << study.created_at << (study.ended_at ? ", ended " + *study.ended_at : "") << "\n"
            << "trials    " << s.own << " (" << s.complete << " complete, " << s.pruned << " pruned, " << s.failed
            << " failed" << (s.interrupted ? ", " + std::to_string(s.interrupted) + " interrupted" : "")
            << (s.running ? ", " + std::to_string(s.running) + " running" : "") << ")\n";
  if (s.warm) {
    std::cout << "warm start " << s.warm << " past runs:";
    for (const store::TrialRecord& t : trials) {
      if (t.state == store::TrialState::kWarm) std::cout << " " << t.run_id->substr(0, 8);
    }
    std::cout << "\n";
  }
  std::cout << "\n";
  Table table({"TRIAL", "STATE", study.metric, "PRUNED AT", "RUN", "PARAMS"});
  for (const store::TrialRecord& t : trials) {
    if (t.state == store::TrialState::kWarm) continue;
    const bool pruned = t.state == store::TrialState::kPruned;
    // A pruned trial has no objective; its value is the prune metric where it stopped.
    std::string where;
    if (pruned && t.step) {
      where = "step " + std::to_string(*t.step) + (t.value ? ", " + sw.prune_metric + " " + Number(*t.value) : "");
    }
    table.Row({std::to_string(t.number), store::Name(t.state), t.value && !pruned ? Number(*t.value) : "", where,
               t.run_id ? t.run_id->substr(0, 8) : "", sweep::FormatParams(sweep::json::parse(t.params), 6)});
  }
  std::cout << table.Render();
  if (s.best) {
    std::cout << "\n";
    PrintBest(study.metric, *s.best);
  }
  if (!importance.empty()) {
    std::cout << "\nparameter importance (share of the objective's variance each explains):\n";
    Table imp({"", ""}, "  ");
    for (const auto& [k, v] : importance) imp.Row({k, Number(std::round(v * 1000) / 1000)});
    std::cout << imp.Render();
  }
  return kExitOk;
}

}  // namespace

int StudiesCommand(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: sluice studies list|show ... (see `sluice studies ACTION --help`)\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "list") return ListStudies(rest);
  if (args[0] == "show") return ShowStudy(rest);
  throw po::error("unknown action '" + args[0] + "' (expected list or show)");
}

}  // namespace sluice::cli
