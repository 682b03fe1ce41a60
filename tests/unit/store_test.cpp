// The run store: schema, runs, metrics, prefixes, crash detection.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "artifact_store.hpp"
#include "migrations.hpp"
#include "run_store.hpp"
#include "sha256.hpp"
#include "temp_dir.hpp"

namespace sluice::store {
namespace {

using testing::TempDir;

RunRecord NewRun(const std::string& id, const std::string& pipeline = "p") {
  RunRecord r;
  r.id = id;
  r.pipeline = pipeline;
  r.file = "/x/p.toml";
  r.status = "running";
  r.started_at = IsoTime(UnixNow());
  r.host = HostName();
  r.pid = getpid();
  r.command = "sluice run p.toml";
  r.spec = "{}";
  return r;
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

TEST(StoreTest, RecordsARunWithParamsStagesArtifactsAndEnvironment) {
  auto store = RunStore::OpenInMemory();
  store->CreateRun(NewRun("00aa11bb22cc33dd"), {{"train.lr", "0.001"}, {"pipeline.seed", "7"}});
  store->SetEnvironment("00aa11bb22cc33dd", {{"libtorch", "1.13.1"}});
  StageRecord st;
  st.name = "train";
  st.plugin = "trainer";
  st.plugin_version = "0.1.0";
  st.plugin_file = "/x/trainer.so";
  st.status = "succeeded";
  st.seconds = 1.5;
  store->UpsertStage("00aa11bb22cc33dd", st);
  store->FinishRun("00aa11bb22cc33dd", "succeeded", std::nullopt);
  // A second finish does not overwrite the first.
  store->FinishRun("00aa11bb22cc33dd", "failed", std::string("late"));

  RunRecord r = store->FindRun("00aa");
  EXPECT_EQ(r.status, "succeeded");
  EXPECT_FALSE(r.error.has_value());
  ASSERT_TRUE(r.ended_at.has_value());
  EXPECT_EQ(store->Params(r.id).at("train.lr"), "0.001");
  EXPECT_EQ(store->Environment(r.id).at("libtorch"), "1.13.1");
  ASSERT_EQ(store->Stages(r.id).size(), 1u);
  EXPECT_EQ(*store->Stages(r.id)[0].seconds, 1.5);
}

TEST(StoreTest, FindsRunsByUniquePrefixOnly) {
  auto store = RunStore::OpenInMemory();
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

TEST(StoreTest, MetricWriterKeepsHistoryAndLatestValue) {
  auto store = RunStore::OpenInMemory();
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
}

TEST(StoreTest, ListFiltersByPipelineAndStatusNewestFirst) {
  auto store = RunStore::OpenInMemory();
  RunRecord a = NewRun("000000000000000a", "alpha");
  a.started_at = "2026-01-01T00:00:00.000Z";
  RunRecord b = NewRun("000000000000000b", "beta");
  b.started_at = "2026-01-02T00:00:00.000Z";
  RunRecord c = NewRun("000000000000000c", "alpha");
  c.started_at = "2026-01-03T00:00:00.000Z";
  for (const auto& r : {a, b, c}) store->CreateRun(r, {});
  store->FinishRun(c.id, "failed", std::string("boom"));
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

TEST(StoreTest, MarksRunsOfDeadProcessesCrashedOnOpen) {
  TempDir dir;
  const auto path = dir.path() / "s";
  {
    auto store = RunStore::Open(path);
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
    st.status = "running";
    store->UpsertStage("2222222222222222", st);

    auto reopened = RunStore::Open(path);
    EXPECT_EQ(reopened->FindRun("1111").status, "running");
    RunRecord crashed = reopened->FindRun("2222");
    EXPECT_EQ(crashed.status, "crashed");
    EXPECT_NE(crashed.error->find("ended without recording a result"), std::string::npos);
    EXPECT_EQ(reopened->Stages("2222222222222222")[0].status, "crashed");
    EXPECT_FALSE(std::filesystem::exists(store->LockPath("2222222222222222")));
  }
}

TEST(StoreTest, ArtifactsAreStoredByContentOnce) {
  TempDir dir;
  auto store = RunStore::Open(dir.path() / "s");
  const std::string a = dir.Write("a/predictions.csv", "index,label\n0,1\n");
  const std::string b = dir.Write("b/predictions.csv", "index,label\n0,1\n");
  ArtifactRecord ra = StoreArtifact(store->dir(), "eval", "predictions", a);
  ArtifactRecord rb = StoreArtifact(store->dir(), "eval", "predictions", b);
  EXPECT_EQ(ra.path, rb.path);
  EXPECT_EQ(ra.sha256, Sha256File(ra.path));
  EXPECT_EQ(ra.bytes, 16);
  EXPECT_TRUE(std::filesystem::exists(ra.path));
  EXPECT_FALSE(std::filesystem::exists(a));  // moved into the store
  EXPECT_NE(ra.path.find("/artifacts/sha256/" + ra.sha256.substr(0, 2) + "/" + ra.sha256 + ".csv"), std::string::npos);
}

TEST(Sha256Test, MatchesKnownDigests) {
  auto digest = [](const std::string& text) {
    Sha256 h;
    h.Update(text);
    return h.HexDigest();
  };
  EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 chunked;  // a million 'a', fed in uneven pieces
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
