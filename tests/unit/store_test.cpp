// The run store: schema, runs, metrics, prefixes, crash detection.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "artifact_store.hpp"
#include "engine_store.hpp"
#include "integrity.hpp"
#include "migrations.hpp"
#include "run_query.hpp"
#include "run_store.hpp"
#include "sluice/digest.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "temp_dir.hpp"

namespace sluice::store {
namespace {

using testing::TempDir;

RunRecord NewRun(const std::string& id, const std::string& pipeline = "p") {
  RunRecord r;
  r.id = id;
  r.pipeline = pipeline;
  r.file = "/x/p.toml";
  r.status = sluice::store::RunStatus::kRunning;
  r.started_at = IsoTime(UnixNow());
  r.host = HostName();
  r.pid = getpid();
  r.command = "sluice run p.toml";
  r.spec = "{}";
  return r;
}

// The tests of what a store does, whichever engine: each runs on SQLite and on the
// PostgreSQL test server (EngineTest/sqlite, EngineTest/postgresql).
class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  testing::EngineStore store{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engines, EngineTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& engine) { return engine.param; });

// The status enums name exactly what the schema's CHECK constraints allow, in order.
TEST(StoreTest, StatusEnumsMatchTheSchemasCheckConstraints) {
  TempDir dir;
  auto store = RunStore::Open(dir.path() / "s");
  auto allowed = [&](const std::string& table, const std::string& column) {
    Statement q = store->db().Prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?");
    q.Bind(1, table);
    EXPECT_TRUE(q.Step()) << table;
    const std::string sql = q.Text(0);
    const size_t at = sql.find(column + " IN");
    EXPECT_NE(at, std::string::npos) << sql;
    const size_t open = sql.find('(', at), close = sql.find(')', at);
    std::vector<std::string> names;
    for (size_t quote = sql.find('\'', open); quote < close; quote = sql.find('\'', quote + 1)) {
      const size_t end = sql.find('\'', quote + 1);
      names.push_back(sql.substr(quote + 1, end - quote - 1));
      quote = end;
    }
    return names;
  };
  auto names = [](const auto& list) { return std::vector<std::string>(list.begin(), list.end()); };
  EXPECT_EQ(allowed("runs", "status"), names(kRunStatusNames));
  EXPECT_EQ(allowed("stages", "status"), names(kStageStatusNames));
  EXPECT_EQ(allowed("studies", "status"), names(kStudyStatusNames));
  EXPECT_EQ(allowed("trials", "state"), names(kTrialStateNames));
}

TEST(StoreTest, CreatesSchemaAndReopensWithoutMigratingAgain) {
  TempDir dir;
  { RunStore::Open(dir.path() / "s"); }
  auto store = RunStore::Open(dir.path() / "s");
  Statement q = store->db().Prepare("PRAGMA user_version");
  ASSERT_TRUE(q.Step());
  EXPECT_EQ(q.Int(0), static_cast<int64_t>(Migrations().size()));
  Statement mode = store->db().Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.Step());
  EXPECT_EQ(mode.Text(0), "wal");
}

TEST(StoreTest, RefusesAStoreFromANewerSluice) {
  TempDir dir;
  { RunStore::Open(dir.path() / "s")->db().Exec("PRAGMA user_version = 999"); }
  try {
    RunStore::Open(dir.path() / "s");
    FAIL() << "expected an error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this sluice understands"), std::string::npos) << e.what();
  }
}

TEST_P(EngineTest, RecordsARunWithParamsStagesArtifactsAndEnvironment) {
  store->CreateRun(NewRun("00aa11bb22cc33dd"), {{"train.lr", "0.001"}, {"pipeline.seed", "7"}});
  store->SetEnvironment("00aa11bb22cc33dd", {{"libtorch", "1.13.1"}});
  StageRecord st;
  st.name = "train";
  st.plugin = "trainer";
  st.plugin_version = "0.1.0";
  st.plugin_file = "/x/trainer.so";
  st.status = sluice::store::StageStatus::kSucceeded;
  st.seconds = 1.5;
  store->UpsertStage("00aa11bb22cc33dd", st);
  store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kSucceeded, std::nullopt);
  // A second finish does not overwrite the first.
  store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kFailed, std::string("late"));

  RunRecord r = store->FindRun("00aa");
  EXPECT_EQ(sluice::store::Name(r.status), "succeeded");
  EXPECT_FALSE(r.error.has_value());
  ASSERT_TRUE(r.ended_at.has_value());
  EXPECT_EQ(store->Params(r.id).at("train.lr"), "0.001");
  EXPECT_EQ(store->Environment(r.id).at("libtorch"), "1.13.1");
  ASSERT_EQ(store->Stages(r.id).size(), 1u);
  EXPECT_EQ(*store->Stages(r.id)[0].seconds, 1.5);
}

TEST_P(EngineTest, FindsRunsByUniquePrefixOnly) {
  store->CreateRun(NewRun("abc0000000000001"), {});
  store->CreateRun(NewRun("abc0000000000002"), {});
  store->CreateRun(NewRun("f000000000000000"), {});
  EXPECT_EQ(store->FindRun("f").id, "f000000000000000");
  EXPECT_EQ(store->FindRun("abc0000000000002").id, "abc0000000000002");
  EXPECT_THROW(store->FindRun("abc"), StoreError);
  EXPECT_THROW(store->FindRun("0"), StoreError);
  EXPECT_THROW(store->FindRun("xyz"), StoreError);
  try {
    store->FindRun("abc");
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("ambiguous"), std::string::npos);
  }
}

TEST_P(EngineTest, MetricWriterKeepsHistoryAndLatestValue) {
  store->CreateRun(NewRun("0000000000000001"), {});
  {
    MetricWriter writer(*store, "0000000000000001", /*batch_size=*/7, /*flush_interval_ms=*/60'000);
    for (int step = 1; step <= 100; ++step) writer.Log("train.loss", step, 1.0 / step);
    writer.Log("eval.accuracy", 0, 0.875);
    writer.Log("eval.log_loss", 0, NAN);
  }  // flushes the rest
  auto history = store->MetricHistory("0000000000000001", "train.loss");
  ASSERT_EQ(history.size(), 100u);
  EXPECT_EQ(history.front().step, 1);
  EXPECT_DOUBLE_EQ(history.back().value, 0.01);
  auto latest = store->LatestMetrics("0000000000000001");
  ASSERT_EQ(latest.size(), 3u);
  EXPECT_EQ(latest[0].key, "eval.accuracy");
  EXPECT_TRUE(std::isnan(latest[1].value));
  EXPECT_EQ(latest[2].key, "train.loss");
  EXPECT_EQ(latest[2].step, 100);

  {
    MetricWriter writer(*store, "0000000000000001", /*batch_size=*/1000, /*flush_interval_ms=*/60'000);
    for (int step = 0; step < 600; ++step) writer.Log("big", step, step);  // more than a statement's rows
    writer.Log("big", 7, -1.0);                                            // a step again: the last value wins
    writer.Log("train.loss", 50, 7.0);  // an older step, logged last: history changes, the newest stays
  }
  history = store->MetricHistory("0000000000000001", "big");
  ASSERT_EQ(history.size(), 600u);
  EXPECT_EQ(history[7].value, -1.0);
  EXPECT_EQ(history[599].value, 599.0);
  EXPECT_EQ(store->MetricHistory("0000000000000001", "train.loss")[49].value, 7.0);
  latest = store->LatestMetrics("0000000000000001");
  ASSERT_EQ(latest.size(), 4u);
  EXPECT_EQ(latest[0].key, "big");
  EXPECT_EQ(latest[0].step, 7) << "the last point logged is the series' newest";
  EXPECT_EQ(latest[3].key, "train.loss");
  EXPECT_EQ(latest[3].step, 100) << "an older step logged later does not replace the newest";
  EXPECT_DOUBLE_EQ(latest[3].value, 0.01);
}

// RunStore::Together: the writes in it commit at once or not at all; a statement that
// fails is reported by its own message, though on a server it went out without waiting.
TEST_P(EngineTest, WritesDoneTogetherCommitTogetherOrNotAtAll) {
  store->CreateRun(NewRun("00000000000000a1"), {});
  StageRecord st;
  st.name = "train";
  st.plugin = "trainer";
  st.status = sluice::store::StageStatus::kPending;
  const auto writes = [&](bool twice) {
    store->Together([&] {
      store->CreateRun(NewRun("00000000000000b2"), {{"train.lr", "0.1"}});
      store->UpsertStage("00000000000000b2", st);
      if (twice) store->CreateRun(NewRun("00000000000000a1"), {});  // recorded already
      store->SetEnvironment("00000000000000b2", {{"host", "h"}});
    });
  };
  try {
    writes(true);
    FAIL() << "a run recorded twice went through";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("INSERT INTO runs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store->FindRun("00000000000000b2"), StoreError) << "a write of the failed transaction was kept";

  // A body that throws rolls back what it wrote before.
  EXPECT_THROW(store->Together([&] {
    store->CreateRun(NewRun("00000000000000b2"), {});
    throw std::runtime_error("the caller's own failure");
  }),
               std::runtime_error);
  EXPECT_THROW(store->FindRun("00000000000000b2"), StoreError);

  // The connection goes on: the same writes without the duplicate all commit.
  writes(false);
  EXPECT_EQ(store->Params("00000000000000b2").at("train.lr"), "0.1");
  EXPECT_EQ(store->Stages("00000000000000b2").size(), 1u);
  EXPECT_EQ(store->Environment("00000000000000b2").at("host"), "h");
}

// A sweep's worker commits without waiting for the server (Database::ConfirmLater): what
// it wrote is all there once confirmed, and a write that failed is reported by the next
// statement that waits, never dropped, and never mistaken for that statement's own.
TEST_P(EngineTest, CommitsConfirmedLaterAreAllKeptAndAFailedOneIsReportedNext) {
  const bool server = GetParam() == "postgresql";
  store->CreateRun(NewRun("00000000000000a1"), {});
  {
    sluice::store::Database::ConfirmLater later(store->db());
    for (const char* id : {"00000000000000b1", "00000000000000b2", "00000000000000b3"}) {
      store->Together([&] { store->CreateRun(NewRun(id), {{"train.lr", "0.1"}}); });
    }
    store->Together([&] { store->FinishRun("00000000000000b2", sluice::store::RunStatus::kSucceeded, std::nullopt); });
    later.Confirm();
    auto other = store.Reopen();  // another connection sees every commit
    EXPECT_EQ(other->FindRun("00000000000000b3").id, "00000000000000b3");
    EXPECT_EQ(other->FindRun("00000000000000b2").status, sluice::store::RunStatus::kSucceeded);
    EXPECT_EQ(other->Params("00000000000000b1").at("train.lr"), "0.1");

    // A run recorded twice: on a server the commit goes out unanswered, and the error
    // comes from the next read, naming the write; the write sent after it is not applied.
    const auto twice = [&] { store->Together([&] { store->CreateRun(NewRun("00000000000000a1"), {}); }); };
    if (!server) {
      EXPECT_THROW(twice(), StoreError) << "SQLite commits as always";
      return;
    }
    twice();
    store->Together([&] { store->CreateRun(NewRun("00000000000000c1"), {}); });
    try {
      store->FindRun("00000000000000a1");
      FAIL() << "the failed commit was not reported";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("INSERT INTO runs"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("duplicate key"), std::string::npos) << e.what();
    }
    EXPECT_THROW(store->FindRun("00000000000000c1"), StoreError) << "a write after the failed one was applied";

    // Found while another transaction rolls back (its body failed before any read): told
    // by the next statement, not lost with the rollback.
    twice();
    EXPECT_THROW(store->Together([&] {
      store->CreateRun(NewRun("00000000000000c2"), {});
      throw std::runtime_error("the caller's own failure");
    }),
                 std::runtime_error);
    EXPECT_THROW(store->FindRun("00000000000000a1"), StoreError) << "the failed commit was lost in a rollback";
  }
  // The connection goes on, and commits wait for their answer again.
  EXPECT_THROW(store->CreateRun(NewRun("00000000000000a1"), {}), StoreError);
  store->CreateRun(NewRun("00000000000000c1"), {});
  EXPECT_EQ(store.Reopen()->FindRun("00000000000000c1").id, "00000000000000c1");
  EXPECT_THROW(store->FindRun("00000000000000c2"), StoreError) << "a rolled back run was kept";
}

// A long trial commits its metric points twice a second and reads nothing for hours: its
// commits are still confirmed every few, so a failed one is told within seconds, not at
// the trial's end, and answers do not pile up in memory meanwhile.
TEST_P(EngineTest, CommitsConfirmedLaterAreConfirmedEveryFewEvenWithoutARead) {
  store->CreateRun(NewRun("00000000000000a1"), {});
  sluice::store::Database::ConfirmLater later(store->db());
  const auto twice = [&] { store->Together([&] { store->CreateRun(NewRun("00000000000000a1"), {}); }); };
  if (GetParam() != "postgresql") {
    EXPECT_THROW(twice(), StoreError) << "SQLite commits as always";
    return;
  }
  twice();  // fails, unanswered
  int commits = 0;
  try {
    for (; commits < 100; ++commits) {
      store->Together([&] { store->SetEnvironment("00000000000000a1", {{"k", std::to_string(commits)}}); });
    }
    FAIL() << "100 commits went out and the failed one was not told";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("INSERT INTO runs"), std::string::npos) << e.what();
  }
  EXPECT_LE(commits, 16);
}

TEST_P(EngineTest, ListFiltersByPipelineAndStatusNewestFirst) {
  RunRecord a = NewRun("000000000000000a", "alpha");
  a.started_at = "2026-01-01T00:00:00.000Z";
  RunRecord b = NewRun("000000000000000b", "beta");
  b.started_at = "2026-01-02T00:00:00.000Z";
  RunRecord c = NewRun("000000000000000c", "alpha");
  c.started_at = "2026-01-03T00:00:00.000Z";
  for (const auto& r : {a, b, c}) store->CreateRun(r, {});
  store->FinishRun(c.id, sluice::store::RunStatus::kFailed, std::string("boom"));
  RunFilter all;
  auto runs = store->ListRuns(all);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].id, c.id);
  RunFilter alpha;
  alpha.pipeline = "alpha";
  EXPECT_EQ(store->ListRuns(alpha).size(), 2u);
  alpha.status = "failed";
  ASSERT_EQ(store->ListRuns(alpha).size(), 1u);
  EXPECT_EQ(*store->ListRuns(alpha)[0].error, "boom");
}

TEST_P(EngineTest, MarksRunsOfDeadProcessesCrashedOnOpen) {
  {
    // A run whose owner still holds its lock (this process) ...
    RunLock alive(store->LockPath("1111111111111111"));
    store->CreateRun(NewRun("1111111111111111"), {});
    // ... and one whose lock file was left behind by a process that died.
    { RunLock dead(store->LockPath("2222222222222222")); }
    std::ofstream(store->LockPath("2222222222222222"));  // stale file, nobody holds it
    store->CreateRun(NewRun("2222222222222222"), {});
    StageRecord st;
    st.name = "train";
    st.plugin = st.plugin_version = st.plugin_file = "x";
    st.status = sluice::store::StageStatus::kRunning;
    store->UpsertStage("2222222222222222", st);

    auto reopened = store.Reopen();
    EXPECT_EQ(sluice::store::Name(reopened->FindRun("1111").status), "running");
    RunRecord crashed = reopened->FindRun("2222");
    EXPECT_EQ(sluice::store::Name(crashed.status), "crashed");
    EXPECT_NE(crashed.error->find("ended without recording a result"), std::string::npos);
    EXPECT_EQ(sluice::store::Name(reopened->Stages("2222222222222222")[0].status), "crashed");
    EXPECT_FALSE(std::filesystem::exists(store->LockPath("2222222222222222")));
  }
}

// A process killed mid-run leaves its scratch folder and, if it was registering a model,
// the copy of the bundle (an imported BERT: 90 MB each). The next command that writes the
// store removes those of runs it records as ended, and nothing else.
TEST_P(EngineTest, LeftoversOfRunsThatEndedUnfinishedAreRemovedOnOpen) {
  namespace fs = std::filesystem;
  const auto leave = [&](const fs::path& folder) {
    fs::create_directories(folder);
    std::ofstream(folder / "weights.bin") << "partial";
    return folder;
  };
  const fs::path dir = store->dir();
  RunLock alive(store->LockPath("1111111111111111"));
  store->CreateRun(NewRun("1111111111111111"), {});  // running, its process alive
  store->CreateRun(NewRun("2222222222222222"), {});  // running, its process gone
  store->CreateRun(NewRun("3333333333333333"), {});  // ended by a second Ctrl-C
  store->FinishRun("3333333333333333", RunStatus::kInterrupted, "interrupted again");
  const std::vector<fs::path> kept = {leave(dir / "tmp/1111111111111111"),
                                      leave(dir / "models/m/.incoming-1111111111111111-00000000000000aa"),
                                      leave(dir / "tmp/4444444444444444"),  // a run this store does not know
                                      leave(dir / "models/m/.incoming-00000000000000bb"),  // an older sluice's name
                                      leave(dir / "tmp/notes")};
  const std::vector<fs::path> removed = {
      leave(dir / "tmp/2222222222222222"), leave(dir / "models/m/.incoming-2222222222222222-00000000000000cc"),
      leave(dir / "tmp/3333333333333333"), leave(dir / "models/n/.incoming-3333333333333333-00000000000000dd")};

  auto reopened = store.Reopen();
  EXPECT_EQ(Name(reopened->FindRun("2222").status), "crashed");
  for (const fs::path& path : kept) EXPECT_TRUE(fs::exists(path / "weights.bin")) << path << " was removed";
  for (const fs::path& path : removed) EXPECT_FALSE(fs::exists(path)) << path << " was left";
  EXPECT_TRUE(fs::is_directory(dir / "models/n")) << "the model's folder stays";
}

TEST_P(EngineTest, ArtifactsAreStoredByContentOnce) {
  const TempDir& dir = store.dir();
  const std::string a = dir.Write("a/predictions.csv", "index,label\n0,1\n");
  const std::string b = dir.Write("b/predictions.csv", "index,label\n0,1\n");
  ArtifactRecord ra = StoreArtifact(store->dir(), "eval", "predictions", a);
  ArtifactRecord rb = StoreArtifact(store->dir(), "eval", "predictions", b);
  EXPECT_EQ(ra.path, rb.path);
  std::string digest;
  ASSERT_OK(sluice::Sha256File(ra.path, digest));
  EXPECT_EQ(ra.sha256, digest);
  EXPECT_EQ(ra.bytes, 16);
  EXPECT_TRUE(std::filesystem::exists(ra.path));
  EXPECT_FALSE(std::filesystem::exists(a));  // moved into the store
  EXPECT_NE(ra.path.find("/artifacts/sha256/" + ra.sha256.substr(0, 2) + "/" + ra.sha256 + ".csv"), std::string::npos);
}

// A store records paths relative to its folder: moved or copied, it finds its own files
// and never another store's.
TEST(StoreTest, AMovedOrCopiedStoreUsesItsOwnFiles) {
  TempDir dir;
  {
    auto store = RunStore::Open(dir.path() / "a");
    store->CreateRun(NewRun("00aa11bb22cc33dd"), {});
    store->AddArtifact("00aa11bb22cc33dd",
                       StoreArtifact(store->dir(), "eval", "predictions", dir.Write("p.csv", "index,pred\n0,1\n")));
    dir.Write("bundle/manifest.json", "{\"format\": \"sluice-bundle\"}");
    dir.Write("bundle/model.pt", "weights");
    store->RegisterModel("m", "00aa11bb22cc33dd", "bundle", dir.path() / "bundle", "");
    store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kSucceeded, std::nullopt);
    Statement q = store->db().Prepare("SELECT path FROM artifacts UNION ALL SELECT path FROM models");
    while (q.Step()) EXPECT_EQ(q.Text(0).rfind('/', 0), std::string::npos) << q.Text(0) << " is absolute";
  }
  std::filesystem::copy(dir.path() / "a", dir.path() / "copy", std::filesystem::copy_options::recursive);
  std::filesystem::rename(dir.path() / "a", dir.path() / "moved");
  for (const char* name : {"copy", "moved"}) {
    SCOPED_TRACE(name);
    auto store = RunStore::Open(dir.path() / name);
    const auto artifacts = store->Artifacts("00aa11bb22cc33dd");
    ASSERT_EQ(artifacts.size(), 1u);
    EXPECT_EQ(artifacts[0].path.rfind((dir.path() / name).string() + "/artifacts/sha256/", 0), 0u) << artifacts[0].path;
    EXPECT_OK(VerifyArtifact("00aa11bb22cc33dd", artifacts[0]));
    const ModelRecord model = store->FindModel("m");
    EXPECT_EQ(model.path, (dir.path() / name / "models" / "m" / "v1").string());
    EXPECT_OK(VerifyModel(model));
  }
}

// Stores written before schema 4 recorded absolute paths, perhaps of a folder that has
// since moved: the upgrade rewrites them from the layout.
TEST(StoreUpgradeTest, AbsolutePathsOfAnOlderStoreBecomeRelative) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "s");
  {
    Database db((dir.path() / "s" / "runs.db").string());
    for (int i = 0; i < 3; ++i) db.Exec(Migrations()[i].sql);
    db.Exec("PRAGMA user_version = 3");
    db.Exec(
        "INSERT INTO runs (id, pipeline, status, started_at, host, pid, command, spec) "
        "VALUES ('0123456789abcdef', 'old', 'succeeded', '2026-01-01T00:00:00.000Z', 'h', 1, 'c', '{}')");
    const std::string digest(64, 'a');
    db.Exec(
        "INSERT INTO artifacts (run_id, stage, name, path, sha256, bytes) VALUES ('0123456789abcdef', 'eval', "
        "'predictions', '/old/place/.sluice/artifacts/sha256/aa/" +
        digest + ".csv', '" + digest + "', 3)");
    db.Exec(
        "INSERT INTO models (name, version, run_id, stage, path, created_at, manifest) VALUES ('m', 2, "
        "'0123456789abcdef', 'bundle', '/old/place/.sluice/models/m/v2', '2026-01-01T00:00:00.000Z', '{}')");
  }
  auto store = RunStore::Open(dir.path() / "s");
  const auto artifacts = store->Artifacts("0123456789abcdef");
  ASSERT_EQ(artifacts.size(), 1u);
  EXPECT_EQ(artifacts[0].path,
            (dir.path() / "s" / "artifacts" / "sha256" / "aa" / (std::string(64, 'a') + ".csv")).string());
  const ModelRecord model = store->FindModel("m:2");
  EXPECT_EQ(model.path, (dir.path() / "s" / "models" / "m" / "v2").string());
  EXPECT_TRUE(model.files.empty());  // no digests were recorded then
}

TEST(StoreTest, ARecordedPathCannotLeaveTheStore) {
  TempDir dir;
  auto store = RunStore::Open(dir.path() / "s");
  EXPECT_THROW(store->Resolve("/etc/passwd"), StoreError);
  EXPECT_THROW(store->Resolve("artifacts/../../outside"), StoreError);
  EXPECT_EQ(store->Resolve("artifacts/x"), dir.path() / "s" / "artifacts" / "x");
}

// A 200 MB value quoted in an error once grew the database by 400 MB.
TEST_P(EngineTest, ErrorMessagesAreKeptShort) {
  store->CreateRun(NewRun("00aa11bb22cc33dd"), {});
  StageRecord stage;
  stage.name = "data";
  stage.status = sluice::store::StageStatus::kFailed;
  stage.error = "bad value '" + std::string(10 << 20, 'x') + "'";
  store->UpsertStage("00aa11bb22cc33dd", stage);
  store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kFailed, stage.error);
  const std::string run_error = store->FindRun("00aa11bb22cc33dd").error.value_or("");
  EXPECT_LE(run_error.size(), RunStore::kMaxErrorBytes + 60);
  EXPECT_NE(run_error.find("... (message cut: 10485772 bytes)"), std::string::npos) << run_error.substr(4000);
  EXPECT_LE(store->Stages("00aa11bb22cc33dd")[0].error.value_or("").size(), RunStore::kMaxErrorBytes + 60);
}

// Reading writes nothing: no folder is created, the database is not changed. (SQLite may
// create its -wal and -shm files beside it, in a folder this process may write.)
// A full disk (here SQLite's page limit, which fails the same way) says so, and what to
// do; the write fails as a whole.
TEST(StoreTest, AFullDiskIsNamedAsSuch) {
  TempDir dir;
  auto store = RunStore::Open(dir.path() / "s");
  store->CreateRun(NewRun("00000000000000a1"), {});
  Statement pages = store->db().Prepare("PRAGMA page_count");
  ASSERT_TRUE(pages.Step());
  store->db().Exec("PRAGMA max_page_count = " + std::to_string(pages.Int(0)));
  pages.Reset();
  try {
    store->CreateRun(NewRun("00000000000000b2"), {{"big", std::string(1 << 20, 'x')}});
    FAIL() << "a write past the limit went through";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("database or disk is full"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("is full: free some space; what was written before is kept"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(store->FindRun("00000000000000b2"), StoreError);
  EXPECT_EQ(store->FindRun("00000000000000a1").id, "00000000000000a1");
}

TEST(StoreTest, ReadingOnlyCreatesAndChangesNothing) {
  TempDir dir;
  {
    auto store = RunStore::Open(dir.path() / "s");
    store->CreateRun(NewRun("00aa11bb22cc33dd"), {});
    store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kSucceeded, std::nullopt);
  }
  std::filesystem::remove_all(dir.path() / "s" / "locks");
  std::filesystem::remove_all(dir.path() / "s" / "artifacts");
  auto listing = [&] {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path())) {
      const std::string name = e.path().filename().string();
      if (name != "runs.db-wal" && name != "runs.db-shm") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  const std::string database = testing::ReadFile((dir.path() / "s" / "runs.db").string());
  const auto before = listing();
  {
    auto store = RunStore::OpenReadOnly(dir.path() / "s");
    EXPECT_TRUE(store->read_only());
    EXPECT_EQ(sluice::store::Name(store->FindRun("00aa").status), "succeeded");
    EXPECT_THROW(store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kFailed, "x"), StoreError);
    EXPECT_EQ(sluice::store::Name(store->FindRun("00aa").status), "succeeded");
  }
  EXPECT_EQ(listing(), before);
  EXPECT_EQ(testing::ReadFile((dir.path() / "s" / "runs.db").string()), database);
}

// The --where / --order-by language and the runs table's fields, on both engines: JSON
// parameters compare as numbers with numbers and as text with text, `like` ignores case,
// series statistics, paging without a limit.
TEST_P(EngineTest, QueriesSelectAndOrderTheSameRuns) {
  struct Row {
    const char* id;
    const char* pipeline;
    const char* lr;
    const char* optimizer;
    const char* flag;
    std::vector<double> loss;
    double accuracy;
  };
  const std::vector<Row> rows = {{"00000000000000a1", "alpha", "0.001", "\"adamw\"", "true", {0.9, 0.5, 0.1}, 0.91},
                                 {"00000000000000a2", "alpha", "0.01", "\"sgd\"", "false", {0.8, 0.7, 0.6}, 0.72},
                                 {"00000000000000b1", "beta", "0.003", "\"adamw\"", "true", {0.4, 0.3, 0.25}, 0.85},
                                 {"00000000000000b2", "beta", "0.1", "\"adam\"", "false", {2.0, 1.5}, 0.10}};
  int day = 1;
  for (const Row& r : rows) {
    RunRecord run = NewRun(r.id, r.pipeline);
    run.started_at = "2026-01-0" + std::to_string(day++) + "T00:00:00.000Z";
    store->CreateRun(run, {{"train.lr", r.lr}, {"train.optimizer", r.optimizer}, {"train.flag", r.flag}});
    {
      MetricWriter metrics(*store, r.id);
      for (size_t i = 0; i < r.loss.size(); ++i) metrics.Log("train.loss", static_cast<int64_t>(i + 1), r.loss[i]);
      metrics.Log("eval.accuracy", 0, r.accuracy);
    }
    store->FinishRun(r.id, sluice::store::RunStatus::kSucceeded, std::nullopt);
  }
  const Dialect dialect = store->db().dialect();
  auto ids = [&](const std::string& where, const std::string& order_by = "") {
    RunFilter filter;
    filter.limit = 0;
    if (!where.empty()) filter.where = CompileWhere(where, dialect);
    if (!order_by.empty()) filter.order_by = CompileOrderBy(order_by, dialect);
    std::vector<std::string> out;
    for (const RunRecord& r : store->ListRuns(filter)) out.push_back(r.id.substr(14));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids("params.train.lr < 0.005", "params.train.lr asc"), (V{"a1", "b1"}));
  EXPECT_EQ(ids("params.train.optimizer = \"adamw\"", "id asc"), (V{"a1", "b1"}));
  EXPECT_EQ(ids("params.train.flag = true", "id asc"), (V{"a1", "b1"}));
  EXPECT_EQ(ids("params.train.optimizer like 'ADAM%' and not params.train.flag = true"), (V{"b2"}));
  EXPECT_EQ(ids("pipeline like \"ALP%\"", "id desc"), (V{"a2", "a1"}));
  EXPECT_EQ(ids("metrics.eval.accuracy >= 0.8", "metrics.eval.accuracy desc"), (V{"a1", "b1"}));
  EXPECT_EQ(ids("min(metrics.train.loss) < 0.3", "id asc"), (V{"a1", "b1"}));
  EXPECT_EQ(ids("max(metrics.train.loss) > 1"), (V{"b2"}));
  EXPECT_EQ(ids("metrics.train.loss@2 >= 0.5", "id asc"), (V{"a1", "a2", "b2"}));
  EXPECT_EQ(ids("metrics.train.loss@1 < 0.85 and duration >= 0", "id asc"), (V{"a2", "b1"}));
  EXPECT_EQ(ids("", "params.train.lr desc"), (V{"b2", "a2", "b1", "a1"}));
  EXPECT_EQ(ids("", "params.train.optimizer asc"), (V{"b2", "b1", "a1", "a2"}));  // ties: newest first

  RunFilter paged;
  paged.limit = 0;
  paged.offset = 1;  // no limit, an offset: the newest is skipped
  EXPECT_EQ(store->ListRuns(paged).size(), 3u);
  paged.limit = 2;
  EXPECT_EQ(store->ListRuns(paged).front().id, "00000000000000b1");
  paged.pipeline = "beta";
  EXPECT_EQ(store->CountRuns(paged), 2);

  const std::vector<MetricStats> stats = store->MetricSummary("00000000000000a1");
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1].key, "train.loss");
  EXPECT_DOUBLE_EQ(stats[1].min, 0.1);
  EXPECT_DOUBLE_EQ(stats[1].max, 0.9);
  EXPECT_EQ(stats[1].points, 3);
  EXPECT_EQ(store->CurveKeys("00000000000000a1"), (V{"train.loss"}));
  const auto values = store->FieldValues(
      {"00000000000000b2", "00000000000000a1"},
      {FieldExpression("params.train.lr", dialect), FieldExpression("min(metrics.train.loss)", dialect)});
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(std::get<double>(values[0][1]), 1.5);
  EXPECT_EQ(std::get<double>(values[1][1]), 0.1);
}

TEST_P(EngineTest, RegistersVersionsAndFollowsAliases) {
  store->CreateRun(NewRun("00aa11bb22cc33dd"), {});
  for (int i = 0; i < 2; ++i) {
    store.dir().Write("bundle/manifest.json", "{\"format\": \"sluice-bundle\"}");
    store.dir().Write("bundle/model.pt", "weights " + std::to_string(i));
    const ModelRecord m =
        store->RegisterModel("credit", "00aa11bb22cc33dd", "bundle", store.dir().path() / "bundle", "");
    EXPECT_EQ(m.version, i + 1);
  }
  store->SetAlias("credit", "production", 1);
  EXPECT_EQ(store->FindModel("credit").version, 2);
  EXPECT_EQ(store->FindModel("credit:1").version, 1);
  EXPECT_EQ(store->FindModel("credit@production").version, 1);
  store->SetAlias("credit", "production", 2);
  EXPECT_EQ(store->FindModel("credit@production").version, 2);
  EXPECT_EQ(store->ListModels().size(), 2u);
  EXPECT_OK(VerifyModel(store->FindModel("credit:1")));
  EXPECT_THROW(store->FindModel("credit:3"), StoreError);
}

// Hosts sharing a PostgreSQL store cannot see each other's locks: a run of another host
// whose heartbeat stopped is taken for dead there, and its sweep trial is lost. A SQLite
// store (one host) goes by its locks only.
TEST_P(EngineTest, ARunOfAnotherHostWhoseHeartbeatStoppedIsCrashed) {
  RunRecord run = NewRun("00000000000000e1");
  run.host = "another-host";
  store->CreateRun(run, {});
  RunRecord alive = NewRun("00000000000000e2");
  alive.host = "another-host";
  store->CreateRun(alive, {});
  store->Heartbeat(alive.id);
  store->db()
      .Prepare("UPDATE runs SET heartbeat_at = ? WHERE id = ?")
      .Bind(1, UnixNow() - RunStore::kLostHeartbeats * HeartbeatSeconds() - 1)
      .Bind(2, run.id)
      .Run();
  const int marked = store->MarkCrashedRuns();
  const RunRecord after = store->FindRun(run.id);
  if (GetParam() == "postgresql") {
    EXPECT_EQ(marked, 1);
    EXPECT_EQ(sluice::store::Name(after.status), "crashed");
    EXPECT_NE(after.error.value_or("").find("on another-host) sent no heartbeat for 3"), std::string::npos)
        << after.error.value_or("");
  } else {
    EXPECT_EQ(marked, 0);
    EXPECT_EQ(sluice::store::Name(after.status), "running");
  }
  EXPECT_EQ(sluice::store::Name(store->FindRun(alive.id).status), "running");
}

TEST(IntegrityTest, NamesMissingChangedAndAddedFiles) {
  TempDir dir;
  auto store = RunStore::Open(dir.path() / "s");
  store->CreateRun(NewRun("00aa11bb22cc33dd"), {});
  ArtifactRecord a = StoreArtifact(store->dir(), "eval", "predictions", dir.Write("p.csv", "index,pred\n0,1\n"));
  store->AddArtifact("00aa11bb22cc33dd", a);
  dir.Write("bundle/manifest.json", "{}");
  dir.Write("bundle/model.pt", "weights");
  const ModelRecord model = store->RegisterModel("m", "00aa11bb22cc33dd", "bundle", dir.path() / "bundle", "");
  store->FinishRun("00aa11bb22cc33dd", sluice::store::RunStatus::kSucceeded, std::nullopt);
  EXPECT_TRUE(CheckStore(*store).problems.empty());

  std::filesystem::permissions(a.path, std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
  std::ofstream(a.path, std::ios::app) << "2,0\n";
  Status s = VerifyArtifact("00aa11bb22cc33dd", store->Artifacts("00aa11bb22cc33dd")[0]);
  EXPECT_EQ(s.message(), "artifact eval/predictions of run 00aa11bb22cc33dd was changed after it was recorded (" +
                             a.path + ": 19 bytes, recorded 15)");
  std::filesystem::remove(a.path);
  s = VerifyArtifact("00aa11bb22cc33dd", store->Artifacts("00aa11bb22cc33dd")[0]);
  EXPECT_EQ(s.message(), "artifact eval/predictions of run 00aa11bb22cc33dd is missing (" + a.path + ")");

  std::ofstream(model.path + "/model.pt") << "other weights";
  s = VerifyModel(store->FindModel("m"));
  EXPECT_EQ(s.message().substr(0, 52), "model.pt of model m v1 was changed after it was reco");
  std::ofstream(model.path + "/model.pt") << "weights";
  EXPECT_OK(VerifyModel(store->FindModel("m")));
  std::ofstream(model.path + "/extra.py") << "import os";
  s = VerifyModel(store->FindModel("m"));
  EXPECT_EQ(s.message(), "model m v1: " + model.path + "/extra.py was added after it was registered");

  // What a registration killed before its transaction leaves: noted, never listed.
  std::filesystem::create_directories(store->dir() / "models" / "m" / ".incoming-0123");
  EXPECT_EQ(store->ListModels("m").size(), 1u);

  const StoreCheck check = CheckStore(*store);
  ASSERT_EQ(check.problems.size(), 2u);
  EXPECT_EQ(check.problems[0].what, "run 00aa11bb22cc33dd: artifact eval/predictions");
  EXPECT_EQ(check.problems[1].what, "model m v1");
  ASSERT_EQ(check.notes.size(), 1u);
  EXPECT_EQ(check.notes[0], (store->dir() / "models" / "m" / ".incoming-0123").string() +
                                ": the copy of a registration that did not finish (or is under way); delete it if "
                                "no sluice is registering a model");
}

TEST(Sha256Test, MatchesKnownDigests) {
  auto digest = [](const std::string& text) {
    sluice::Sha256 h;
    h.Update(text);
    return h.HexDigest();
  };
  EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sluice::Sha256 chunked;  // a million 'a', fed in uneven pieces
  std::string piece(997, 'a');
  size_t fed = 0;
  while (fed + piece.size() <= 1000000) {
    chunked.Update(piece);
    fed += piece.size();
  }
  chunked.Update(std::string(1000000 - fed, 'a'));
  EXPECT_EQ(chunked.HexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace sluice::store
