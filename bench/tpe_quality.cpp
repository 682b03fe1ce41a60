// Search quality of sluice's TPE sampler on standard synthetic objectives (the same code
// `sluice sweep` runs, called in process). Prints one JSON line per objective and seed:
// the best (noise-free) value after 50 and after 100 trials. bench/sweep_quality.py runs
// this and Optuna's TPESampler side by side.
//
//   sluice_bench_tpe_quality [SEEDS] [TRIALS] [multivariate|univariate] [CANDIDATES] [BANDWIDTH] [FIRST_SEED]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sweep/sampler.hpp"

namespace {

using sluice::sweep::Dimension;
using sluice::sweep::json;
using sluice::sweep::Observation;
using sluice::sweep::Sweep;

Dimension Numeric(const std::string& key, Dimension::Kind kind, double low, double high) {
  Dimension d;
  d.key = key;
  d.kind = kind;
  d.low = low;
  d.high = high;
  d.integer_param = kind == Dimension::Kind::kInt;
  return d;
}

struct Problem {
  std::string name;
  std::vector<Dimension> space;
  std::function<double(const json&)> f;  // noise-free value
  double noise = 0;                      // standard deviation added to what the sampler sees
};

double X(const json& p, const std::string& k) { return p.at(k).get<double>(); }

std::vector<Problem> Problems() {
  std::vector<Problem> out;
  using K = Dimension::Kind;
  out.push_back({"branin", {Numeric("x1", K::kUniform, -5, 10), Numeric("x2", K::kUniform, 0, 15)}, [](const json& p) {
                   const double x = X(p, "x1"), y = X(p, "x2");
                   const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
                   return std::pow(y - b * x * x + c * x - 6, 2) + 10 * (1 - t) * std::cos(x) + 10;
                 }});
  std::vector<Dimension> unit6;
  for (int i = 0; i < 6; ++i) unit6.push_back(Numeric("x" + std::to_string(i), K::kUniform, 0, 1));
  out.push_back({"hartmann6", unit6, [](const json& p) {
                   static const double a[4] = {1.0, 1.2, 3.0, 3.2};
                   static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                                  {0.05, 10, 17, 0.1, 8, 14},
                                                  {3, 3.5, 1.7, 10, 17, 8},
                                                  {17, 8, 0.05, 10, 0.1, 14}};
                   static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                                  {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                                  {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                                  {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
                   double sum = 0;
                   for (int i = 0; i < 4; ++i) {
                     double inner = 0;
                     for (int j = 0; j < 6; ++j) {
                       const double x = X(p, "x" + std::to_string(j));
                       inner += A[i][j] * (x - P[i][j]) * (x - P[i][j]);
                     }
                     sum += a[i] * std::exp(-inner);
                   }
                   return -sum;
                 }});
  std::vector<Dimension> rosen;
  for (int i = 0; i < 4; ++i) rosen.push_back(Numeric("x" + std::to_string(i), K::kUniform, -2, 2));
  out.push_back({"rosenbrock4", rosen, [](const json& p) {
                   double s = 0;
                   for (int i = 0; i < 3; ++i) {
                     const double x = X(p, "x" + std::to_string(i)), y = X(p, "x" + std::to_string(i + 1));
                     s += 100 * (y - x * x) * (y - x * x) + (1 - x) * (1 - x);
                   }
                   return s;
                 }});
  std::vector<Dimension> sphere;
  for (int i = 0; i < 4; ++i) sphere.push_back(Numeric("x" + std::to_string(i), K::kUniform, -1, 1));
  out.push_back({"noisy_sphere4", sphere,
                 [](const json& p) {
                   double s = 0;
                   for (int i = 0; i < 4; ++i) s += std::pow(X(p, "x" + std::to_string(i)) - 0.3, 2);
                   return s;
                 },
                 0.1});
  Dimension choice;
  choice.key = "act";
  choice.kind = K::kChoice;
  choice.choices = {"relu", "tanh", "gelu", "sigmoid"};
  out.push_back({"mixed",
                 {Numeric("lr", K::kLogUniform, 1e-5, 1), Numeric("layers", K::kInt, 1, 10),
                  Numeric("dropout", K::kUniform, 0, 0.8), choice},
                 [](const json& p) {
                   static const std::map<std::string, double> offset = {
                       {"relu", 0.3}, {"tanh", 0.0}, {"gelu", 0.6}, {"sigmoid", 1.5}};
                   const double lr = std::log10(X(p, "lr")) + 2.5;
                   const double layers = X(p, "layers") - 4;
                   return lr * lr + 0.05 * layers * layers + std::pow(X(p, "dropout") - 0.25, 2) * 4 +
                          offset.at(p.at("act").get<std::string>());
                 }});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 10;
  const int trials = argc > 2 ? std::atoi(argv[2]) : 100;
  sluice::sweep::TpeOptions options;
  if (argc > 3) options.multivariate = std::string(argv[3]) == "multivariate";
  if (argc > 4) options.n_ei_candidates = std::atoi(argv[4]);
  if (argc > 5) options.bandwidth = std::atof(argv[5]);
  const int first_seed = argc > 6 ? std::atoi(argv[6]) : 1;
  for (const Problem& problem : Problems()) {
    Sweep sweep;
    sweep.maximize = false;
    sweep.space = problem.space;
    for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
      std::vector<Observation> history;
      std::mt19937_64 noise_rng(static_cast<uint64_t>(seed) * 7919);
      std::normal_distribution<double> noise(0.0, problem.noise > 0 ? problem.noise : 1.0);
      double best_seen = INFINITY, best_true = INFINITY, at50 = NAN;
      for (int t = 0; t < trials; ++t) {
        std::mt19937_64 rng = sluice::sweep::TrialRng(static_cast<uint64_t>(seed), t);
        const json p = sluice::sweep::SampleTpe(sweep, history, options, rng);
        const double truth = problem.f(p);
        const double seen = truth + (problem.noise > 0 ? noise(noise_rng) : 0.0);
        history.push_back({p, seen});
        if (seen < best_seen) {
          best_seen = seen;
          best_true = truth;  // what the search would hand over: the point that looked best
        }
        if (t + 1 == 50) at50 = best_true;
      }
      std::printf(
          "{\"sampler\": \"sluice\", \"objective\": \"%s\", \"seed\": %d, \"best50\": %.17g, \"best100\": %.17g}\n",
          problem.name.c_str(), seed, at50, best_true);
    }
  }
  return 0;
}
