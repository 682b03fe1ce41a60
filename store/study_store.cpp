#include "study_store.hpp"

namespace sluice::store {

namespace {

constexpr const char* kStudyColumns =
    "id, pipeline, file, spec, sweep, space_key, metric, direction, status, created_at, ended_at, command";

StudyRecord ReadStudy(const Statement& q) {
  StudyRecord s;
  s.id = q.Text(0);
  s.pipeline = q.Text(1);
  s.file = q.OptionalText(2).value_or("");
  s.spec = q.Text(3);
  s.sweep = q.Text(4);
  s.space_key = q.Text(5);
  s.metric = q.Text(6);
  s.direction = q.Text(7);
  s.status = FromStored(kStudyStatusNames, q.Text(8), StudyStatus::kInterrupted);
  s.created_at = q.Text(9);
  s.ended_at = q.OptionalText(10);
  s.command = q.OptionalText(11).value_or("");
  return s;
}

constexpr const char* kTrialColumns = "number, state, run_id, params, value, step, worker, started_at, ended_at";

TrialRecord ReadTrial(const Statement& q) {
  TrialRecord t;
  t.number = q.Int(0);
  t.state = FromStored(kTrialStateNames, q.Text(1), TrialState::kFailed);
  t.run_id = q.OptionalText(2);
  t.params = q.Text(3);
  t.value = q.OptionalDouble(4);
  if (!q.IsNull(5)) t.step = q.Int(5);
  t.worker = q.OptionalText(6).value_or("");
  t.started_at = q.Text(7);
  t.ended_at = q.OptionalText(8);
  return t;
}

constexpr const char* kNextRevision = "(SELECT coalesce(max(revision), 0) + 1 FROM trials WHERE study_id = ?1)";

void InsertTrial(Database& db, const std::string& study_id, const TrialRecord& t) {
  db.Cached(std::string("INSERT INTO trials (study_id, number, state, run_id, params, value, step, worker, started_at, "
                        "ended_at, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ") +
            kNextRevision + ")")
      .Bind(1, study_id)
      .Bind(2, t.number)
      .Bind(3, Name(t.state))
      .Bind(4, t.run_id)
      .Bind(5, t.params)
      .Bind(6, t.value)
      .Bind(7, t.step)
      .Bind(8, t.worker)
      .Bind(9, t.started_at)
      .Bind(10, t.ended_at)
      .Queue();
}

}  // namespace

const std::vector<TrialRecord>& StudyStore::Refresh(const std::string& study_id) {
  TrialCache& cache = cache_[study_id];
  Statement& q = db_.Cached(std::string("SELECT ") + kTrialColumns +
                            ", revision FROM trials WHERE study_id = ? AND revision > ? ORDER BY revision");
  q.Bind(1, study_id).Bind(2, cache.revision);
  while (q.Step()) {
    TrialRecord t = ReadTrial(q);
    cache.revision = std::max(cache.revision, q.Int(9));
    auto it = std::lower_bound(cache.trials.begin(), cache.trials.end(), t.number,
                               [](const TrialRecord& a, int64_t n) { return a.number < n; });
    if (it != cache.trials.end() && it->number == t.number) {
      *it = std::move(t);
    } else {
      cache.trials.insert(it, std::move(t));
    }
  }
  return cache.trials;
}

namespace {}  // namespace

void StudyStore::CreateStudy(const StudyRecord& s, const std::vector<TrialRecord>& warm) {
  db_.WriteTransaction([&] {
    db_.Cached(std::string("INSERT INTO studies (") + kStudyColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, s.id)
        .Bind(2, s.pipeline)
        .Bind(3, s.file)
        .Bind(4, s.spec)
        .Bind(5, s.sweep)
        .Bind(6, s.space_key)
        .Bind(7, s.metric)
        .Bind(8, s.direction)
        .Bind(9, Name(s.status))
        .Bind(10, s.created_at)
        .Bind(11, s.ended_at)
        .Bind(12, s.command)
        .Run();
    for (const TrialRecord& t : warm) InsertTrial(db_, s.id, t);
  });
}

StudyRecord StudyStore::FindStudy(const std::string& id_or_prefix) {
  CheckIdPrefix(id_or_prefix, "study");
  Statement& q = db_.Cached(std::string("SELECT ") + kStudyColumns +
                            " FROM studies WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 3");
  q.Bind(1, static_cast<int64_t>(id_or_prefix.size())).Bind(2, id_or_prefix);
  std::vector<StudyRecord> found;
  while (q.Step()) found.push_back(ReadStudy(q));
  if (found.empty()) throw StoreError("no study matches '" + id_or_prefix + "' in " + store_.dir().string());
  if (found.size() > 1) throw StoreError("study prefix '" + id_or_prefix + "' is ambiguous; give more digits");
  return found.front();
}

std::vector<StudyRecord> StudyStore::ListStudies(const std::optional<std::string>& pipeline, int64_t limit) {
  std::string sql = std::string("SELECT ") + kStudyColumns + " FROM studies";
  if (pipeline) sql += " WHERE pipeline = ?";
  sql += " ORDER BY created_at DESC, id";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  Statement q = db_.Prepare(sql);
  if (pipeline) q.Bind(1, *pipeline);
  std::vector<StudyRecord> out;
  while (q.Step()) out.push_back(ReadStudy(q));
  return out;
}

std::vector<TrialRecord> StudyStore::Trials(const std::string& study_id) { return Refresh(study_id); }

void StudyStore::SetStudyStatus(const std::string& study_id, StudyStatus status) {
  db_.WriteTransaction([&] {
    const std::optional<std::string> ended =
        status == StudyStatus::kRunning ? std::nullopt : std::optional<std::string>(IsoTime(UnixNow()));
    db_.Cached("UPDATE studies SET status = ?, ended_at = ? WHERE id = ?")
        .Bind(1, Name(status))
        .Bind(2, ended)
        .Bind(3, study_id)
        .Run();
  });
}

std::optional<TrialRecord> StudyStore::ClaimTrial(const std::string& study_id, const std::string& worker,
                                                  const Chooser& choose, const std::function<void()>& first) {
  std::optional<TrialRecord> claimed;
  db_.WriteTransaction([&] {
    claimed.reset();  // a transaction run again claims afresh
    if (first) first();
    const std::vector<TrialRecord>& trials = Refresh(study_id);
    int64_t number = 0;
    for (const TrialRecord& t : trials) number = std::max(number, t.number + 1);
    std::optional<std::string> params = choose(trials, number);
    if (!params) return;
    TrialRecord t;
    t.number = number;
    t.state = TrialState::kRunning;
    t.params = *params;
    t.worker = worker;
    t.started_at = IsoTime(UnixNow());
    InsertTrial(db_, study_id, t);
    claimed = std::move(t);
  });
  return claimed;
}

void StudyStore::FinishTrial(const std::string& study_id, int64_t number, TrialState state,
                             const std::optional<std::string>& run_id, std::optional<double> value,
                             std::optional<int64_t> step) {
  // Under the store's lock, as every write of a trial: the study's next revision is read
  // and taken in one turn (two workers ending trials at once would otherwise take the same
  // number, and a reader between them would miss the second). Inside a claim it is part of
  // the claim's transaction.
  db_.WriteTransaction([&] {
    db_.Cached(std::string("UPDATE trials SET state = ?2, value = ?3, step = ?4, ended_at = ?5, run_id = ?7, "
                           "revision = ") +
               kNextRevision + " WHERE study_id = ?1 AND number = ?6")
        .Bind(1, study_id)
        .Bind(2, Name(state))
        .Bind(3, value)
        .Bind(4, step)
        .Bind(5, IsoTime(UnixNow()))
        .Bind(6, number)
        .Bind(7, run_id)
        .Queue();
  });
}

void MarkTrialOfCrashedRun(Database& db, const std::string& run_id, const std::string& now) {
  // Only where the run is now crashed: a worker that looked for dead runs may find one it
  // saw running already ended, its lock gone with it, and the trial still 'running' until
  // its worker writes the trial's end (with its next claim). Marking that trial lost would
  // free its grid point for a second trial.
  db.Cached(
        "UPDATE trials SET state = 'lost', ended_at = ?1, run_id = ?2, revision = (SELECT "
        "coalesce(max(t.revision), 0) + 1 FROM trials t WHERE t.study_id = trials.study_id) WHERE (study_id, number) = "
        "(SELECT study_id, trial FROM runs WHERE id = ?2 AND status = 'crashed') AND state = 'running'")
      .Bind(1, now)
      .Bind(2, run_id)
      .Run();
}

namespace {

// In a statement on `trials`: the trial's run (the run of its study and number).
constexpr const char* kTrialRun = "FROM runs r WHERE r.study_id = trials.study_id AND r.trial = trials.number";

// Trials of study ?1 left 'running' whose run ended before ?3 (an ISO time), succeeded,
// and logged a finite value of the study's metric (NaN and the infinities are outside: a
// trial that logged them failed) become 'complete' with it, ended at ?2. Returns how many.
int CompleteFromRuns(Database& db, const std::string& study_id, const std::string& now, const std::string& before) {
  const std::string value = std::string(
      "(SELECT s.last_value FROM runs r JOIN metric_series s ON s.run_id = r.id AND s.key = (SELECT "
      "metric FROM studies WHERE id = ?1) WHERE r.study_id = trials.study_id AND r.trial = "
      "trials.number AND r.status = 'succeeded' AND r.ended_at < ?3 AND s.last_value BETWEEN "
      "-1.7976931348623157e308 AND 1.7976931348623157e308)");
  db.Cached("UPDATE trials SET state = 'complete', ended_at = ?2, value = " + value + ", run_id = (SELECT r.id " +
            kTrialRun + "), revision = " + kNextRevision + " WHERE study_id = ?1 AND state = 'running' AND " + value +
            " IS NOT NULL")
      .Bind(1, study_id)
      .Bind(2, now)
      .Bind(3, before)
      .Run();
  return static_cast<int>(db.Changes());
}

}  // namespace

StudyStore::Released StudyStore::ReleaseAbandonedTrials(const std::string& study_id) {
  Released released;
  db_.WriteTransaction([&] {
    const std::string now = IsoTime(UnixNow());
    released.completed = CompleteFromRuns(db_, study_id, now, "9");  // every ISO time is before "9"
    db_.Cached("UPDATE trials SET state = 'interrupted', ended_at = ?2, run_id = (SELECT r.id " +
               std::string(kTrialRun) + "), revision = " + kNextRevision +
               " WHERE study_id = ?1 AND state = 'running' AND NOT EXISTS (SELECT 1 " + kTrialRun +
               " AND r.status = 'running')")
        .Bind(1, study_id)
        .Bind(2, now)
        .Run();
    released.again = static_cast<int>(db_.Changes());
  });
  return released;
}

int StudyStore::SettleOrphanedTrials(const std::string& study_id, double before) {
  int settled = 0;
  db_.WriteTransaction([&] {
    const std::string now = IsoTime(UnixNow()), cutoff = IsoTime(before);
    settled = CompleteFromRuns(db_, study_id, now, cutoff);
    db_.Cached("UPDATE trials SET state = 'lost', ended_at = ?2, run_id = (SELECT r.id " + std::string(kTrialRun) +
               "), revision = " + kNextRevision + " WHERE study_id = ?1 AND state = 'running' AND (EXISTS (SELECT 1 " +
               kTrialRun +
               " AND r.status <> 'running' AND r.ended_at < ?3) OR (started_at < ?3 AND NOT EXISTS (SELECT 1 " +
               kTrialRun + ")))")
        .Bind(1, study_id)
        .Bind(2, now)
        .Bind(3, cutoff)
        .Run();
    settled += static_cast<int>(db_.Changes());
  });
  return settled;
}

std::vector<double> StudyStore::ValuesAtStep(const std::string& study_id, const std::string& key, int64_t step,
                                             const std::string& exclude_run, bool finished_only) {
  Statement& q = db_.Cached(
      finished_only ? "SELECT p.value FROM trials t JOIN metric_series s ON s.run_id = t.run_id AND s.key = ?1 "
                      "JOIN metric_points p ON p.series_id = s.id AND p.step = ?2 WHERE t.study_id = ?3 "
                      "AND t.run_id <> ?4 AND t.state IN ('complete', 'warm') AND p.value IS NOT NULL"
                    : "SELECT p.value FROM runs r JOIN metric_series s ON s.run_id = r.id AND s.key = ?1 "
                      "JOIN metric_points p ON p.series_id = s.id AND p.step = ?2 WHERE r.study_id = ?3 "
                      "AND r.id <> ?4 AND p.value IS NOT NULL");
  q.Bind(1, key).Bind(2, step).Bind(3, study_id).Bind(4, exclude_run);
  std::vector<double> out;
  while (q.Step()) out.push_back(q.Double(0));
  return out;
}

std::vector<PastRun> StudyStore::FinishedRuns(const std::string& pipeline, const std::string& metric,
                                              const std::string& exclude_study) {
  // The run's parameters as one JSON object, by each engine's JSON aggregate.
  const std::string params = db_.dialect() == Dialect::kPostgres
                                 ? "(SELECT json_object_agg(key, value::json)::text FROM params WHERE run_id = r.id)"
                                 : "(SELECT json_group_object(key, json(value)) FROM params WHERE run_id = r.id)";
  Statement& q = db_.Cached("SELECT r.id, " + params +
                            ", s.last_value, "
                            "r.started_at FROM runs r JOIN metric_series s ON s.run_id = r.id AND s.key = ? "
                            "WHERE r.pipeline = ? AND r.status = 'succeeded' AND s.last_value IS NOT NULL "
                            "AND (r.study_id IS NULL OR r.study_id <> ?) ORDER BY r.started_at, r.id");
  q.Bind(1, metric).Bind(2, pipeline).Bind(3, exclude_study);
  std::vector<PastRun> out;
  while (q.Step()) out.push_back({q.Text(0), q.Text(1), q.Double(2), q.Text(3)});
  return out;
}

}  // namespace sluice::store
