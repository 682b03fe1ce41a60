// Learning rate per optimizer step: an optional linear warm-up, then a constant, step or
// cosine schedule. Stateless (a function of the step), so a resumed run continues it.
#ifndef SLUICE_PLUGINS_TRAINER_SCHEDULE_HPP_
#define SLUICE_PLUGINS_TRAINER_SCHEDULE_HPP_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace sluice::trainer {

struct Schedule {
  std::string kind = "none";  // none | step | cosine | linear
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t steps_per_epoch = 1;
  int64_t total_steps = 1;
  int64_t step_size = 10;  // epochs between decays (step)
  double gamma = 0.1;      // decay factor (step)
  double min_lr = 0.0;     // floor (cosine)

  // `step` counts optimizer steps from 0.
  double LearningRate(int64_t step) const {
    double lr = base_lr;
    if (kind == "step") {
      lr = base_lr * std::pow(gamma, static_cast<double>(step / steps_per_epoch / std::max<int64_t>(step_size, 1)));
    } else if (kind == "linear") {  // decay to 0 at the last step, after the warm-up
      const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1));
      lr = base_lr * std::clamp(static_cast<double>(total_steps - step) / span, 0.0, 1.0);
    } else if (kind == "cosine") {
      const double progress =
          std::clamp(static_cast<double>(step) / static_cast<double>(std::max<int64_t>(total_steps, 1)), 0.0, 1.0);
      lr = min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    if (warmup_steps > 0 && step < warmup_steps)
      lr *= static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    return lr;
  }
};

}  // namespace sluice::trainer

#endif  // SLUICE_PLUGINS_TRAINER_SCHEDULE_HPP_
