// Shared evaluation statistics against hand-computed values.
#include "evaluate/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace rawmed::eval {

TEST(Metrics, KsStatistic) {
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3, 4}, {3, 4, 5, 6}), 0.5);
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3}, {4, 5}), 1.0);
  EXPECT_NEAR(ks_statistic({1, 1, 2}, {1, 2, 2}), 1.0 / 3, 1e-12);  // ties: CDFs compared after each value
  EXPECT_DOUBLE_EQ(ks_statistic({3, 1, 2}, {2, 3, 1}), 0.0);
  EXPECT_TRUE(std::isnan(ks_statistic({}, {1})));
}

TEST(Metrics, JensenShannonDistanceBase2) {
  std::vector<double> p{1, 0}, q{0, 1}, u{1, 1};
  EXPECT_DOUBLE_EQ(js_distance(p, q), 1.0);
  EXPECT_DOUBLE_EQ(js_distance(u, u), 0.0);
  // m = (0.75, 0.25): JSD = (log2(4/3) + 0.5 log2(2/3) + 0.5) / 2 = 0.311278; distance = sqrt = 0.557923.
  EXPECT_NEAR(js_distance(p, u), 0.557923, 1e-6);
  std::vector<int32_t> a{5, 5, -1}, b{5, 9};  // ids; -1 ignored
  EXPECT_NEAR(js_distance_ids(a, b), 0.557923, 1e-6);
  EXPECT_DOUBLE_EQ(js_distance(p, std::vector<double>{0, 0}), 1.0);
}

TEST(Metrics, TheilsUIsAsymmetric) {
  std::vector<int32_t> x{0, 0, 1, 1}, y{0, 0, 0, 1};
  // H(x) = ln 2, H(x|y) = 0.75 * H(2/3, 1/3) -> U(x|y) = 0.311278; U(y|x) = 0.383689.
  EXPECT_NEAR(theils_u(x, y), 0.311278, 1e-6);
  EXPECT_NEAR(theils_u(y, x), 0.383689, 1e-6);
  EXPECT_DOUBLE_EQ(theils_u(x, x), 1.0);
  std::vector<int32_t> z{0, 1, 0, 1};
  EXPECT_NEAR(theils_u(x, z), 0.0, 1e-12);
  std::vector<int32_t> constant{3, 3, 3, 3};
  EXPECT_DOUBLE_EQ(theils_u(constant, x), 1.0);
}

TEST(Metrics, CorrelationRatio) {
  std::vector<int32_t> cats{0, 0, 1, 1};
  std::vector<double> values{1, 3, 5, 7};
  EXPECT_NEAR(correlation_ratio(cats, values), std::sqrt(0.8), 1e-12);  // between 16 / total 20
  std::vector<double> separated{1, 1, 5, 5};
  EXPECT_DOUBLE_EQ(correlation_ratio(cats, separated), 1.0);
  std::vector<double> flat{2, 2, 2, 2};
  EXPECT_DOUBLE_EQ(correlation_ratio(cats, flat), 0.0);
}

TEST(Metrics, Pearson) {
  std::vector<double> x{1, 2, 3, 4}, y{1, 3, 2, 4}, z{8, 6, 4, 2};
  EXPECT_NEAR(pearson(x, y), 0.8, 1e-12);
  EXPECT_NEAR(pearson(x, z), -1.0, 1e-12);
  std::vector<double> flat{1, 1, 1, 1};
  EXPECT_TRUE(std::isnan(pearson(x, flat)));
}

TEST(Metrics, Auroc) {
  std::vector<double> scores{0.1, 0.4, 0.35, 0.8};
  std::vector<uint8_t> labels{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(auroc(scores, labels), 0.75);  // 3 of 4 positive-negative pairs ordered
  std::vector<double> ties{0.5, 0.5, 0.5};
  std::vector<uint8_t> mixed{0, 1, 1};
  EXPECT_DOUBLE_EQ(auroc(ties, mixed), 0.5);
  std::vector<uint8_t> one_class{1, 1, 1};
  EXPECT_TRUE(std::isnan(auroc(ties, one_class)));
}

// Regression: NaN scores (distances to an empty candidate) made the tie walk loop forever.
TEST(Metrics, AurocLeavesOutNanScores) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> scores{0.1, nan, 0.4, 0.35, nan, 0.8};
  std::vector<uint8_t> labels{0, 1, 0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(auroc(scores, labels), 0.75);  // the four finite scores of the test above
  std::vector<double> all_nan{nan, nan, nan};
  std::vector<uint8_t> mixed{0, 1, 1};
  EXPECT_TRUE(std::isnan(auroc(all_nan, mixed)));
}

TEST(Metrics, QuantileAndMean) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5}, 0.25), 2.0);
  std::vector<double> v{1, NAN, 3};
  EXPECT_DOUBLE_EQ(mean(v), 2.0);
}

}  // namespace rawmed::eval
