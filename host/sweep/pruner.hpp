// Pruners: whether a running trial stops early, judged each time it logs the prune
// metric (compared in the objective's direction) against the other trials of its study.
//
// median: stop when the value is worse than the median of finished trials' values at
//         the same step (after `startup_trials` finished and `warmup_steps` steps).
// asha:   asynchronous successive halving. Rungs are the steps min_resource * eta^k; a
//         trial reaching a rung continues only while its value there is in the top 1/eta
//         of every value recorded at that rung so far (the first ones to arrive always
//         continue: with fewer than eta values the best one is promoted).
// Neither stops a trial at or after `max_resource` (its last step, e.g. the epochs), where
// stopping would only throw away a finished result.
#ifndef SLUICE_HOST_SWEEP_PRUNER_HPP_
#define SLUICE_HOST_SWEEP_PRUNER_HPP_

#include <cstdint>
#include <vector>

#include "space.hpp"

namespace sluice::sweep {

// Does the pruner look at `step` at all (median: every step after warm-up; asha: rungs)?
bool PruneCheckpoint(const Sweep& sweep, int64_t step);

// `others`: values at `step` of the other trials (median: finished ones only).
bool ShouldPrune(const Sweep& sweep, int64_t step, double value, std::vector<double> others, int64_t finished_trials);

}  // namespace sluice::sweep

#endif  // SLUICE_HOST_SWEEP_PRUNER_HPP_
