// `runs list --where/--order-by` compiled to SQL and run against a real store; studies in
// the store; upgrading a store made before sweeps existed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "engine_store.hpp"
#include "migrations.hpp"
#include "run_query.hpp"
#include "run_store.hpp"
#include "study_store.hpp"
#include "temp_dir.hpp"

namespace sluice::store {
namespace {

std::string Error(const std::string& expression);  // the CLI's message for a bad expression

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = RunStore::OpenInMemory();
    Add("a000000000000001", "succeeded", "0.001", "\"adam\"", 0.91, "2026-11-01T10:00:00.000Z");
    Add("a000000000000002", "succeeded", "0.01", "\"sgd\"", 0.85, "2026-11-02T10:00:00.000Z");
    Add("a000000000000003", "failed", "0.1", "\"adam\"", std::nullopt, "2026-11-03T10:00:00.000Z");
    Add("a000000000000004", "succeeded", "0.0001", "\"sgd\"", 0.80, "2026-11-04T10:00:00.000Z");
    store_->db().Exec("INSERT INTO tags (run_id, key, value) VALUES ('a000000000000002', 'team', 'vision')");
  }

  void Add(const std::string& id, const std::string& status, const std::string& lr, const std::string& opt,
           std::optional<double> accuracy, const std::string& started) {
    RunRecord r;
    r.id = id;
    r.pipeline = "p";
    r.status = store::FromStored(store::kRunStatusNames, status, store::RunStatus::kFailed);
    r.started_at = started;
    r.ended_at = started.substr(0, 17) + "30.000Z";  // 30 s later
    r.host = "h";
    r.command = "sluice run";
    r.spec = "{}";
    store_->CreateRun(r, {{"train.lr", lr}, {"train.optimizer", opt}, {"model.hidden", "[256,128]"}});
    if (accuracy) {
      MetricWriter w(*store_, id);
      w.Log("eval.accuracy", 0, *accuracy);
    }
  }

  std::vector<std::string> Query(const std::string& where, const std::string& order = "") {
    RunFilter f;
    if (!where.empty()) f.where = CompileWhere(where);
    if (!order.empty()) f.order_by = CompileOrderBy(order);
    std::vector<std::string> ids;
    for (const RunRecord& r : store_->ListRuns(f)) ids.push_back(r.id.substr(15));
    return ids;
  }

  std::unique_ptr<RunStore> store_;
};

using Ids = std::vector<std::string>;

TEST_F(QueryTest, ComparesParamsMetricsStatusTagsAndTimes) {
  EXPECT_EQ(Query("metrics.eval.accuracy > 0.82"), (Ids{"2", "1"}));
  EXPECT_EQ(Query("params.train.lr <= 0.001"), (Ids{"4", "1"}));  // numbers, not text
  EXPECT_EQ(Query("params.train.optimizer = 'adam'"), (Ids{"3", "1"}));
  EXPECT_EQ(Query("params.model.hidden = \"[256,128]\""), (Ids{"4", "3", "2", "1"}));
  EXPECT_EQ(Query("status != \"succeeded\""), (Ids{"3"}));
  EXPECT_EQ(Query("tags.team = \"vision\""), (Ids{"2"}));
  EXPECT_EQ(Query("started_at >= \"2026-11-03\""), (Ids{"4", "3"}));
  EXPECT_EQ(Query("duration > 29 and duration < 31"), (Ids{"4", "3", "2", "1"}));
  EXPECT_EQ(Query("0.9 < metrics.eval.accuracy"), (Ids{"1"}));
  EXPECT_EQ(Query("pipeline like 'p%' and id like '%3'"), (Ids{"3"}));
}

TEST_F(QueryTest, CombinesWithAndOrNotAndParentheses) {
  EXPECT_EQ(Query("params.train.optimizer = \"sgd\" and (metrics.eval.accuracy > 0.84 or status = \"failed\")"),
            (Ids{"2"}));
  EXPECT_EQ(Query("params.train.optimizer = \"sgd\" and metrics.eval.accuracy > 0.84 or status = \"failed\""),
            (Ids{"3", "2"}));
  // A run without the metric is not "not above 0.82": it has no value to compare.
  EXPECT_EQ(Query("not metrics.eval.accuracy > 0.82"), (Ids{"4", "3"}));
  EXPECT_EQ(Query("not (status = \"failed\" or params.train.lr > 0.005)"), (Ids{"4", "1"}));
}

TEST_F(QueryTest, OrdersByAnyFieldWithMissingValuesLast) {
  EXPECT_EQ(Query("", "metrics.eval.accuracy desc"), (Ids{"1", "2", "4", "3"}));
  EXPECT_EQ(Query("", "metrics.eval.accuracy"), (Ids{"4", "2", "1", "3"}));
  EXPECT_EQ(Query("status = 'succeeded'", "params.train.lr asc"), (Ids{"4", "1", "2"}));
}

TEST_F(QueryTest, SeriesAreJudgedByTheirLowestHighestOrValueAtAStep) {
  {
    // Run 1's loss falls to 0.2 and ends at 0.5; run 2's falls to 0.3 and ends at 0.3.
    MetricWriter one(*store_, "a000000000000001");
    for (auto [step, value] : {std::pair{1, 0.9}, {2, 0.2}, {4, 0.5}}) one.Log("train.loss", step, value);
    MetricWriter two(*store_, "a000000000000002");
    for (auto [step, value] : {std::pair{1, 0.8}, {2, 0.6}, {3, 0.3}}) two.Log("train.loss", step, value);
  }
  EXPECT_EQ(Query("metrics.train.loss < 0.4"), (Ids{"2"})) << "the latest value";
  EXPECT_EQ(Query("min(metrics.train.loss) < 0.25"), (Ids{"1"}));
  EXPECT_EQ(Query("MAX( metrics.train.loss ) >= 0.85"), (Ids{"1"}));
  EXPECT_EQ(Query("metrics.train.loss@2 < 0.5"), (Ids{"1"}));
  EXPECT_EQ(Query("metrics.train.loss@3 = 0.2"), (Ids{"1"})) << "run 1 logged nothing at 3: its value from 2";
  EXPECT_EQ(Query("metrics.train.loss@0 > 0"), Ids{}) << "nothing logged by step 0";
  EXPECT_EQ(Query("", "min(metrics.train.loss)"), (Ids{"1", "2", "4", "3"})) << "runs without it last";
  EXPECT_EQ(Query("", "metrics.train.loss@3 desc"), (Ids{"2", "1", "4", "3"}));
  EXPECT_EQ(Error("min(params.train.lr) > 1"),
            "min( takes one metric: min(metrics.STAGE.KEY)\n  min(params.train.lr) > 1\n      ^");
  EXPECT_EQ(Error("metrics.train.loss@x > 1"),
            "'@' takes a metric and a step: metrics.STAGE.KEY@STEP\n  metrics.train.loss@x > 1\n                    ^");
}

TEST_F(QueryTest, ValuesAreBoundNotSpliced) {
  EXPECT_EQ(Query("status = \"x' OR 1=1 --\""), Ids{});
  EXPECT_THROW(CompileWhere("params.x') OR 1=1 -- = 1"), QueryError);
}

std::string Error(const std::string& expression) {
  try {
    CompileWhere(expression);
  } catch (const QueryError& e) {
    return e.Render(expression);
  }
  return "no error";
}

TEST(QueryErrorTest, PointsAtTheBadSpot) {
  EXPECT_EQ(Error("metrics.eval.accuracy 0.8"),
            "expected a comparison (= != < <= > >= like) after 'metrics.eval.accuracy'\n"
            "  metrics.eval.accuracy 0.8\n"
            "                        ^");
  EXPECT_EQ(Error("status = succeeded"),
            "'succeeded' is not a field; quote text: \"succeeded\"\n"
            "  status = succeeded\n"
            "           ^");
  EXPECT_EQ(Error("(status = \"failed\" or trial > 2"),
            "expected ')' to close the '(' at column 1\n"
            "  (status = \"failed\" or trial > 2\n"
            "                                 ^");
  EXPECT_EQ(Error("metric.eval.loss < 1"),
            "unknown field 'metric.eval.loss'; fields are status, pipeline, id, host, error, started_at, ended_at, "
            "duration, study, trial, params.STAGE.KEY, metrics.STAGE.KEY (the latest value), "
            "min(metrics.STAGE.KEY), max(metrics.STAGE.KEY), metrics.STAGE.KEY@STEP and tags.KEY\n"
            "  metric.eval.loss < 1\n"
            "  ^");
  EXPECT_EQ(Error("status = 'ok' and"),
            "expected a field, a value or '(', found the end\n"
            "  status = 'ok' and\n"
            "                   ^");
  EXPECT_EQ(Error("status = 'ok"), "unterminated string\n  status = 'ok\n           ^");
  EXPECT_EQ(Error("trial > 1 trial < 3"),
            "expected 'and', 'or' or the end of the expression, found 'trial'\n"
            "  trial > 1 trial < 3\n"
            "            ^");
  EXPECT_EQ(Error(""), "empty expression\n  \n  ^");
}

TEST(QueryErrorTest, ANonAsciiCharacterIsQuotedWholeWithTheCaretUnderIt) {
  EXPECT_EQ(Error("pipeline = \"ü\" and status ≥ 1"),
            "unexpected character '≥'\n"
            "  pipeline = \"ü\" and status ≥ 1\n"
            "                            ^");
}

// Deep nesting once overflowed the parser's stack (a segfault), and a few thousand
// levels reached SQLite, whose error quoted the generated SQL.
TEST(QueryErrorTest, DeepOrHugeExpressionsAreRefusedWithAMessage) {
  for (int depth : {65, 5000, 100000}) {
    SCOPED_TRACE(depth);
    const std::string nested = std::string(depth, '(') + "trial = 1" + std::string(depth, ')');
    const std::string message = Error(nested);
    EXPECT_EQ(message.substr(0, message.find('\n')), "the expression nests 'not' and parentheses more than 64 deep");
    EXPECT_LT(message.size(), 400u);
    std::string negated;
    for (int i = 0; i < depth; ++i) negated += "not ";
    const std::string nots = Error(negated + "trial = 1");
    EXPECT_EQ(nots.substr(0, nots.find('\n')), "the expression nests 'not' and parentheses more than 64 deep");
  }
  std::string many = "trial = 0";
  for (int i = 1; i <= 300; ++i) many += " or trial = " + std::to_string(i);
  const std::string message = Error(many);
  EXPECT_EQ(message.substr(0, message.find('\n')), "the expression has more than 256 comparisons");
  EXPECT_LT(message.size(), 400u);
}

TEST_F(QueryTest, TheLargestExpressionsAllowedRunInSqlite) {
  std::string deep = "status = \"succeeded\"";
  for (int i = 0; i < 16; ++i) deep = "not (not (" + deep + "))";  // 64 levels
  EXPECT_EQ(Query(deep), (Ids{"4", "2", "1"}));
  std::string alternating = "status = \"failed\"";  // 64 chains, each inside the next
  for (int i = 0; i < 64; ++i)
    alternating = "trial = " + std::to_string(i) + (i % 2 ? " or (" : " and (") + alternating + ")";
  EXPECT_EQ(Query(alternating), Ids{});
  std::string negated = "status = \"failed\"";  // 32 negated chains: 64 levels
  for (int i = 0; i < 32; ++i) negated = "trial = " + std::to_string(i) + " or not (" + negated + ")";
  EXPECT_EQ(Query(negated), (Ids{"3"}));  // an even number of negations
  std::string wide = "trial = 0";
  for (int i = 1; i < 256; ++i)
    wide += (i % 2 ? " or (" : " and (") + std::string("trial = ") + std::to_string(i) + ")";
  EXPECT_EQ(Query(wide), Ids{});  // 256 comparisons
  EXPECT_THROW(CompileWhere(wide + " or id = \"a000000000000003\""), QueryError);
}

// The run of trial `number` of study `s`, running.
RunRecord TrialRun(const std::string& id, const StudyRecord& s, int64_t number) {
  RunRecord r;
  r.id = id;
  r.pipeline = "p";
  r.status = store::RunStatus::kRunning;
  r.started_at = s.created_at;
  r.host = "h";
  r.spec = "{}";
  r.study_id = s.id;
  r.trial = number;
  return r;
}

// A running study `id` of pipeline "p", maximizing eval.accuracy.
StudyRecord RunningStudy(const std::string& id) {
  StudyRecord s;
  s.id = id;
  s.pipeline = "p";
  s.spec = s.sweep = "{}";
  s.space_key = "[]";
  s.metric = "eval.accuracy";
  s.direction = "maximize";
  s.status = store::StudyStatus::kRunning;
  s.created_at = IsoTime(UnixNow());
  return s;
}

class StudyStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  testing::EngineStore store{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engines, StudyStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& engine) { return engine.param; });

TEST_P(StudyStoreTest, ClaimsNumberedTrialsAndFindsValuesAtAStep) {
  StudyStore studies(*store);
  const StudyRecord s = RunningStudy("5000000000000001");
  TrialRecord warm;
  warm.number = -1;
  warm.state = store::TrialState::kWarm;
  warm.params = "{}";
  warm.value = 0.5;
  warm.started_at = s.created_at;
  studies.CreateStudy(s, {warm});
  for (int i = 0; i < 3; ++i) {
    auto t = studies.ClaimTrial(s.id, "w", [&](const std::vector<TrialRecord>& trials, int64_t number) {
      EXPECT_EQ(static_cast<int64_t>(trials.size()), i + 1);
      EXPECT_EQ(number, i);
      return std::optional<std::string>("{\"x\":" + std::to_string(i) + "}");
    });
    ASSERT_TRUE(t);
    const std::string run_id = "c00000000000000" + std::to_string(i);
    store->CreateRun(TrialRun(run_id, s, t->number), {});
    MetricWriter w(*store, run_id);
    w.Log("train.val_accuracy", 1, 0.1 * i);
  }
  studies.FinishTrial(s.id, 0, store::TrialState::kComplete, std::string("c000000000000000"), 0.7, std::nullopt);
  EXPECT_FALSE(studies.ClaimTrial(s.id, "w", [](auto&, int64_t) { return std::optional<std::string>(); }));
  EXPECT_EQ(studies.FindStudy("5000").id, s.id);
  EXPECT_THROW(studies.FindStudy("6"), StoreError);

  auto finished = studies.ValuesAtStep(s.id, "train.val_accuracy", 1, "c000000000000002", true);
  EXPECT_EQ(finished, (std::vector<double>{0.0}));
  auto all = studies.ValuesAtStep(s.id, "train.val_accuracy", 1, "c000000000000002", false);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<double>{0.0, 0.1}));
  // Trials 1 and 2 are 'running' with runs that are 'running': not abandoned.
  EXPECT_EQ(studies.ReleaseAbandonedTrials(s.id).again, 0);
  // Trial 1's worker died during its run; trial 2's between its run's end and the
  // trial's: that trial is finished, with the value its run logged.
  store->FinishRun("c000000000000001", store::RunStatus::kCrashed, std::string("gone"));
  MetricWriter(*store, "c000000000000002").Log("eval.accuracy", 1, 0.9);
  store->FinishRun("c000000000000002", store::RunStatus::kSucceeded, std::nullopt);
  const StudyStore::Released released = studies.ReleaseAbandonedTrials(s.id);
  EXPECT_EQ(released.again, 1);
  EXPECT_EQ(released.completed, 1);
  const std::vector<TrialRecord> trials = studies.Trials(s.id);  // [0] is the warm one
  EXPECT_EQ(store::Name(trials[2].state), "interrupted");
  EXPECT_EQ(store::Name(trials[3].state), "complete");
  EXPECT_EQ(trials[3].value, 0.9);
  EXPECT_EQ(trials[3].run_id, "c000000000000002");
  RunFilter by_study;
  by_study.study_id = s.id;
  EXPECT_EQ(store->ListRuns(by_study).size(), 3u);
  EXPECT_EQ(store->FindRun("c000000000000002").trial, 2);
}

// A worker that died just before a trial's run began, or just after it ended, left the
// trial 'running' with no live run: once that is old enough, a live worker settles it
// from what its run recorded.
TEST_P(StudyStoreTest, TrialsOfADeadWorkerAreSettledFromTheirRuns) {
  StudyStore studies(*store);
  const StudyRecord s = RunningStudy("5000000000000002");
  studies.CreateStudy(s, {});
  // Trial 0: its run succeeded; 1: its run failed; 2: no run began; 3: its run runs;
  // 4: its run succeeded with NaN (the trial failed).
  const auto run_of = [](int64_t number) { return "d00000000000000" + std::to_string(number); };
  for (int64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(studies.ClaimTrial(s.id, "1@gone", [](auto&, int64_t) { return std::optional<std::string>("{}"); }));
    if (i == 2) continue;
    const RunRecord r = TrialRun(run_of(i), s, i);
    store->CreateRun(r, {});
    MetricWriter(*store, r.id).Log("eval.accuracy", 1, i == 4 ? std::nan("") : 0.5 + 0.1 * static_cast<double>(i));
    if (i == 0 || i == 4) store->FinishRun(r.id, store::RunStatus::kSucceeded, std::nullopt);
    if (i == 1) store->FinishRun(r.id, store::RunStatus::kFailed, std::string("boom"));
  }
  // Too recent: a live worker may still be about to record them.
  EXPECT_EQ(studies.SettleOrphanedTrials(s.id, UnixNow() - 3600), 0);
  EXPECT_EQ(studies.SettleOrphanedTrials(s.id, UnixNow() + 3600), 4);
  const std::vector<TrialRecord> trials = studies.Trials(s.id);
  ASSERT_EQ(trials.size(), 5u);
  EXPECT_EQ(store::Name(trials[0].state), "complete");
  EXPECT_EQ(trials[0].value, 0.5);
  EXPECT_EQ(trials[0].run_id, run_of(0));
  EXPECT_EQ(store::Name(trials[1].state), "lost");
  EXPECT_EQ(trials[1].run_id, run_of(1));
  EXPECT_EQ(store::Name(trials[2].state), "lost");
  EXPECT_FALSE(trials[2].run_id);
  EXPECT_EQ(store::Name(trials[3].state), "running") << "a trial whose run runs was settled";
  EXPECT_EQ(store::Name(trials[4].state), "lost");
  EXPECT_EQ(studies.SettleOrphanedTrials(s.id, UnixNow() + 3600), 0) << "settled twice";
}

// A worker looking for dead runs lists the running ones, then tries each one's lock. A run
// that ended in between has no lock any more, and looks dead; its trial stays 'running'
// until its worker writes the trial's end with its next claim. That trial must not be
// lost: its grid point would go to a second trial (seen in CI: 41 trials for a 40-point
// grid, one point twice).
TEST_P(StudyStoreTest, ATrialIsLostOnlyWhenItsRunCrashed) {
  StudyStore studies(*store);
  const StudyRecord s = RunningStudy("5000000000000003");
  studies.CreateStudy(s, {});
  for (int64_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(studies.ClaimTrial(s.id, "1@h", [](auto&, int64_t) { return std::optional<std::string>("{}"); }));
    store->CreateRun(TrialRun("e00000000000000" + std::to_string(i), s, i), {});
  }
  store->FinishRun("e000000000000000", store::RunStatus::kSucceeded, std::nullopt);
  store->FinishRun("e000000000000001", store::RunStatus::kCrashed, std::string("gone"));
  store->db().WriteTransaction([&] {
    store::MarkTrialOfCrashedRun(store->db(), "e000000000000000", IsoTime(UnixNow()));
    store::MarkTrialOfCrashedRun(store->db(), "e000000000000001", IsoTime(UnixNow()));
  });
  const std::vector<TrialRecord> trials = studies.Trials(s.id);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(store::Name(trials[0].state), "running") << "the trial of a run that succeeded was lost";
  EXPECT_EQ(store::Name(trials[1].state), "lost");
}

TEST(StoreUpgradeTest, AStoreFromBeforeSweepsGainsStudiesAndThePrunedStatus) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "s");
  {
    Database db((dir.path() / "s" / "runs.db").string());
    db.Exec(Migrations()[0].sql);
    db.Exec(Migrations()[1].sql);
    db.Exec("PRAGMA user_version = 2");
    db.Exec(
        "INSERT INTO runs (id, pipeline, status, started_at, host, pid, command, spec) "
        "VALUES ('0123456789abcdef', 'old', 'succeeded', '2026-01-01T00:00:00.000Z', 'h', 1, 'c', '{}')");
  }
  auto store = RunStore::Open(dir.path() / "s");
  EXPECT_EQ(store->FindRun("0123").pipeline, "old");
  store->db().Exec("UPDATE runs SET status = 'pruned' WHERE id = '0123456789abcdef'");
  EXPECT_EQ(store::Name(store->FindRun("0123").status), "pruned");
  EXPECT_THROW(store->db().Exec("UPDATE runs SET status = 'bogus'"), StoreError);
  Statement check = store->db().Prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.Step());
  EXPECT_EQ(check.Text(0), "ok");
  // Another connection (another process) sees the widened constraint too.
  Database other((dir.path() / "s" / "runs.db").string());
  other.Exec("UPDATE stages SET status = 'pruned'");
  EXPECT_THROW(other.Exec("UPDATE runs SET status = 'bogus'"), StoreError);
}

}  // namespace
}  // namespace sluice::store
