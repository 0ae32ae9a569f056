// The learning-rate schedule shared by the training loops (src/common/schedule.h).
#include "common/schedule.h"

#include <gtest/gtest.h>

namespace rawmed {

TEST(Schedule, ProgressCountsStepsWithoutABudget) {
  EXPECT_DOUBLE_EQ(run_progress(0, 100, 1e6, 0), 0.0);
  EXPECT_DOUBLE_EQ(run_progress(25, 100, 1e6, 0), 0.25);
  EXPECT_DOUBLE_EQ(run_progress(150, 100, 0, 0), 1.0);  // past the plan: clamped
  EXPECT_DOUBLE_EQ(run_progress(3, 0, 0, 0), 1.0);      // no planned steps
}

TEST(Schedule, ABudgetSpentFasterThanTheStepsEndsTheScheduleAtTheDeadline) {
  EXPECT_DOUBLE_EQ(run_progress(10, 100, 30, 60), 0.5);   // half the budget, a tenth of the steps
  EXPECT_DOUBLE_EQ(run_progress(90, 100, 30, 60), 0.9);   // steps ahead of the clock
  EXPECT_DOUBLE_EQ(run_progress(10, 100, 61, 60), 1.0);   // past the deadline
}

TEST(Schedule, CosineGoesFromTheRateToItsFloor) {
  EXPECT_DOUBLE_EQ(cosine_lr(2e-3, 0.05, 0.0), 2e-3);
  EXPECT_NEAR(cosine_lr(2e-3, 0.05, 0.5), 2e-3 * 0.525, 1e-15);
  EXPECT_NEAR(cosine_lr(2e-3, 0.05, 1.0), 1e-4, 1e-15);
  EXPECT_GT(cosine_lr(1, 0, 0.3), cosine_lr(1, 0, 0.6));
}

}  // namespace rawmed
