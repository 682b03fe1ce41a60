#include "history_json.hpp"

#include "integrity.hpp"
#include "sweep/study.hpp"

namespace sluice::cli {

namespace {

json ToOrdered(const sweep::json& j) { return json::parse(j.dump()); }

json OrNull(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

json ParamsJson(const std::map<std::string, std::string>& params) {
  json out = json::object();
  for (const auto& [k, v] : params) {
    try {
      out[k] = json::parse(v);
    } catch (const json::exception&) {
      out[k] = v;
    }
  }
  return out;
}

json BestJson(const sweep::StudySummary& s) {
  if (!s.best) return nullptr;
  return {{"run", s.best->run_id},
          {"value", NumberOrNull(s.best->value)},
          {"params", ToOrdered(s.best->params)},
          {"trial", s.best->warm ? json(nullptr) : json(s.best->number)},
          {"warm_start", s.best->warm}};
}

json RunSummaryJson(const store::RunRecord& r) {
  return {{"id", r.id},
          {"pipeline", r.pipeline},
          {"status", r.status},
          {"started_at", r.started_at},
          {"ended_at", OrNull(r.ended_at)},
          {"error", OrNull(r.error)}};
}

json RunJson(store::RunStore& store, const store::RunRecord& run, std::vector<std::string>* problems) {
  json j = RunSummaryJson(run);
  j["file"] = run.file;
  j["study"] = OrNull(run.study_id);
  j["trial"] = run.trial ? json(*run.trial) : json(nullptr);
  j["params"] = ParamsJson(store.Params(run.id));
  j["metrics"] = MetricsJson(store.LatestMetrics(run.id));
  json stages = json::array();
  for (const auto& s : store.Stages(run.id)) {
    stages.push_back({{"name", s.name},
                      {"plugin", s.plugin},
                      {"plugin_version", s.plugin_version},
                      {"plugin_build", s.plugin_build},
                      {"status", s.status},
                      {"seconds", s.seconds ? json(*s.seconds) : json(nullptr)},
                      {"cached", s.cached},
                      {"error", OrNull(s.error)}});
  }
  j["stages"] = std::move(stages);
  json artifacts = json::array();
  for (const auto& a : store.Artifacts(run.id)) {
    const Status s = store::VerifyArtifact(run.id, a);
    if (!s.ok() && problems) problems->push_back(s.message());
    artifacts.push_back({{"stage", a.stage},
                         {"name", a.name},
                         {"path", a.path},
                         {"sha256", a.sha256},
                         {"bytes", a.bytes},
                         {"state", s.ok()                                ? "ok"
                                   : s.code() == Status::Code::kNotFound ? "missing"
                                                                         : "changed"}});
  }
  j["artifacts"] = std::move(artifacts);
  j["environment"] = store.Environment(run.id);
  return j;
}

json ModelJson(const store::ModelRecord& m, bool with_manifest) {
  json j = {{"name", m.name},   {"version", m.version}, {"aliases", m.aliases},       {"run_id", OrNull(m.run_id)},
            {"stage", m.stage}, {"path", m.path},       {"created_at", m.created_at}, {"description", m.description}};
  if (with_manifest) j["manifest"] = json::parse(m.manifest);
  return j;
}

json StudySummaryJson(store::StudyStore& studies, const store::StudyRecord& study) {
  const sweep::Sweep sw = sweep::Sweep::FromJson(sweep::json::parse(study.sweep));
  const sweep::StudySummary s = sweep::Summarize(sw, studies.Trials(study.id));
  return {{"study", study.id},      {"pipeline", study.pipeline},
          {"status", study.status}, {"created_at", study.created_at},
          {"metric", study.metric}, {"direction", study.direction},
          {"trials", s.own},        {"complete", s.complete},
          {"pruned", s.pruned},     {"failed", s.failed},
          {"best", BestJson(s)}};
}

json StudyJson(store::StudyStore& studies, const store::StudyRecord& study) {
  const sweep::Sweep sw = sweep::Sweep::FromJson(sweep::json::parse(study.sweep));
  const std::vector<store::TrialRecord> trials = studies.Trials(study.id);
  const sweep::StudySummary s = sweep::Summarize(sw, trials);
  json trial_list = json::array();
  json warm_runs = json::array();
  for (const store::TrialRecord& t : trials) {
    if (t.state == store::TrialState::kWarm) {
      warm_runs.push_back(*t.run_id);
      continue;
    }
    trial_list.push_back({{"number", t.number},
                          {"state", t.state},
                          {"run", OrNull(t.run_id)},
                          {"value", t.value ? NumberOrNull(*t.value) : json(nullptr)},
                          {"step", t.step ? json(*t.step) : json(nullptr)},
                          {"params", json::parse(t.params)},
                          {"worker", t.worker},
                          {"started_at", t.started_at},
                          {"ended_at", OrNull(t.ended_at)}});
  }
  json importance = json::object();
  for (const auto& [k, v] : sweep::ParameterImportance(sw, trials)) importance[k] = v;
  return {{"study", study.id},
          {"pipeline", study.pipeline},
          {"file", study.file},
          {"status", study.status},
          {"metric", study.metric},
          {"direction", study.direction},
          {"created_at", study.created_at},
          {"ended_at", OrNull(study.ended_at)},
          {"sweep", ToOrdered(sw.ToJson())},
          {"trials", trial_list},
          {"warm_start_runs", warm_runs},
          {"best", BestJson(s)},
          {"importance", importance}};
}

}  // namespace sluice::cli
