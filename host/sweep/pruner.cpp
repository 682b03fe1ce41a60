#include "pruner.hpp"

#include <algorithm>
#include <cmath>

namespace sluice::sweep {

bool PruneCheckpoint(const Sweep& sweep, int64_t step) {
  if (sweep.max_resource && step >= *sweep.max_resource) return false;  // the trial is done: keep its result
  if (sweep.pruner == "median") return step >= sweep.warmup_steps;
  if (sweep.pruner != "asha" || step < sweep.min_resource) return false;
  for (int64_t rung = sweep.min_resource; rung <= step; rung *= sweep.reduction_factor) {
    if (rung == step) return true;
  }
  return false;
}

bool ShouldPrune(const Sweep& sweep, int64_t step, double value, std::vector<double> others, int64_t finished_trials) {
  if (!PruneCheckpoint(sweep, step)) return false;
  if (std::isnan(value)) return true;
  others.erase(std::remove_if(others.begin(), others.end(), [](double v) { return std::isnan(v); }), others.end());
  if (sweep.pruner == "median") {
    if (finished_trials < sweep.startup_trials || others.empty()) return false;
    std::sort(others.begin(), others.end());
    const size_t n = others.size();
    const double median = n % 2 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
    return sweep.Better(median, value);
  }
  // asha: promotable while within the top max(1, n / eta) of the rung, this trial included.
  others.push_back(value);
  std::sort(others.begin(), others.end(), [&](double a, double b) { return sweep.Better(a, b); });
  const size_t keep = std::max<size_t>(1, others.size() / static_cast<size_t>(sweep.reduction_factor));
  return sweep.Better(others[keep - 1], value);
}

}  // namespace sluice::sweep
