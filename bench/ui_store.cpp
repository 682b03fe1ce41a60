// A store at the scale sluice ui is asked to hold: RUNS runs x METRICS metric series x STEPS
// steps (default 10,000 x 50 x 1,000: 500 million points), written through the store's own
// API (CreateRun, MetricWriter, FinishRun) as runs write it, deterministic (seeded). Two
// pipelines, ten parameters a run, a few runs failed; train.loss falls with noise.
//
//   sluice_bench_ui_store DIR [RUNS] [METRICS] [STEPS]
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "run_store.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sluice_bench_ui_store DIR [RUNS] [METRICS] [STEPS]\n");
    return 2;
  }
  namespace store = sluice::store;
  const std::filesystem::path dir = argv[1];
  const int64_t runs = argc > 2 ? std::atoll(argv[2]) : 10'000;
  const int64_t metrics = argc > 3 ? std::atoll(argv[3]) : 50;
  const int64_t steps = argc > 4 ? std::atoll(argv[4]) : 1'000;
  if (std::filesystem::exists(dir / "runs.db")) {
    std::fprintf(stderr, "%s already holds a store\n", dir.c_str());
    return 1;
  }
  auto s = store::RunStore::Open(dir);
  std::vector<std::string> keys = {"train.loss", "train.lr", "eval.accuracy"};
  for (int64_t k = static_cast<int64_t>(keys.size()); k < metrics; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "train.m%02lld", static_cast<long long>(k));
    keys.push_back(name);
  }
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 0.05);
  const auto t0 = std::chrono::steady_clock::now();
  const double start = store::UnixNow() - static_cast<double>(runs) * 60;
  for (int64_t r = 0; r < runs; ++r) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(rng()));
    store::RunRecord run;
    run.id = id;
    run.pipeline = r % 3 == 0 ? "scale-cnn" : "scale-mlp";
    run.file = "pipelines/" + run.pipeline + ".toml";
    run.started_at = store::IsoTime(start + static_cast<double>(r) * 60);
    run.host = "bench";
    run.pid = getpid();
    run.command = "sluice_bench_ui_store";
    run.spec = "{}";
    const double lr = std::pow(10.0, -4 + 3 * std::uniform_real_distribution<double>(0, 1)(rng));
    const std::map<std::string, std::string> params = {
        {"train.lr", std::to_string(lr)},
        {"train.batch_size", std::to_string(32 << (r % 4))},
        {"train.optimizer", r % 2 ? "\"adamw\"" : "\"sgd\""},
        {"train.epochs", std::to_string(steps)},
        {"train.weight_decay", std::to_string(0.01 * static_cast<double>(r % 5))},
        {"model.hidden", "[" + std::to_string(64 << (r % 3)) + "]"},
        {"model.dropout", std::to_string(0.1 * static_cast<double>(r % 4))},
        {"data.limit", std::to_string(60000)},
        {"pipeline.seed", std::to_string(r)},
        {"pipeline.threads", "2"}};
    s->CreateRun(run, params);
    {
      store::MetricWriter writer(*s, run.id);
      const double floor = 0.2 + 0.3 * std::abs(std::log10(lr) + 2.5);
      for (int64_t step = 1; step <= steps; ++step) {
        const double progress = static_cast<double>(step) / static_cast<double>(steps);
        const double loss = floor + 2.0 * std::exp(-5 * progress) + noise(rng);
        writer.Log(keys[0], step, loss);
        writer.Log(keys[1], step, lr * (1 - progress));
        writer.Log(keys[2], step, 1 - loss / 3);
        for (size_t k = 3; k < keys.size(); ++k)
          writer.Log(keys[k], step, static_cast<double>(k) * progress + noise(rng));
      }
    }
    const bool failed = r % 97 == 13;
    s->FinishRun(run.id, failed ? store::RunStatus::kFailed : store::RunStatus::kSucceeded,
                 failed ? std::optional<std::string>("train: loss became NaN at step 412") : std::nullopt);
    if ((r + 1) % 500 == 0) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "%lld runs, %.0f s, %.2f M points/s\n", static_cast<long long>(r + 1), seconds,
                   static_cast<double>((r + 1) * metrics * steps) / seconds / 1e6);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"runs\": %lld, \"metrics\": %lld, \"steps\": %lld, \"seconds\": %.1f}\n", static_cast<long long>(runs),
              static_cast<long long>(metrics), static_cast<long long>(steps), seconds);
  return 0;
}
