// Samplers: where the next trial of a study looks. Grid enumerates, random draws
// independently, TPE (the Tree-structured Parzen Estimator, univariate, with the
// defaults of Optuna 3.1's TPESampler) models the good and the bad trials so far.
#ifndef SLUICE_HOST_SWEEP_SAMPLER_HPP_
#define SLUICE_HOST_SWEEP_SAMPLER_HPP_

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "space.hpp"

namespace sluice::sweep {

// What a sampler learns from: one finished trial (or warm-start run).
struct Observation {
  json params;          // keyed "stage.param"
  double value = 0;     // the objective, as logged
  bool pruned = false;  // value is its last intermediate value, at `step`
  int64_t step = 0;
};

struct TpeOptions {
  int64_t startup_trials = 10;  // random until this many observations
  int n_ei_candidates = 24;
  double prior_weight = 1.0;
  // One kernel per observation over all dimensions at once (Falkner et al. 2018, Optuna's
  // multivariate=True), so that values that did well together are proposed together;
  // otherwise each dimension is modelled on its own, as Optuna's default does.
  // The default: on the synthetic benchmarks (bench/sweep_quality.py) it finds better
  // points than Optuna 3.1's default (univariate) TPE, and better than our univariate mode,
  // which normalizes its kernels where Optuna 3.1's do not (optuna#5109).
  bool multivariate = true;
  double bandwidth = 0.05;      // multivariate: kernel width as a share of each range, times n^(-1/(d+4))
  double min_bandwidth = 0.01;  // multivariate: the narrowest kernel, as a share of the range
};

// The first grid point, from the `next`-th on, that is not in `used` (points as
// json::dump() writes them), or nothing when every point is taken. Points go in row-major
// order over the dimensions. `next` moves past the used points skipped, so a caller that
// keeps it (and sets it back to 0 when a point is freed) does not walk them again.
std::optional<json> SampleGrid(const Sweep& sweep, const std::set<std::string>& used, int64_t& next);
// Total number of grid points (saturating at INT64_MAX).
int64_t GridSize(const Sweep& sweep);

json SampleRandom(const Sweep& sweep, std::mt19937_64& rng);

json SampleTpe(const Sweep& sweep, const std::vector<Observation>& history, const TpeOptions& options,
               std::mt19937_64& rng);

// A generator for trial `number` of a study seeded with `seed`: the same trial of the
// same study always draws the same numbers.
std::mt19937_64 TrialRng(uint64_t seed, int64_t number);

}  // namespace sluice::sweep

#endif  // SLUICE_HOST_SWEEP_SAMPLER_HPP_
