// Metric series for charts: smoothing, then downsampling on the server, so a run page
// draws at most a few thousand points however long the run logged.
#ifndef SLUICE_HOST_UI_SERIES_HPP_
#define SLUICE_HOST_UI_SERIES_HPP_

#include <cstddef>
#include <vector>

namespace sluice::ui {

// TensorBoard's smoothing: an exponential moving average with `weight` in [0, 1) (0: none),
// debiased so the first points are not pulled toward zero. Non-finite values are carried
// through as they are and do not enter the average.
std::vector<double> Smooth(const std::vector<double>& y, double weight);

// Largest-Triangle-Three-Buckets (Steinarsson, 2013): the indices of at most `limit`
// points (first and last always) that keep the visual shape of (x, y); x ascending. All
// indices when there are no more than `limit`. Non-finite y values are never chosen.
std::vector<size_t> Lttb(const std::vector<double>& x, const std::vector<double>& y, size_t limit);

}  // namespace sluice::ui

#endif  // SLUICE_HOST_UI_SERIES_HPP_
