// Metric logging throughput: points per second through the store's batched writer (what
// StageContext::LogMetric feeds), against a bare SQLite loop inserting the same rows
// into the same table in one transaction with one prepared statement (the ceiling).
//
//   sluice_bench_metric_logging [points]
#include <sqlite3.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "run_store.hpp"

namespace {

namespace fs = std::filesystem;
using sluice::store::RunStore;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

sluice::store::RunRecord Run(const std::string& id) {
  sluice::store::RunRecord r;
  r.id = id;
  r.pipeline = "bench";
  r.status = sluice::store::RunStatus::kRunning;
  r.started_at = sluice::store::IsoTime(sluice::store::UnixNow());
  r.host = "bench";
  r.pid = getpid();
  return r;
}

const char* kKeys[] = {"train.loss", "train.lr", "train.grad_norm", "train.samples_per_sec"};

}  // namespace

int main(int argc, char** argv) {
  const int64_t points = argc > 1 ? std::atoll(argv[1]) : 2'000'000;
  const fs::path dir = fs::temp_directory_path() / ("sluice-bench-metrics-" + std::to_string(getpid()));
  fs::remove_all(dir);
  double ours = 0, raw = 0;
  {
    auto store = RunStore::Open(dir);
    store->CreateRun(Run("0000000000000001"), {});
    store->CreateRun(Run("0000000000000002"), {});
    const auto t0 = std::chrono::steady_clock::now();
    {
      sluice::store::MetricWriter writer(*store, "0000000000000001");
      for (int64_t i = 0; i < points; ++i) writer.Log(kKeys[i % 4], i / 4, 1.0 / static_cast<double>(i + 1));
    }  // the destructor flushes the last batch
    ours = static_cast<double>(points) / Seconds(t0);

    sqlite3* db = nullptr;
    sqlite3_open((dir / "runs.db").c_str(), &db);
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    int64_t series[4];
    for (int k = 0; k < 4; ++k) {
      const std::string sql =
          std::string("INSERT INTO metric_series (run_id, key) VALUES ('0000000000000002', '") + kKeys[k] + "')";
      sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
      series[k] = sqlite3_last_insert_rowid(db);
    }
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO metric_points (series_id, step, value, logged_at) VALUES (?, ?, ?, ?)", -1,
                       &insert, nullptr);
    const auto t1 = std::chrono::steady_clock::now();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int64_t i = 0; i < points; ++i) {
      sqlite3_bind_int64(insert, 1, series[i % 4]);
      sqlite3_bind_int64(insert, 2, i / 4);
      sqlite3_bind_double(insert, 3, 1.0 / static_cast<double>(i + 1));
      sqlite3_bind_double(insert, 4, 0.0);
      sqlite3_step(insert);
      sqlite3_reset(insert);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    raw = static_cast<double>(points) / Seconds(t1);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    if (store->MetricHistory("0000000000000001", "train.loss").size() != static_cast<size_t>(points / 4)) {
      std::fprintf(stderr, "lost points\n");
      return 1;
    }
  }
  fs::remove_all(dir);
  std::printf("metric logging, %lld points into SQLite (WAL):\n", static_cast<long long>(points));
  std::printf("  sluice MetricWriter   %10.0f points/s   (target >= 500000)\n", ours);
  std::printf("  bare SQLite loop      %10.0f points/s   (one transaction, the ceiling)\n", raw);
  std::printf("  ratio sluice/bare     %10.2f\n", ours / raw);
  return 0;
}
