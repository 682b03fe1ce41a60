// sluice runs list|show|metrics|compare: questions to the run history.
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>

#include "commands.hpp"
#include "exec/progress.hpp"
#include "history_json.hpp"
#include "integrity.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "plugin/registry.hpp"
#include "run_query.hpp"
#include "run_store.hpp"
#include "study_store.hpp"
#include "table.hpp"

namespace sluice::cli {

namespace {

double ParseIso(const std::string& iso) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &millis) < 6) {
    return NAN;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + millis / 1000.0;
}

std::string Duration(const store::RunRecord& r) {
  const double end = r.ended_at ? ParseIso(*r.ended_at) : store::UnixNow();
  const double seconds = end - ParseIso(r.started_at);
  return std::isfinite(seconds) ? exec::FormatSeconds(seconds) + (r.ended_at ? "" : "+") : "";
}

std::string ShortTime(const std::string& iso) {
  // 2026-11-28T21:05:11.123Z -> 2026-11-28 21:05:11 (UTC)
  return iso.size() >= 19 ? iso.substr(0, 10) + " " + iso.substr(11, 8) : iso;
}

int List(const Args& args) {
  po::options_description options("sluice runs list options");
  options.add_options()("help,h", "show this help")("pipeline", po::value<std::string>(), "only runs of this pipeline")(
      "status", po::value<std::string>(),
      "only runs with this status (running, succeeded, failed, interrupted, crashed, pruned)")(
      "where", po::value<std::string>(),
      "only runs where EXPR holds, e.g. 'metrics.eval.accuracy > 0.85 and params.train.optimizer = \"adam\"'")(
      "order-by", po::value<std::string>(), "sort by FIELD [asc|desc], e.g. 'metrics.eval.accuracy desc'")(
      "study", po::value<std::string>(), "only the trials of this study")(
      "limit", po::value<int64_t>()->default_value(50), "at most N runs, newest first (0: all)")(
      "metric", po::value<std::vector<std::string>>()->composing(), "add a column with this metric; repeatable")(
      "json", po::bool_switch(), "JSON array on stdout")("csv", po::bool_switch(), "CSV on stdout")(
      "store", po::value<std::string>()->default_value(""), "store folder");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice runs list [--pipeline NAME] [--status S] [--where EXPR] [--order-by KEY]\n"
                       "                        [--limit N] [--metric KEY]... [--json|--csv]\n\n"
                       "EXPR: comparisons (= != < <= > >= like) of fields with values, joined by and, or, not\n"
                       "and parentheses. Fields: status, pipeline, id, host, error, started_at, ended_at,\n"
                       "duration (seconds), study, trial, params.STAGE.KEY, metrics.STAGE.KEY, tags.KEY.\n"
                       "Quote text: status = \"succeeded\". A run without a field never matches on it."))
    return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {});
  store::RunFilter filter;
  if (vm.count("pipeline")) filter.pipeline = vm["pipeline"].as<std::string>();
  if (vm.count("status")) {
    filter.status = vm["status"].as<std::string>();
    if (!store::FromName<store::RunStatus>(store::kRunStatusNames, *filter.status)) {
      std::string known;
      for (std::string_view name : store::kRunStatusNames) known += (known.empty() ? "" : ", ") + std::string(name);
      throw po::error("unknown status '" + *filter.status + "' (" + known + ")");
    }
  }
  const store::Dialect dialect = StoreDialect(vm["store"].as<std::string>());
  for (const char* flag : {"where", "order-by"}) {
    if (!vm.count(flag)) continue;
    const std::string text = vm[flag].as<std::string>();
    try {
      if (std::string(flag) == "where") {
        filter.where = store::CompileWhere(text, dialect);
      } else {
        filter.order_by = store::CompileOrderBy(text, dialect);
      }
    } catch (const store::QueryError& e) {
      std::cerr << "sluice runs list: error: --" << flag << ": " << e.Render(text) << "\n";
      return kExitUsage;
    }
  }
  filter.limit = vm["limit"].as<int64_t>();
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  if (vm.count("study")) filter.study_id = store::StudyStore(*store).FindStudy(vm["study"].as<std::string>()).id;
  std::vector<store::RunRecord> runs = store->ListRuns(filter);
  std::vector<std::vector<store::LatestMetric>> metrics;
  for (const auto& r : runs) metrics.push_back(store->LatestMetrics(r.id));

  if (vm["json"].as<bool>()) {
    json out = json::array();
    for (size_t i = 0; i < runs.size(); ++i) {
      json j = RunSummaryJson(runs[i]);
      j["metrics"] = MetricsJson(metrics[i]);
      out.push_back(std::move(j));
    }
    std::cout << Dump(out) << "\n";
    return kExitOk;
  }
  // Metric columns: those asked for; by default the first "*.accuracy" metric present.
  std::vector<std::string> columns;
  if (vm.count("metric")) {
    columns = vm["metric"].as<std::vector<std::string>>();
  } else {
    std::set<std::string> keys;
    for (const auto& ms : metrics) {
      for (const auto& m : ms) {
        if (m.key.size() > 9 && m.key.compare(m.key.size() - 9, 9, ".accuracy") == 0) keys.insert(m.key);
      }
    }
    if (!keys.empty()) columns.push_back(*keys.begin());
  }
  auto metric_cell = [&](size_t i, const std::string& key) {
    for (const auto& m : metrics[i]) {
      if (m.key == key) return HumanNumber(m.value);
    }
    return std::string();
  };
  if (vm["csv"].as<bool>()) {
    std::cout << "id,pipeline,status,started_at,ended_at,error";
    for (const auto& c : columns) std::cout << "," << CsvField(c);
    std::cout << "\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& r = runs[i];
      std::cout << r.id << "," << CsvField(r.pipeline) << "," << store::Name(r.status) << "," << r.started_at << ","
                << r.ended_at.value_or("") << "," << CsvField(r.error.value_or(""));
      for (const auto& c : columns) std::cout << "," << metric_cell(i, c);
      std::cout << "\n";
    }
    return kExitOk;
  }
  std::vector<std::string> header = {"ID", "PIPELINE", "STATUS", "STARTED (UTC)", "DURATION"};
  header.insert(header.end(), columns.begin(), columns.end());
  Table table(header);
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    std::vector<std::string> row = {r.id, r.pipeline, store::Name(r.status), ShortTime(r.started_at), Duration(r)};
    for (const auto& c : columns) row.push_back(metric_cell(i, c));
    table.Row(std::move(row));
  }
  if (runs.empty()) {
    std::cerr << "no runs"
              << (filter.pipeline || filter.status || filter.where || filter.study_id ? " match" : " recorded yet")
              << "\n";
    return kExitOk;
  }
  std::cout << table.Render();
  return kExitOk;
}

int Show(const Args& args) {
  po::options_description options("sluice runs show options");
  options.add_options()("help,h", "show this help")("run", po::value<std::string>()->required(), "run id or prefix")(
      "json", po::bool_switch(), "JSON object on stdout")("store", po::value<std::string>()->default_value(""),
                                                          "store folder");
  if (PrintHelpIfAsked(args, options, "usage: sluice runs show RUN [--json]")) return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {"run"});
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  store::RunRecord run = store->FindRun(vm["run"].as<std::string>());
  if (vm["json"].as<bool>()) {
    std::vector<std::string> problems;
    const json j = RunJson(*store, run, &problems);
    for (const std::string& p : problems) std::cerr << "sluice runs show: warning: " << p << "\n";
    std::cout << Dump(j) << "\n";
    return kExitOk;
  }
  auto params = store->Params(run.id);
  auto metrics = store->LatestMetrics(run.id);
  auto stages = store->Stages(run.id);
  auto artifacts = store->Artifacts(run.id);
  auto env = store->Environment(run.id);
  // Each artifact checked against its recorded digest: "ok", "missing" or "changed".
  std::vector<std::string> states;
  for (const auto& a : artifacts) {
    const Status s = store::VerifyArtifact(run.id, a);
    states.push_back(s.ok() ? "ok" : s.code() == Status::Code::kNotFound ? "missing" : "changed");
    if (!s.ok()) std::cerr << "sluice runs show: warning: " << s.message() << "\n";
  }
  Table head({"", ""});
  head.Row({"run", run.id});
  head.Row({"pipeline", run.pipeline + "  (" + run.file + ")"});
  head.Row({"status", store::Name(run.status)});
  if (run.error) head.Row({"error", *run.error});
  head.Row({"started", run.started_at});
  head.Row({"ended", run.ended_at ? *run.ended_at + "  (" + Duration(run) + ")" : "-"});
  head.Row({"command", run.command});
  if (run.study_id) head.Row({"study", *run.study_id + ", trial " + std::to_string(run.trial.value_or(-1))});
  std::cout << head.Render() << "\nstages\n";
  Table st({"NAME", "PLUGIN", "STATUS", "SECONDS", "CACHED", "ERROR"}, "  ");
  for (const auto& s : stages) {
    st.Row({s.name, s.plugin + " " + s.plugin_version, store::Name(s.status),
            s.seconds ? HumanNumber(std::round(*s.seconds * 100) / 100) : "", s.cached ? "yes" : "no",
            s.error.value_or("")});
  }
  std::cout << st.Render() << "\nmetrics (latest)\n";
  Table mt({"", "", ""}, "  ");
  for (const auto& m : metrics) mt.Row({m.key, HumanNumber(m.value), "step " + std::to_string(m.step)});
  std::cout << (mt.empty() ? "  (none)\n" : mt.Render()) << "\nparams\n";
  Table pt({"", ""}, "  ");
  for (const auto& [k, v] : params) pt.Row({k, v});
  std::cout << pt.Render() << "\nartifacts\n";
  Table at({"", "", "", ""}, "  ");
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const auto& a = artifacts[i];
    at.Row({a.stage + "/" + a.name, a.sha256.substr(0, 12), states[i] == "ok" ? "" : states[i].c_str(), a.path});
  }
  std::cout << (at.empty() ? "  (none)\n" : at.Render()) << "\nenvironment\n";
  Table et({"", ""}, "  ");
  for (const auto& [k, v] : env) et.Row({k, v});
  std::cout << et.Render();
  return kExitOk;
}

int Metrics(const Args& args) {
  po::options_description options("sluice runs metrics options");
  options.add_options()("help,h", "show this help")("run", po::value<std::string>()->required(), "run id or prefix")(
      "key", po::value<std::string>()->required(), "metric key, e.g. train.loss")(
      "json", po::bool_switch(), "JSON on stdout")("csv", po::bool_switch(), "CSV on stdout")(
      "store", po::value<std::string>()->default_value(""), "store folder");
  if (PrintHelpIfAsked(args, options, "usage: sluice runs metrics RUN KEY [--json|--csv]")) return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {"run", "key"});
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  store::RunRecord run = store->FindRun(vm["run"].as<std::string>());
  const std::string key = vm["key"].as<std::string>();
  std::vector<store::MetricPoint> points = store->MetricHistory(run.id, key);
  if (points.empty()) {
    std::vector<std::string> keys;
    for (const auto& m : store->LatestMetrics(run.id)) keys.push_back(m.key);
    std::string known;
    for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k;
    std::cerr << "sluice runs metrics: error: run " << run.id << " has no metric '" << key << "'"
              << (known.empty() ? " (it logged none)" : " (it has: " + known + ")") << "\n";
    return kExitFailed;
  }
  if (vm["json"].as<bool>()) {
    json out = json::array();
    for (const auto& p : points) out.push_back({{"step", p.step}, {"value", NumberOrNull(p.value)}});
    std::cout << Dump(out, -1) << "\n";
    return kExitOk;
  }
  if (vm["csv"].as<bool>()) {
    std::cout << "step,value,logged_at\n";
    char buf[64];
    for (const auto& p : points) {
      std::snprintf(buf, sizeof buf, "%.17g,%.3f", p.value, p.logged_at);
      std::cout << p.step << "," << buf << "\n";
    }
    return kExitOk;
  }
  Table t({"STEP", "VALUE"});
  for (const auto& p : points) t.Row({std::to_string(p.step), HumanNumber(p.value)});
  std::cout << t.Render();
  return kExitOk;
}

int Compare(const Args& args) {
  po::options_description options("sluice runs compare options");
  options.add_options()("help,h", "show this help")("run", po::value<std::vector<std::string>>()->required(), "runs")(
      "json", po::bool_switch(), "JSON on stdout")("all", po::bool_switch(), "also show parameters that are equal")(
      "store", po::value<std::string>()->default_value(""), "store folder");
  if (PrintHelpIfAsked(args, options, "usage: sluice runs compare RUN RUN... [--json] [--all]")) return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {"run"}, true);
  const auto ids = vm["run"].as<std::vector<std::string>>();
  if (ids.size() < 2) throw po::error("runs compare needs at least two runs");
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  std::vector<store::RunRecord> runs;
  std::vector<std::map<std::string, std::string>> params;
  std::vector<std::map<std::string, double>> metrics;
  std::set<std::string> param_keys, metric_keys;
  for (const auto& id : ids) {
    runs.push_back(store->FindRun(id));
    params.push_back(store->Params(runs.back().id));
    std::map<std::string, double> m;
    for (const auto& lm : store->LatestMetrics(runs.back().id)) m[lm.key] = lm.value;
    metrics.push_back(std::move(m));
    for (const auto& [k, v] : params.back()) param_keys.insert(k);
    for (const auto& [k, v] : metrics.back()) metric_keys.insert(k);
  }
  auto differs = [&](const std::string& key) {
    for (size_t i = 1; i < runs.size(); ++i) {
      auto a = params[0].find(key), b = params[i].find(key);
      if ((a == params[0].end()) != (b == params[i].end())) return true;
      if (a != params[0].end() && a->second != b->second) return true;
    }
    return false;
  };
  if (vm["json"].as<bool>()) {
    json out = {{"runs", json::array()},
                {"params", json::object()},
                {"metrics", json::object()},
                {"differing_params", json::array()}};
    for (const auto& r : runs) out["runs"].push_back(RunSummaryJson(r));
    for (const auto& k : param_keys) {
      json values = json::array();
      for (const auto& p : params) {
        auto it = p.find(k);
        values.push_back(it == p.end() ? json(nullptr) : json::parse(it->second));
      }
      out["params"][k] = values;
      if (differs(k)) out["differing_params"].push_back(k);
    }
    for (const auto& k : metric_keys) {
      json values = json::array();
      for (const auto& m : metrics) {
        auto it = m.find(k);
        values.push_back(it == m.end() ? json(nullptr) : NumberOrNull(it->second));
      }
      out["metrics"][k] = values;
    }
    std::cout << Dump(out) << "\n";
    return kExitOk;
  }
  std::vector<std::string> header = {""};
  for (const auto& r : runs) header.push_back(r.id);
  Table t(header);
  std::vector<std::string> pipeline_row = {"pipeline"}, status_row = {"status"};
  for (const auto& r : runs) {
    pipeline_row.push_back(r.pipeline);
    status_row.push_back(store::Name(r.status));
  }
  t.Row(pipeline_row);
  t.Row(status_row);
  const bool all = vm["all"].as<bool>();
  for (const auto& k : param_keys) {
    if (!all && !differs(k)) continue;
    std::vector<std::string> row = {k};
    for (const auto& p : params) row.push_back(p.count(k) ? p.at(k) : "-");
    t.Row(row);
  }
  for (const auto& k : metric_keys) {
    std::vector<std::string> row = {k};
    for (const auto& m : metrics) row.push_back(m.count(k) ? HumanNumber(m.at(k)) : "-");
    t.Row(row);
  }
  std::cout << t.Render();
  if (!all) std::cout << "(parameters equal in all runs are hidden; --all shows them)\n";
  return kExitOk;
}

}  // namespace

// What the plugin of stage S declares about metric "S.NAME", found through the newest run
// of `pipeline` (which plugin ran S) and the installed plugins (its contract).
Goal DeclaredGoal(store::RunStore& store, const std::string& pipeline, const std::string& metric) {
  const auto dot = metric.find('.');
  if (dot == std::string::npos) return Goal::kNone;
  store::RunFilter newest;
  newest.pipeline = pipeline;
  newest.limit = 1;
  const std::vector<store::RunRecord> runs = store.ListRuns(newest);
  if (runs.empty()) return Goal::kNone;
  for (const store::StageRecord& stage : store.Stages(runs.front().id)) {
    if (stage.name != metric.substr(0, dot)) continue;
    std::string error;
    const plugin::PluginRegistry registry;
    const plugin::PluginDescriptor* plugin = registry.Find(stage.plugin, error);
    const MetricSpec* declared = plugin ? plugin->contract.FindMetric(metric.substr(dot + 1)) : nullptr;
    return declared ? declared->goal : Goal::kNone;
  }
  return Goal::kNone;
}

int Best(const Args& args) {
  po::options_description options("sluice runs best options");
  options.add_options()("help,h", "show this help")("pipeline", po::value<std::string>()->required(),
                                                    "runs of this pipeline")(
      "metric", po::value<std::string>()->required(), "the metric to rank by, \"stage.metric\"")(
      "max", po::bool_switch(), "highest value is best (default: as the metric's plugin declares it)")(
      "min", po::bool_switch(), "lowest value is best")("where", po::value<std::string>(),
                                                        "only runs where EXPR holds (as for `runs list`)")(
      "json", po::bool_switch(), "JSON object on stdout")("store", po::value<std::string>()->default_value(""),
                                                          "store folder");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice runs best --pipeline NAME --metric KEY [--max|--min] [--where EXPR] [--json]"))
    return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {});
  if (vm["max"].as<bool>() && vm["min"].as<bool>()) throw po::error("give --max or --min, not both");
  const std::string metric = vm["metric"].as<std::string>();
  bool minimize = vm["min"].as<bool>();
  auto store = OpenExistingStore(vm["store"].as<std::string>());
  if (!vm["max"].as<bool>() && !minimize) {
    // As the metric's plugin declares it; for a plugin that declares nothing, by its name.
    const Goal goal = DeclaredGoal(*store, vm["pipeline"].as<std::string>(), metric);
    minimize = goal == Goal::kMinimize;
    if (goal == Goal::kNone) {
      for (const char* word : {"loss", "error", "mae", "mse", "rmse"}) {
        if (metric.find(word) != std::string::npos) minimize = true;
      }
    }
  }
  store::RunFilter filter;
  filter.pipeline = vm["pipeline"].as<std::string>();
  filter.status = "succeeded";
  filter.limit = 1;
  try {
    const store::Dialect dialect = StoreDialect(vm["store"].as<std::string>());
    filter.where = store::FieldExpression("metrics." + metric, dialect);  // runs that logged it
    filter.where->sql = "(" + filter.where->sql + ") IS NOT NULL";
    filter.order_by = store::CompileOrderBy("metrics." + metric + (minimize ? " asc" : " desc"), dialect);
  } catch (const store::QueryError& e) {
    throw po::error("--metric: " + std::string(e.what()));
  }
  if (vm.count("where")) {
    const std::string text = vm["where"].as<std::string>();
    try {
      store::SqlFragment extra = store::CompileWhere(text, StoreDialect(vm["store"].as<std::string>()));
      filter.where->sql += " AND " + extra.sql;
      filter.where->binds.insert(filter.where->binds.end(), extra.binds.begin(), extra.binds.end());
    } catch (const store::QueryError& e) {
      std::cerr << "sluice runs best: error: --where: " << e.Render(text) << "\n";
      return kExitUsage;
    }
  }
  std::vector<store::RunRecord> runs = store->ListRuns(filter);
  if (runs.empty()) {
    std::cerr << "sluice runs best: no succeeded run of pipeline '" << *filter.pipeline << "' logged " << metric
              << "\n";
    return kExitFailed;
  }
  const store::RunRecord& best = runs.front();
  double value = NAN;
  for (const auto& m : store->LatestMetrics(best.id)) {
    if (m.key == metric) value = m.value;
  }
  const json params = ParamsJson(store->Params(best.id));
  if (vm["json"].as<bool>()) {
    std::cout << Dump(json{{"run", best.id},
                           {"pipeline", best.pipeline},
                           {"metric", metric},
                           {"direction", minimize ? "minimize" : "maximize"},
                           {"value", NumberOrNull(value)},
                           {"params", params}})
              << "\n";
    return kExitOk;
  }
  std::cout << "best run of " << best.pipeline << " by " << metric << " (" << (minimize ? "lowest" : "highest")
            << "): " << best.id << "  " << metric << " = " << HumanNumber(value) << "\n";
  Table table({"", ""}, "  ");
  for (const auto& [k, v] : params.items()) table.Row({k, v.dump()});
  std::cout << table.Render();
  return kExitOk;
}

int RunsCommand(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: sluice runs list|show|metrics|compare|best ... (see `sluice runs ACTION --help`)\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string action = args[0];
  const Args rest(args.begin() + 1, args.end());
  if (action == "list") return List(rest);
  if (action == "show") return Show(rest);
  if (action == "metrics") return Metrics(rest);
  if (action == "compare") return Compare(rest);
  if (action == "best") return Best(rest);
  throw po::error("unknown action '" + action + "' (expected list, show, metrics, compare or best)");
}

}  // namespace sluice::cli
