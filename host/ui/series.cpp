#include "series.hpp"

#include <cmath>

namespace sluice::ui {

std::vector<double> Smooth(const std::vector<double>& y, double weight) {
  if (weight <= 0) return y;
  std::vector<double> out(y.size());
  double last = 0;
  int64_t seen = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      out[i] = y[i];
      continue;
    }
    last = last * weight + (1 - weight) * y[i];
    ++seen;
    out[i] = last / (1 - std::pow(weight, static_cast<double>(seen)));
  }
  return out;
}

std::vector<size_t> Lttb(const std::vector<double>& x, const std::vector<double>& y, size_t limit) {
  std::vector<size_t> finite;
  finite.reserve(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    if (std::isfinite(y[i])) finite.push_back(i);
  }
  if (finite.size() <= limit || limit < 3) {
    if (limit < 3 && finite.size() > limit) finite.resize(limit);
    return finite;
  }
  const size_t n = finite.size();
  std::vector<size_t> kept;
  kept.reserve(limit);
  kept.push_back(finite[0]);
  // The points between the first and the last fall into limit - 2 buckets; from each,
  // the point making the largest triangle with the one kept before it and the average of
  // the next bucket.
  const double width = static_cast<double>(n - 2) / static_cast<double>(limit - 2);
  size_t a = 0;
  for (size_t b = 0; b < limit - 2; ++b) {
    const auto begin = static_cast<size_t>(std::floor(static_cast<double>(b) * width)) + 1;
    const size_t end = std::min(n - 1, static_cast<size_t>(std::floor(static_cast<double>(b + 1) * width)) + 1);
    const size_t next_begin = end;
    const size_t next_end = std::min(n, static_cast<size_t>(std::floor(static_cast<double>(b + 2) * width)) + 1);
    double avg_x = 0, avg_y = 0;
    for (size_t j = next_begin; j < next_end; ++j) {
      avg_x += x[finite[j]];
      avg_y += y[finite[j]];
    }
    const double count = static_cast<double>(std::max<size_t>(1, next_end - next_begin));
    avg_x /= count;
    avg_y /= count;
    const double ax = x[finite[a]], ay = y[finite[a]];
    double best = -1;
    size_t chosen = begin;
    for (size_t j = begin; j < end; ++j) {
      const double area = std::abs((ax - avg_x) * (y[finite[j]] - ay) - (ax - x[finite[j]]) * (avg_y - ay));
      if (area > best) {
        best = area;
        chosen = j;
      }
    }
    kept.push_back(finite[chosen]);
    a = chosen;
  }
  kept.push_back(finite[n - 1]);
  return kept;
}

}  // namespace sluice::ui
