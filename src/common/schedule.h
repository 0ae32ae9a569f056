#pragma once
// The learning-rate schedule shared by the training loops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace rawmed {

// Share of a run done, in [0, 1]: steps done of the planned steps or, under a wall-clock budget
// (--max-minutes; budget_seconds > 0), the share of the budget spent when that is larger. A cosine
// schedule driven by it reaches its floor by the deadline instead of being cut off at a high rate.
// (Under a budget the rate depends on the machine's speed, so such runs are not bit-reproducible.)
inline double run_progress(int64_t step, int64_t total_steps, double elapsed_seconds, double budget_seconds) {
  double progress = double(step) / double(std::max<int64_t>(1, total_steps));
  if (budget_seconds > 0) progress = std::max(progress, elapsed_seconds / budget_seconds);
  return std::clamp(progress, 0.0, 1.0);
}

// Cosine decay from lr (progress 0) to min_ratio * lr (progress 1).
inline double cosine_lr(double lr, double min_ratio, double progress) {
  return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
}

}  // namespace rawmed
