#pragma once
// The statistics every evaluation section shares. Inputs hold no nulls unless said otherwise;
// functions that cannot be computed (empty input, constant column) return NaN.
#include <cstdint>
#include <span>
#include <vector>

namespace rawmed::eval {

// Two-sample Kolmogorov-Smirnov statistic: sup |F_a(x) - F_b(x)| (scipy.stats.ks_2samp's D).
double ks_statistic(std::vector<double> a, std::vector<double> b);
// Same, for inputs already sorted ascending.
double ks_statistic_sorted(std::span<const double> a, std::span<const double> b);

// Jensen-Shannon distance, base 2 (so in [0, 1]): sqrt of the JS divergence between the two
// count vectors after normalising each (same length; index = category). 1 when either is all zero.
double js_distance(std::span<const double> counts_p, std::span<const double> counts_q);
// Same for two samples of category ids (>= 0; negative ids are nulls and ignored).
double js_distance_ids(std::span<const int32_t> a, std::span<const int32_t> b);

// Pearson correlation of paired samples.
double pearson(std::span<const double> x, std::span<const double> y);

// Correlation ratio eta of a numeric variable given a categorical one (category ids >= 0):
// sqrt(between-group sum of squares / total sum of squares); 0 for a constant variable.
double correlation_ratio(std::span<const int32_t> categories, std::span<const double> values);

// Theil's uncertainty coefficient U(x|y) = (H(x) - H(x|y)) / H(x): how much knowing y tells about
// x, in [0, 1], asymmetric; 1 when x is constant (dython's convention).
double theils_u(std::span<const int32_t> x, std::span<const int32_t> y);

// Area under the ROC curve of scores (higher = positive) against 0/1 labels, ties counted half
// (Mann-Whitney U / (n_pos n_neg)). NaN scores are left out; NaN when a class is absent after that.
double auroc(std::span<const double> scores, std::span<const uint8_t> labels);

// Maps arbitrary non-negative ids to 0..k-1 (first-seen order) so counts can use small arrays;
// negative ids stay -1. Returns k.
int32_t compact_ids(std::vector<int32_t>& ids);

double mean(std::span<const double> values);  // ignores NaN; NaN when none left
double quantile(std::vector<double> values, double q);  // linear interpolation; NaN when empty

}  // namespace rawmed::eval
