#include "evaluate/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace rawmed::eval {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double entropy_of_counts(const std::vector<double>& counts, double total) {
  double h = 0;
  for (double c : counts)
    if (c > 0) h -= (c / total) * std::log(c / total);
  return h;
}
}  // namespace

double ks_statistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return ks_statistic_sorted(a, b);
}

double ks_statistic_sorted(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty()) return kNaN;
  // Walk both sorted samples; at each distinct value compare the two empirical CDFs.
  size_t i = 0, j = 0;
  double d = 0;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  while (i < a.size() && j < b.size()) {
    double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(i / na - j / nb));
  }
  return d;  // once one side is exhausted the gap only shrinks toward 0
}

double js_distance(std::span<const double> p, std::span<const double> q) {
  double sp = 0, sq = 0;
  for (double v : p) sp += v;
  for (double v : q) sq += v;
  if (sp <= 0 || sq <= 0) return 1.0;
  double div = 0;
  for (size_t k = 0; k < p.size(); ++k) {
    double pk = p[k] / sp, qk = q[k] / sq, m = 0.5 * (pk + qk);
    if (pk > 0) div += 0.5 * pk * std::log2(pk / m);
    if (qk > 0) div += 0.5 * qk * std::log2(qk / m);
  }
  return std::sqrt(std::clamp(div, 0.0, 1.0));
}

double js_distance_ids(std::span<const int32_t> a, std::span<const int32_t> b) {
  std::unordered_map<int32_t, size_t> slot;
  std::vector<double> p, q;
  auto add = [&](int32_t id, bool to_p) {
    if (id < 0) return;
    auto [it, fresh] = slot.try_emplace(id, p.size());
    if (fresh) {
      p.push_back(0);
      q.push_back(0);
    }
    (to_p ? p : q)[it->second] += 1;
  };
  for (int32_t id : a) add(id, true);
  for (int32_t id : b) add(id, false);
  return js_distance(p, q);
}

double pearson(std::span<const double> x, std::span<const double> y) {
  size_t n = std::min(x.size(), y.size());
  if (n < 2) return kNaN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= n;
  my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 0 || syy <= 0) return kNaN;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

double correlation_ratio(std::span<const int32_t> categories, std::span<const double> values) {
  size_t n = std::min(categories.size(), values.size());
  if (n == 0) return kNaN;
  std::unordered_map<int32_t, std::pair<double, double>> groups;  // id -> (sum, count)
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    auto& g = groups[categories[i]];
    g.first += values[i];
    g.second += 1;
    total += values[i];
  }
  double grand = total / n, between = 0, all = 0;
  for (auto& [id, g] : groups) between += g.second * std::pow(g.first / g.second - grand, 2);
  for (size_t i = 0; i < n; ++i) all += std::pow(values[i] - grand, 2);
  if (all <= 0) return 0.0;
  return std::sqrt(std::clamp(between / all, 0.0, 1.0));
}

double theils_u(std::span<const int32_t> x, std::span<const int32_t> y) {
  size_t n = std::min(x.size(), y.size());
  if (n == 0) return kNaN;
  std::unordered_map<int32_t, double> cx;
  std::unordered_map<int64_t, double> cxy;
  std::unordered_map<int32_t, double> cy;
  for (size_t i = 0; i < n; ++i) {
    cx[x[i]] += 1;
    cy[y[i]] += 1;
    cxy[(static_cast<int64_t>(x[i]) << 32) | static_cast<uint32_t>(y[i])] += 1;
  }
  std::vector<double> counts;
  for (auto& [k, c] : cx) counts.push_back(c);
  double hx = entropy_of_counts(counts, n);
  if (hx <= 0) return 1.0;
  // H(x|y) = sum over (x, y) of p(x, y) log(p(y) / p(x, y))
  double hxy = 0;
  for (auto& [key, c] : cxy) {
    double py = cy[static_cast<int32_t>(key & 0xffffffff)] / n, pxy = c / n;
    hxy += pxy * std::log(py / pxy);
  }
  return std::clamp((hx - hxy) / hx, 0.0, 1.0);
}

double auroc(std::span<const double> scores, std::span<const uint8_t> labels) {
  // NaN scores (e.g. distances to an empty set) carry no ranking: they are left out. NaN breaks
  // both the sort's ordering and the tie walk (NaN == NaN is false), so keeping them would hang.
  size_t n = 0;
  std::vector<size_t> order;
  for (size_t i = 0; i < std::min(scores.size(), labels.size()); ++i)
    if (!std::isnan(scores[i])) order.push_back(i);
  n = order.size();
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of positive ranks (average ranks for ties).
  double rank_sum = 0, pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    double avg_rank = 0.5 * (i + 1 + j);
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]]) rank_sum += avg_rank, pos += 1;
    i = j;
  }
  double neg = n - pos;
  if (pos == 0 || neg == 0) return kNaN;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

int32_t compact_ids(std::vector<int32_t>& ids) {
  std::unordered_map<int32_t, int32_t> map;
  for (auto& id : ids) {
    if (id < 0) {
      id = -1;
      continue;
    }
    auto [it, fresh] = map.try_emplace(id, static_cast<int32_t>(map.size()));
    id = it->second;
  }
  return static_cast<int32_t>(map.size());
}

double mean(std::span<const double> values) {
  double sum = 0;
  size_t n = 0;
  for (double v : values)
    if (!std::isnan(v)) sum += v, ++n;
  return n ? sum / n : kNaN;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  double pos = q * (values.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - lo) * (values[hi] - values[lo]);
}

}  // namespace rawmed::eval
