#include "sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace sluice::sweep {

namespace {

constexpr double kMinMass = 1e-300;

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Probability that N(mu, sigma) falls in [lo, hi].
double NormalMass(double lo, double hi, double mu, double sigma) {
  return NormalCdf((hi - mu) / sigma) - NormalCdf((lo - mu) / sigma);
}

// A draw of N(mu, sigma) truncated to [low, high], by rejection; the mean, clamped, in the
// unlikely case that keeps missing.
double TruncatedNormal(double mu, double sigma, double low, double high, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(mu, sigma);
  for (int tries = 0; tries < 1000; ++tries) {
    const double x = normal(rng);
    if (x >= low && x <= high) return x;
  }
  return std::clamp(mu, low, high);
}

// The nearest value of a stepped dimension's grid (step `q`, from d.low).
double Quantize(const Dimension& d, double q, double x) {
  return std::clamp(d.low + std::round((x - d.low) / q) * q, d.low, d.high);
}

double Uniform01(std::mt19937_64& rng) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

// A numeric dimension in the space TPE models: log for log_uniform, widened by half a
// step on each side for discrete values, so each value owns an interval of its own.
struct Axis {
  double low = 0, high = 0;
  std::optional<double> q;  // the width of one value's interval (discrete, not log)
  bool log = false;
};

Axis MakeAxis(const Dimension& d) {
  Axis a;
  a.log = d.kind == Dimension::Kind::kLogUniform;
  const bool discrete = d.step || d.kind == Dimension::Kind::kInt || d.integer_param;
  const double step = d.step ? *d.step : 1.0;
  if (a.log) {
    a.low = std::log(discrete ? std::max(d.low - 0.5 * step, d.low * 0.5) : d.low);
    a.high = std::log(discrete ? d.high + 0.5 * step : d.high);
  } else if (discrete) {
    a.q = step;
    a.low = d.low - 0.5 * step;
    a.high = d.high + 0.5 * step;
  } else {
    a.low = d.low;
    a.high = d.high;
  }
  return a;
}

// A value of the dimension from a point on its axis: rounded to the grid, clamped.
json FromAxis(const Dimension& d, const Axis& a, double x) {
  double v = a.log ? std::exp(x) : x;
  if (d.step) v = d.low + std::round((v - d.low) / *d.step) * *d.step;
  if (d.kind == Dimension::Kind::kInt || d.integer_param) v = std::round(v);
  v = std::clamp(v, d.low, d.high);
  if (d.kind == Dimension::Kind::kInt || d.integer_param) return static_cast<int64_t>(std::llround(v));
  return v;
}

double ToAxis(const Axis& a, double v) { return a.log ? std::log(std::max(v, 1e-300)) : v; }

json SampleOne(const Dimension& d, std::mt19937_64& rng) {
  if (d.kind == Dimension::Kind::kChoice) {
    return d.choices[std::uniform_int_distribution<size_t>(0, d.choices.size() - 1)(rng)];
  }
  if (const int64_t n = d.Cardinality(); n > 0 && d.kind != Dimension::Kind::kLogUniform) {
    return d.ValueAt(std::uniform_int_distribution<int64_t>(0, n - 1)(rng));
  }
  const Axis a = MakeAxis(d);
  return FromAxis(d, a, a.low + (a.high - a.low) * Uniform01(rng));
}

// A mixture of truncated normals on [low, high] (one per observation, one prior).
struct Mixture {
  std::vector<double> w, mu, sigma, mass;  // mass: each component's probability inside [low, high]
  double low = 0, high = 0;
  std::optional<double> q;

  double Sample(std::mt19937_64& rng) const {
    std::discrete_distribution<size_t> pick(w.begin(), w.end());
    const size_t k = pick(rng);
    return TruncatedNormal(mu[k], sigma[k], low, high, rng);
  }

  double LogDensity(double x) const {
    if (q) {  // the probability of the value's own interval
      const double lo = std::max(x - 0.5 * *q, low), hi = std::min(x + 0.5 * *q, high);
      double p = 0;
      for (size_t k = 0; k < w.size(); ++k) {
        p += w[k] * NormalMass(lo, hi, mu[k], sigma[k]) / mass[k];
      }
      return std::log(std::max(p, kMinMass));
    }
    double best = -std::numeric_limits<double>::infinity();
    std::vector<double> terms(w.size());
    for (size_t k = 0; k < w.size(); ++k) {
      const double z = (x - mu[k]) / sigma[k];
      terms[k] = std::log(w[k]) - 0.5 * z * z - std::log(sigma[k] * std::sqrt(2 * M_PI) * mass[k]);
      best = std::max(best, terms[k]);
    }
    double sum = 0;
    for (double t : terms) sum += std::exp(t - best);
    return best + std::log(sum);
  }
};

// Optuna 3.1's default_weights: the newest 25 observations count fully, older ones less.
std::vector<double> ObservationWeights(size_t n) {
  std::vector<double> w(n, 1.0);
  if (n < 25) return w;
  const size_t ramp = n - 25;
  for (size_t i = 0; i < ramp; ++i) {
    w[i] = ramp == 1 ? 1.0 / static_cast<double>(n)
                     : 1.0 / static_cast<double>(n) + (1.0 - 1.0 / static_cast<double>(n)) * static_cast<double>(i) /
                                                          static_cast<double>(ramp - 1);
  }
  return w;
}

Mixture FitMixture(const std::vector<double>& xs, const Axis& a, double prior_weight) {
  Mixture m;
  m.low = a.low;
  m.high = a.high;
  m.q = a.q;
  const double range = a.high - a.low;
  std::vector<double> mus = xs;
  mus.push_back(0.5 * (a.low + a.high));  // the prior, last
  const size_t n = mus.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return mus[i] < mus[j]; });
  std::vector<double> ends{a.low};
  for (size_t i : order) ends.push_back(mus[i]);
  ends.push_back(a.high);
  std::vector<double> sorted_sigma(n);
  for (size_t i = 0; i < n; ++i) sorted_sigma[i] = std::max(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
  if (ends.size() >= 4) {  // the outermost components look inwards only (consider_endpoints=False)
    sorted_sigma[0] = ends[2] - ends[1];
    sorted_sigma[n - 1] = ends[n] - ends[n - 1];
  }
  m.sigma.assign(n, 0);
  for (size_t r = 0; r < n; ++r) m.sigma[order[r]] = sorted_sigma[r];
  const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(n));
  for (double& s : m.sigma) s = std::clamp(s, min_sigma, range);
  m.sigma[n - 1] = range;
  m.mu = mus;
  m.w = ObservationWeights(xs.size());
  m.w.push_back(prior_weight);
  const double total = std::accumulate(m.w.begin(), m.w.end(), 0.0);
  for (double& w : m.w) w /= total;
  m.mass.resize(n);
  for (size_t k = 0; k < n; ++k) {
    m.mass[k] = std::max(NormalMass(a.low, a.high, m.mu[k], m.sigma[k]), kMinMass);
  }
  return m;
}

// Probability of each choice under Optuna 3.1's categorical Parzen estimator.
std::vector<double> ChoiceProbabilities(const std::vector<size_t>& picks, size_t n_choices, double prior_weight) {
  const size_t n = picks.size();
  const std::vector<double> obs_w = ObservationWeights(n);
  const double smoothing = prior_weight / static_cast<double>(n + 1);
  std::vector<double> component_w(obs_w);
  component_w.push_back(prior_weight);
  const double total_w = std::accumulate(component_w.begin(), component_w.end(), 0.0);
  std::vector<double> p(n_choices, 0.0);
  for (size_t k = 0; k <= n; ++k) {
    const double wk = component_w[k] / total_w;
    // Component k: `smoothing` on every choice, plus 1 on its own observation.
    const double row_total = smoothing * static_cast<double>(n_choices) + (k < n ? 1.0 : 0.0);
    for (size_t c = 0; c < n_choices; ++c) {
      const double cell = smoothing + (k < n && picks[k] == c ? 1.0 : 0.0);
      p[c] += wk * cell / row_total;
    }
  }
  return p;
}

// Multivariate TPE: a mixture whose component k is observation k in every dimension at
// once (plus a prior component), bandwidths by Scott's rule: bandwidth * range * n^(-1/(d+4)).
class JointMixture {
 public:
  JointMixture(const Sweep& sweep, const std::vector<const json*>& points, double prior_weight, double bandwidth,
               double min_width)
      : sweep_(sweep) {
    const size_t n = points.size();
    w_ = ObservationWeights(n);
    w_.push_back(prior_weight);
    const double total = std::accumulate(w_.begin(), w_.end(), 0.0);
    for (double& w : w_) w /= total;
    const double sigma0 = bandwidth * std::pow(static_cast<double>(std::max<size_t>(n, 1)),
                                               -1.0 / (static_cast<double>(sweep.space.size()) + 4));
    for (const Dimension& d : sweep.space) {
      Dim dim;
      if (d.kind == Dimension::Kind::kChoice) {
        std::vector<size_t> picks;
        for (const json* p : points) {
          auto it = std::find(d.choices.begin(), d.choices.end(), p->at(d.key));
          picks.push_back(it == d.choices.end() ? 0 : static_cast<size_t>(it - d.choices.begin()));
        }
        const double smoothing = prior_weight / static_cast<double>(n + 1);
        for (size_t k = 0; k <= n; ++k) {
          std::vector<double> row(d.choices.size(), smoothing);
          if (k < n) row[picks[k]] += 1.0;
          const double sum = std::accumulate(row.begin(), row.end(), 0.0);
          for (double& r : row) r /= sum;
          dim.rows.push_back(std::move(row));
        }
      } else {
        dim.axis = MakeAxis(d);
        const double range = dim.axis.high - dim.axis.low;
        for (const json* p : points) dim.mu.push_back(ToAxis(dim.axis, p->at(d.key).get<double>()));
        // Scott's rule, floored at a small share of the range. (Optuna's floor, range / (n + 2),
        // is wider than Scott's rule for the few good trials and blurs exactly that model.)
        const double width = std::clamp(sigma0 * range, min_width * range, range);
        for (size_t k = 0; k < n; ++k) dim.sigma.push_back(width);
        dim.mu.push_back(0.5 * (dim.axis.low + dim.axis.high));
        dim.sigma.push_back(range);
        for (size_t k = 0; k <= n; ++k) {
          dim.mass.push_back(std::max(NormalMass(dim.axis.low, dim.axis.high, dim.mu[k], dim.sigma[k]), kMinMass));
        }
      }
      dims_.push_back(std::move(dim));
    }
    Precompute();
  }

  // A point in axis coordinates (choices as their index).
  std::vector<double> Sample(std::mt19937_64& rng) const {
    std::discrete_distribution<size_t> pick(w_.begin(), w_.end());
    const size_t k = pick(rng);
    std::vector<double> x;
    for (size_t i = 0; i < dims_.size(); ++i) {
      const Dim& dim = dims_[i];
      if (!dim.rows.empty()) {
        std::discrete_distribution<size_t> c(dim.rows[k].begin(), dim.rows[k].end());
        x.push_back(static_cast<double>(c(rng)));
        continue;
      }
      const double v = TruncatedNormal(dim.mu[k], dim.sigma[k], dim.axis.low, dim.axis.high, rng);
      x.push_back(dim.axis.q ? Quantize(sweep_.space[i], *dim.axis.q, v) : v);
    }
    return x;
  }

  double LogDensity(const std::vector<double>& x) const {
    std::vector<double>& terms = terms_;
    terms.resize(w_.size());
    double best = -std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < w_.size(); ++k) {
      double t = log_w_[k];  // the weight and every continuous dimension's normalization
      for (size_t i = 0; i < dims_.size(); ++i) {
        const Dim& dim = dims_[i];
        if (!dim.rows.empty()) {
          t += dim.log_rows[k][static_cast<size_t>(x[i])];
        } else if (dim.axis.q) {
          const double lo = std::max(x[i] - 0.5 * *dim.axis.q, dim.axis.low);
          const double hi = std::min(x[i] + 0.5 * *dim.axis.q, dim.axis.high);
          const double p = NormalMass(lo, hi, dim.mu[k], dim.sigma[k]) / dim.mass[k];
          t += std::log(std::max(p, kMinMass));
        } else {
          const double z = (x[i] - dim.mu[k]) / dim.sigma[k];
          t -= 0.5 * z * z;
        }
      }
      terms[k] = t;
      best = std::max(best, t);
    }
    double sum = 0;
    for (double t : terms) sum += std::exp(t - best);
    return best + std::log(sum);
  }

  json ToPoint(const std::vector<double>& x) const {
    json point = json::object();
    for (size_t i = 0; i < dims_.size(); ++i) {
      const Dimension& d = sweep_.space[i];
      point[d.key] = dims_[i].rows.empty() ? FromAxis(d, dims_[i].axis, x[i]) : d.choices[static_cast<size_t>(x[i])];
    }
    return point;
  }

 private:
  struct Dim {
    Axis axis;
    std::vector<double> mu, sigma, mass;        // numeric
    std::vector<std::vector<double>> rows;      // categorical: probabilities per component
    std::vector<std::vector<double>> log_rows;  // their logarithms
  };

  // The parts of each component's log density that do not depend on the point.
  void Precompute() {
    log_w_.resize(w_.size());
    for (size_t k = 0; k < w_.size(); ++k) {
      log_w_[k] = std::log(w_[k]);
      for (const Dim& dim : dims_) {
        if (dim.rows.empty() && !dim.axis.q) log_w_[k] -= std::log(dim.sigma[k] * std::sqrt(2 * M_PI) * dim.mass[k]);
      }
    }
    for (Dim& dim : dims_) {
      for (const auto& row : dim.rows) {
        std::vector<double> logs(row.size());
        for (size_t c = 0; c < row.size(); ++c) logs[c] = std::log(row[c]);
        dim.log_rows.push_back(std::move(logs));
      }
    }
  }

  const Sweep& sweep_;
  std::vector<double> log_w_;
  mutable std::vector<double> terms_;  // scratch for LogDensity
  std::vector<double> w_;
  std::vector<Dim> dims_;
};

}  // namespace

std::mt19937_64 TrialRng(uint64_t seed, int64_t number) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(number + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return std::mt19937_64(z ^ (z >> 31));
}

int64_t GridSize(const Sweep& sweep) {
  int64_t total = 1;
  for (const Dimension& d : sweep.space) {
    const int64_t n = d.Cardinality();
    if (n <= 0) return 0;
    if (total > std::numeric_limits<int64_t>::max() / n) return std::numeric_limits<int64_t>::max();
    total *= n;
  }
  return total;
}

std::optional<json> SampleGrid(const Sweep& sweep, const std::set<std::string>& used, int64_t& next) {
  const int64_t size = GridSize(sweep);
  for (; next < size; ++next) {
    json point = json::object();
    int64_t rest = next;
    for (size_t i = sweep.space.size(); i-- > 0;) {  // the last dimension varies fastest
      const Dimension& d = sweep.space[i];
      point[d.key] = d.ValueAt(rest % d.Cardinality());
      rest /= d.Cardinality();
    }
    if (!used.count(point.dump())) return point;
  }
  return std::nullopt;
}

json SampleRandom(const Sweep& sweep, std::mt19937_64& rng) {
  json point = json::object();
  for (const Dimension& d : sweep.space) point[d.key] = SampleOne(d, rng);
  return point;
}

json SampleTpe(const Sweep& sweep, const std::vector<Observation>& history, const TpeOptions& options,
               std::mt19937_64& rng) {
  if (static_cast<int64_t>(history.size()) < options.startup_trials || history.empty()) {
    return SampleRandom(sweep, rng);
  }
  // Rank: finished trials by their objective, then pruned ones (those that got further
  // first). The best gamma(n) = min(ceil(n / 10), 25) are "below", the rest "above".
  std::vector<size_t> ranked(history.size());
  std::iota(ranked.begin(), ranked.end(), 0);
  auto loss = [&](const Observation& o) { return sweep.maximize ? -o.value : o.value; };
  std::stable_sort(ranked.begin(), ranked.end(), [&](size_t i, size_t j) {
    const Observation &a = history[i], &b = history[j];
    if (a.pruned != b.pruned) return !a.pruned;
    if (a.pruned && a.step != b.step) return a.step > b.step;
    return loss(a) < loss(b);
  });
  const size_t n_below =
      std::min<size_t>(static_cast<size_t>(std::ceil(0.1 * static_cast<double>(history.size()))), 25);
  std::vector<bool> is_below(history.size(), false);
  for (size_t r = 0; r < n_below; ++r) is_below[ranked[r]] = true;

  if (options.multivariate) {
    std::vector<const json*> below, above;
    for (size_t i = 0; i < history.size(); ++i) {
      const bool complete = std::all_of(sweep.space.begin(), sweep.space.end(), [&](const Dimension& d) {
        return history[i].params.contains(d.key) && d.Contains(history[i].params.at(d.key));
      });
      if (complete) (is_below[i] ? below : above).push_back(&history[i].params);
    }
    const JointMixture l(sweep, below, options.prior_weight, options.bandwidth, options.min_bandwidth);
    const JointMixture g(sweep, above, options.prior_weight, options.bandwidth, options.min_bandwidth);
    std::vector<double> best_x;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < options.n_ei_candidates; ++c) {
      std::vector<double> x = l.Sample(rng);
      const double score = l.LogDensity(x) - g.LogDensity(x);
      if (best_x.empty() || score > best_score) {
        best_score = score;
        best_x = std::move(x);
      }
    }
    return l.ToPoint(best_x);
  }

  json point = json::object();
  for (const Dimension& d : sweep.space) {
    // Observations of this dimension, oldest first, split into below and above.
    if (d.kind == Dimension::Kind::kChoice) {
      std::vector<size_t> below, above;
      for (size_t i = 0; i < history.size(); ++i) {
        if (!history[i].params.contains(d.key)) continue;
        auto it = std::find(d.choices.begin(), d.choices.end(), history[i].params.at(d.key));
        if (it == d.choices.end()) continue;
        (is_below[i] ? below : above).push_back(static_cast<size_t>(it - d.choices.begin()));
      }
      const std::vector<double> l = ChoiceProbabilities(below, d.choices.size(), options.prior_weight);
      const std::vector<double> g = ChoiceProbabilities(above, d.choices.size(), options.prior_weight);
      std::discrete_distribution<size_t> draw(l.begin(), l.end());
      size_t best = 0;
      double best_score = -std::numeric_limits<double>::infinity();
      for (int c = 0; c < options.n_ei_candidates; ++c) {
        const size_t k = draw(rng);
        const double score = std::log(l[k]) - std::log(g[k]);
        if (score > best_score) {
          best_score = score;
          best = k;
        }
      }
      point[d.key] = d.choices[best];
      continue;
    }
    const Axis axis = MakeAxis(d);
    std::vector<double> below, above;
    for (size_t i = 0; i < history.size(); ++i) {
      if (!history[i].params.contains(d.key) || !history[i].params.at(d.key).is_number()) continue;
      (is_below[i] ? below : above).push_back(ToAxis(axis, history[i].params.at(d.key).get<double>()));
    }
    const Mixture l = FitMixture(below, axis, options.prior_weight);
    const Mixture g = FitMixture(above, axis, options.prior_weight);
    double best_x = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < options.n_ei_candidates; ++c) {
      double x = l.Sample(rng);
      if (axis.q) x = Quantize(d, *axis.q, x);
      const double score = l.LogDensity(x) - g.LogDensity(x);
      if (score > best_score) {
        best_score = score;
        best_x = x;
      }
    }
    point[d.key] = FromAxis(d, axis, best_x);
  }
  return point;
}

}  // namespace sluice::sweep
