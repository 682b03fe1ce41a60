#include "study.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "exec/executor.hpp"
#include "exec/interrupt.hpp"
#include "pipeline/stored.hpp"
#include "pruner.hpp"
#include "sampler.hpp"

namespace sluice::sweep {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Does a past run (its parameters as one JSON object) belong to this study's space?
bool Matches(const json& past, const std::map<std::string, std::string>& base, const Sweep& sweep) {
  for (const Dimension& d : sweep.space) {
    if (!past.contains(d.key) || !d.Contains(past.at(d.key))) return false;
  }
  for (const auto& [key, text] : base) {
    if (key == "pipeline.threads" || key == "pipeline.seed" || EndsWith(key, ".seed")) continue;
    if (std::any_of(sweep.space.begin(), sweep.space.end(), [&](const Dimension& d) { return d.key == key; })) continue;
    if (!past.contains(key) || past.at(key) != json::parse(text)) return false;
  }
  return true;
}

// Picks each trial's parameters. Keeps what it learnt between calls: a finished trial's
// parameters are parsed once, however many trials follow.
class Chooser {
 public:
  explicit Chooser(const Sweep& sweep) : sweep_(sweep) {}

  std::optional<std::string> operator()(const std::vector<store::TrialRecord>& trials, int64_t number) {
    int64_t own = 0;
    for (const store::TrialRecord& t : trials) {
      // Interrupted and lost trials leave their place to others.
      const bool counts = t.state != store::TrialState::kInterrupted && t.state != store::TrialState::kLost;
      if (t.number >= 0 && counts) ++own;
      const bool finished = t.state == store::TrialState::kComplete || t.state == store::TrialState::kWarm ||
                            t.state == store::TrialState::kPruned;
      if (!finished || !t.value || !std::isfinite(*t.value)) continue;
      auto at = std::lower_bound(numbers_.begin(), numbers_.end(), t.number);  // keep trial order
      if (at != numbers_.end() && *at == t.number) continue;                   // learnt already
      history_.insert(
          history_.begin() + (at - numbers_.begin()),
          Observation{json::parse(t.params), *t.value, t.state == store::TrialState::kPruned, t.step.value_or(0)});
      numbers_.insert(at, t.number);
    }
    if (sweep_.trials && own >= *sweep_.trials) return std::nullopt;
    if (sweep_.sampler == "grid") {
      for (const store::TrialRecord& t : trials) {
        const bool counts = t.state != store::TrialState::kInterrupted && t.state != store::TrialState::kLost;
        if (t.number >= 0) Hold(t.number, counts ? &t.params : nullptr);
      }
      std::optional<json> point = SampleGrid(sweep_, grid_used_, grid_next_);
      return point ? std::optional<std::string>(point->dump()) : std::nullopt;
    }
    std::mt19937_64 rng = TrialRng(sweep_.seed, number);
    if (sweep_.sampler == "random") return SampleRandom(sweep_, rng).dump();
    TpeOptions options;
    options.startup_trials = sweep_.tpe_startup_trials;
    options.multivariate = sweep_.tpe_multivariate;
    return SampleTpe(sweep_, history_, options, rng).dump();
  }

  // The best objective among the finished trials and warm-start runs seen so far.
  std::optional<double> Best() const {
    std::optional<double> best;
    for (const Observation& o : history_) {
      if (!o.pruned && (!best || sweep_.Better(o.value, *best))) best = o.value;
    }
    return best;
  }

 private:
  // Grid: trial `number` holds the point `params` (null: none, it was interrupted or lost).
  // Each trial's parameters are read once, however many claims follow.
  void Hold(int64_t number, const std::string* params) {
    auto held = grid_held_.find(number);
    if (params && held == grid_held_.end()) {
      const std::string point = json::parse(*params).dump();
      grid_held_.emplace(number, point);
      grid_used_.insert(point);
    } else if (!params && held != grid_held_.end()) {
      grid_used_.erase(held->second);
      grid_next_ = 0;  // a point before the last one given may be free again
      grid_held_.erase(held);
    }
  }

  const Sweep& sweep_;
  std::vector<int64_t> numbers_;      // of history_, ascending
  std::vector<Observation> history_;  // finished trials and warm-start runs, in trial order
  // Trial number -> its point: one trial a point, since claims take turns under the lock.
  std::map<int64_t, std::string> grid_held_;
  std::set<std::string> grid_used_;  // the points held
  int64_t grid_next_ = 0;            // every grid point before it is held
};

}  // namespace

store::StudyRecord CreateStudy(store::RunStore& store, const pipeline::ResolvedPipeline& base, const Sweep& given,
                               const std::string& command_line) {
  store::StudyRecord s;
  s.id = store::NewRunId();
  Sweep sweep = given;
  if (!sweep.seed_given) {  // the pipeline's seed and this study: a new study, new points
    sweep.seed = pipeline::StageSeed(static_cast<int64_t>(sweep.seed), "sweep " + s.id);
    sweep.seed_given = true;
  }
  s.pipeline = base.name;
  s.file = base.file;
  s.spec = base.ToJson();
  s.sweep = sweep.ToJson().dump();
  s.space_key = sweep.SpaceKey();
  s.metric = sweep.metric;
  s.direction = sweep.maximize ? "maximize" : "minimize";
  s.status = store::StudyStatus::kRunning;
  s.created_at = store::IsoTime(store::UnixNow());
  s.command = command_line;
  std::vector<store::TrialRecord> warm;
  store::StudyStore studies(store);
  if (sweep.warm_start) {
    const std::map<std::string, std::string> base_params = base.ParamsJson();
    std::vector<store::PastRun> past = studies.FinishedRuns(base.name, sweep.metric, s.id);
    for (const store::PastRun& run : past) {
      const json params = json::parse(run.params_json);
      if (!std::isfinite(run.value) || !Matches(params, base_params, sweep)) continue;
      json point = json::object();
      for (const Dimension& d : sweep.space) point[d.key] = params.at(d.key);
      store::TrialRecord t;
      t.state = store::TrialState::kWarm;
      t.run_id = run.run_id;
      t.params = point.dump();
      t.value = run.value;
      t.started_at = run.started_at;
      warm.push_back(std::move(t));
    }
    // Oldest first, numbered up to -1, so trial numbers follow time.
    for (size_t i = 0; i < warm.size(); ++i)
      warm[i].number = static_cast<int64_t>(i) - static_cast<int64_t>(warm.size());
  }
  studies.CreateStudy(s, warm);
  return s;
}

WorkerResult RunWorker(store::RunStore& store, const std::string& study_id, const plugin::PluginRegistry& registry,
                       const WorkerOptions& options) {
  WorkerResult result;
  store::StudyStore studies(store);
  const store::StudyRecord study = studies.FindStudy(study_id);
  const Sweep sweep = Sweep::FromJson(json::parse(study.sweep));
  pipeline::Diagnostics diag;
  std::optional<pipeline::PipelineBuilder> base = pipeline::StoredPipeline(study.spec, "study " + study.id, diag);
  if (!base) {
    result.error = diag.Render(pipeline::SourceTexts());
    return result;
  }
  const std::string worker = std::to_string(getpid()) + "@" + store::HostName();
  exec::ProgressView quiet(stderr, exec::ProgressView::Mode::kQuiet);
  exec::ProgressView& view = options.trial_view ? *options.trial_view : quiet;
  Chooser chooser(sweep);
  double last_liveness_check = -INFINITY;
  // A trial's writes (its claim, its run's start and end) go out without waiting for the
  // server's answers, which the next claim's read collects: on PostgreSQL, three round
  // trips a trial fewer. Confirmed before the worker returns.
  store::Database::ConfirmLater confirm_later(store.db());
  // How the last trial ended, written with the next claim (one transaction for both), or
  // after the last; if the loop is left by an exception, on the way out.
  std::function<void()> unwritten_end;
  struct WriteOnExit {
    std::function<void()>& end;
    ~WriteOnExit() {
      if (!end) return;
      try {
        end();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice: cannot record a trial's end: %s\n", e.what());
      }
    }
  } write_on_exit{unwritten_end};

  while (true) {
    if (exec::StopRequested()) {
      result.interrupted = true;
      break;
    }
    if (options.deadline && store::UnixNow() >= *options.deadline) break;
    // A trial of a worker that died (here, or on another host sharing a PostgreSQL store)
    // is lost, and frees its place for a trial claimed next: looked for once a heartbeat.
    if (const double now = store::UnixNow(); now - last_liveness_check >= store::HeartbeatSeconds()) {
      store.MarkCrashedRuns();
      // So is one whose worker died just before its run began or just after it ended: once
      // no live worker could still be about to write it (a writer waits for the store's
      // lock for up to its deadline).
      studies.SettleOrphanedTrials(study.id, now - store::RunStore::kLostHeartbeats * store::HeartbeatSeconds() -
                                                 store::Database::kWriteDeadlineSeconds);
      last_liveness_check = now;
    }
    std::optional<store::TrialRecord> trial = studies.ClaimTrial(study.id, worker, std::ref(chooser), unwritten_end);
    unwritten_end = nullptr;
    if (!trial) break;
    ++result.trials;
    const json params = json::parse(trial->params);
    pipeline::Diagnostics trial_diag;
    std::optional<pipeline::ResolvedPipeline> p = TrialPipeline(*base, params, registry, trial_diag);
    if (!p) {
      studies.FinishTrial(study.id, trial->number, store::TrialState::kFailed, std::nullopt, std::nullopt,
                          std::nullopt);
      if (options.log) {
        std::fprintf(options.log, "trial %lld failed before running: %s", static_cast<long long>(trial->number),
                     trial_diag.Render(pipeline::SourceTexts()).c_str());
      }
      continue;
    }

    if (p->threads == 0 && options.threads > 0) p->threads = options.threads;  // --jobs share the cores
    exec::ExecuteOptions execute;
    execute.study_id = study.id;
    execute.trial = trial->number;
    std::string run_id;
    execute.on_recorded = [&](const std::string& id) { run_id = id; };
    std::optional<double> last_value;
    int64_t last_step = 0;
    if (sweep.pruner != "none") {
      execute.prune_watch = exec::PruneWatch{
          sweep.prune_metric, [&](int64_t step, double value) {
            last_value = value;
            last_step = step;
            if (!PruneCheckpoint(sweep, step)) return false;
            const bool median = sweep.pruner == "median";
            std::vector<double> others = studies.ValuesAtStep(study.id, sweep.prune_metric, step, run_id, median);
            int64_t finished = 0;
            if (median) {
              for (const auto& t : studies.Trials(study.id)) {
                finished += t.state == store::TrialState::kComplete || t.state == store::TrialState::kWarm;
              }
            }
            return ShouldPrune(sweep, step, value, std::move(others), finished);
          }};
    }
    exec::RunOutcome outcome = exec::ExecutePipeline(*p, store, view, options.command_line, execute);

    store::TrialState state = store::TrialState::kFailed;
    std::optional<double> value;
    std::optional<int64_t> step;
    std::string note;
    if (outcome.status == store::RunStatus::kSucceeded) {
      if (auto it = outcome.metrics.find(sweep.metric); it != outcome.metrics.end()) value = it->second;
      if (value && std::isfinite(*value)) {
        state = store::TrialState::kComplete;
      } else {
        state = store::TrialState::kFailed;
        note = value ? sweep.metric + " is not a number" : "the run logged no " + sweep.metric;
        value.reset();
      }
    } else if (outcome.status == store::RunStatus::kPruned) {
      state = store::TrialState::kPruned;
      value = last_value;
      step = outcome.pruned_at;
    } else if (outcome.status == store::RunStatus::kInterrupted) {
      state = store::TrialState::kInterrupted;
    } else {
      state = store::TrialState::kFailed;
      note = outcome.error.value_or("");
    }
    unwritten_end = [&studies, &study, number = trial->number, state, run_id = outcome.run_id, value, step] {
      studies.FinishTrial(study.id, number, state, run_id, value, step);
    };
    if (options.log) {
      std::string line = "trial " + std::to_string(trial->number) + " " + store::Name(state);
      if (value) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %s=%.6g",
                      state == store::TrialState::kPruned ? sweep.prune_metric.c_str() : sweep.metric.c_str(), *value);
        line += buf;
        if (step) line += " at step " + std::to_string(*step);
      }
      std::optional<double> best = chooser.Best();
      if (state == store::TrialState::kComplete && (!best || sweep.Better(*value, *best))) best = value;
      if (best) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " (best %.6g)", *best);
        line += buf;
      }
      line += "  run " + outcome.run_id.substr(0, 8) + "  " + FormatParams(params, 4);
      if (!note.empty()) line += "\n  " + note;
      std::fprintf(options.log, "%s\n", line.c_str());
      std::fflush(options.log);
    }
    if (state == store::TrialState::kInterrupted) {
      result.interrupted = true;
      break;
    }
  }
  if (unwritten_end) std::exchange(unwritten_end, nullptr)();
  confirm_later.Confirm();
  return result;
}

std::string FormatParams(const json& params, int digits) {
  std::string out;
  for (const auto& [k, v] : params.items()) {
    std::string text = v.dump();
    if (v.is_number_float()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.*g", digits, v.get<double>());
      text = buf;
    }
    out += (out.empty() ? "" : " ") + k + "=" + text;
  }
  return out;
}

StudySummary Summarize(const Sweep& sweep, const std::vector<store::TrialRecord>& trials) {
  StudySummary s;
  for (const store::TrialRecord& t : trials) {
    if (t.number >= 0) ++s.own;
    if (t.state == store::TrialState::kComplete) ++s.complete;
    if (t.state == store::TrialState::kPruned) ++s.pruned;
    if (t.state == store::TrialState::kFailed || t.state == store::TrialState::kLost) ++s.failed;
    if (t.state == store::TrialState::kInterrupted) ++s.interrupted;
    if (t.state == store::TrialState::kRunning) ++s.running;
    if (t.state == store::TrialState::kWarm) ++s.warm;
    if ((t.state == store::TrialState::kComplete || t.state == store::TrialState::kWarm) && t.value && t.run_id) {
      if (!s.best || sweep.Better(*t.value, s.best->value)) {
        s.best =
            TrialSummary{t.number, *t.run_id, *t.value, json::parse(t.params), t.state == store::TrialState::kWarm};
      }
    }
  }
  return s;
}

std::vector<std::pair<std::string, double>> ParameterImportance(const Sweep& sweep,
                                                                const std::vector<store::TrialRecord>& trials) {
  std::vector<std::pair<json, double>> rows;
  for (const store::TrialRecord& t : trials) {
    if ((t.state == store::TrialState::kComplete || t.state == store::TrialState::kWarm) && t.value &&
        std::isfinite(*t.value)) {
      rows.emplace_back(json::parse(t.params), *t.value);
    }
  }
  std::vector<std::pair<std::string, double>> out;
  if (rows.size() < 4) return out;
  double mean = 0;
  for (const auto& r : rows) mean += r.second;
  mean /= static_cast<double>(rows.size());
  double total = 0;
  for (const auto& r : rows) total += (r.second - mean) * (r.second - mean);
  double sum = 0;
  for (const Dimension& d : sweep.space) {
    std::map<std::string, std::pair<double, int>> groups;  // group -> (sum, count)
    std::vector<std::pair<double, size_t>> numeric;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i].first.contains(d.key)) continue;
      const json& v = rows[i].first.at(d.key);
      if (d.numeric() && v.is_number() && d.Cardinality() == 0) {
        numeric.emplace_back(v.get<double>(), i);
      } else {
        auto& g = groups[v.dump()];
        g.first += rows[i].second;
        ++g.second;
      }
    }
    if (!numeric.empty()) {  // quantile bins of equal counts
      std::sort(numeric.begin(), numeric.end());
      const size_t bins = std::min<size_t>(8, std::max<size_t>(2, numeric.size() / 4));
      for (size_t r = 0; r < numeric.size(); ++r) {
        auto& g = groups[std::to_string(r * bins / numeric.size())];
        g.first += rows[numeric[r].second].second;
        ++g.second;
      }
    }
    double between = 0;
    for (const auto& [key, g] : groups) {
      const double m = g.first / g.second;
      between += g.second * (m - mean) * (m - mean);
    }
    const double eta2 = total > 0 ? between / total : 0;
    out.emplace_back(d.key, eta2);
    sum += eta2;
  }
  for (auto& [key, v] : out) v = sum > 0 ? v / sum : 0;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace sluice::sweep
