// Privacy per stay, across all tables.
//
// Stay distance: each stay becomes a vector with three entries per feature item (the
// `privacy_items` (table, item) pairs present in the most train stays): log(1 + number of the
// item's events), the mean z-score of the item's values in its table's first numeric column
// (train mean and sd of that item, clipped to +-5; 0 when absent), and the mean event time as a
// fraction of the window (0 when absent). The distance between two stays is the Euclidean distance
// of their vectors. DCR (distance to closest record) of a stay is its distance to the nearest
// stay of a reference set.
//
// Exact copies compare whole rows: an event is (table, minute, every modelled value); a stay is
// the multiset of its events.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

#include <algorithm>
#include <bit>
#include <map>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace rawmed::eval {

namespace {

struct FeatureSpace {
  std::map<std::pair<std::string, int32_t>, size_t> index;  // (table name, item id) -> feature
  std::vector<double> mean, sd;                               // per feature, of the primary numeric value
  double window_minutes = 720;
  size_t dims() const { return index.size() * 3; }
};

int primary_numeric(const Table& t) {
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (t.columns[c].is_numeric() && static_cast<int>(c) != t.item) return static_cast<int>(c);
  return -1;
}

int32_t row_item(const Table& t, size_t r) { return t.item >= 0 ? t.columns[t.item].ids[r] : -2; }

FeatureSpace build_features(const Database& train, int k) {
  std::unordered_set<int64_t> seen;
  std::map<std::pair<std::string, int32_t>, int64_t> stays;
  for (size_t ti = 0; ti < train.tables.size(); ++ti) {
    const Table& t = train.tables[ti];
    for (size_t r = 0; r < t.rows(); ++r) {
      int32_t item = row_item(t, r);
      if (item == -1) continue;
      int64_t key = (static_cast<int64_t>(ti) << 56) ^ (static_cast<int64_t>(item + 2) << 24) ^ t.stay[r];
      if (seen.insert(key).second) ++stays[{t.name(), item}];
    }
  }
  std::vector<std::pair<int64_t, std::pair<std::string, int32_t>>> order;
  for (auto& [key, n] : stays) order.push_back({-n, key});
  std::sort(order.begin(), order.end());
  FeatureSpace space;
  space.window_minutes = std::max(1, train.schema.window_hours) * 60.0;
  for (size_t i = 0; i < order.size() && static_cast<int>(i) < k; ++i) space.index[order[i].second] = i;
  size_t f = space.index.size();
  std::vector<double> sum(f, 0), sum2(f, 0), n(f, 0);
  for (const auto& t : train.tables) {
    int c = primary_numeric(t);
    if (c < 0) continue;
    for (size_t r = 0; r < t.rows(); ++r) {
      auto it = space.index.find({t.name(), row_item(t, r)});
      double v = t.columns[c].values[r];
      if (it == space.index.end() || std::isnan(v)) continue;
      sum[it->second] += v, sum2[it->second] += v * v, n[it->second] += 1;
    }
  }
  space.mean.resize(f);
  space.sd.resize(f);
  for (size_t i = 0; i < f; ++i) {
    space.mean[i] = n[i] ? sum[i] / n[i] : 0;
    double var = n[i] ? sum2[i] / n[i] - space.mean[i] * space.mean[i] : 0;
    space.sd[i] = var > 1e-12 ? std::sqrt(var) : 1.0;
  }
  return space;
}

// Row-major [stays][dims] vectors of the chosen stays.
std::vector<float> stay_vectors(const Database& db, const FeatureSpace& space, const std::vector<int32_t>& stays) {
  size_t f = space.index.size(), d = space.dims();
  std::vector<float> out(stays.size() * d, 0.f);
  std::vector<double> count(f), zsum(f), zn(f), tsum(f);
  std::vector<int> table_numeric(db.tables.size());
  for (size_t t = 0; t < db.tables.size(); ++t) table_numeric[t] = primary_numeric(db.tables[t]);
  for (size_t i = 0; i < stays.size(); ++i) {
    std::fill(count.begin(), count.end(), 0);
    std::fill(zsum.begin(), zsum.end(), 0);
    std::fill(zn.begin(), zn.end(), 0);
    std::fill(tsum.begin(), tsum.end(), 0);
    for (const auto& e : db.stay_events(stays[i])) {
      const Table& t = db.tables[e.table];
      auto it = space.index.find({t.name(), row_item(t, e.row)});
      if (it == space.index.end()) continue;
      size_t k = it->second;
      count[k] += 1;
      tsum[k] += e.minute / space.window_minutes;
      int c = table_numeric[e.table];
      if (c >= 0 && !std::isnan(t.columns[c].values[e.row])) {
        zsum[k] += std::clamp((t.columns[c].values[e.row] - space.mean[k]) / space.sd[k], -5.0, 5.0);
        zn[k] += 1;
      }
    }
    float* v = &out[i * d];
    for (size_t k = 0; k < f; ++k) {
      v[3 * k] = static_cast<float>(std::log1p(count[k]));
      v[3 * k + 1] = zn[k] ? static_cast<float>(zsum[k] / zn[k]) : 0.f;
      v[3 * k + 2] = count[k] ? static_cast<float>(tsum[k] / count[k]) : 0.f;
    }
  }
  return out;
}

// Distance from each query vector to its nearest reference vector.
std::vector<double> nearest_distances(const std::vector<float>& query, const std::vector<float>& reference, size_t d) {
  size_t nq = d ? query.size() / d : 0, nr = d ? reference.size() / d : 0;
  std::vector<double> out(nq, nr ? INFINITY : NAN);
  for (size_t i = 0; i < nq; ++i) {
    const float* q = &query[i * d];
    float best = INFINITY;
    for (size_t j = 0; j < nr; ++j) {
      const float* r = &reference[j * d];
      float s = 0;
      for (size_t k = 0; k < d && s < best; k += 8) {
        size_t end = std::min(d, k + 8);
        for (size_t m = k; m < end; ++m) s += (q[m] - r[m]) * (q[m] - r[m]);
      }
      best = std::min(best, s);
    }
    if (nr) out[i] = std::sqrt(static_cast<double>(best));
  }
  return out;
}

std::vector<int32_t> sample_stays(size_t n, int64_t max, std::mt19937_64& rng) {
  std::vector<int32_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = static_cast<int32_t>(i);
  if (max > 0 && n > static_cast<size_t>(max)) {
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(max);
    std::sort(all.begin(), all.end());
  }
  return all;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 29);
}

// Hash of one row as an event: table name, minute and every modelled value.
uint64_t event_hash(const Table& t, size_t r) {
  uint64_t h = std::hash<std::string>{}(t.name());
  h = mix(h, static_cast<uint64_t>(t.minute[r]));
  for (const auto& c : t.columns) {
    if (c.is_numeric()) {
      double v = c.values[r];
      h = mix(h, std::isnan(v) ? 0x7ff8dead : std::bit_cast<uint64_t>(v == 0 ? 0.0 : v));
    } else {
      h = mix(h, static_cast<uint64_t>(static_cast<int64_t>(c.ids[r])));
    }
  }
  return h;
}

// Per stay: the hash of the sorted hashes of its events (0 for an empty stay); plus every event hash.
void hash_database(const Database& db, std::vector<uint64_t>& stay_hashes, std::vector<uint64_t>& event_hashes) {
  std::vector<uint64_t> hs;
  for (size_t s = 0; s < db.stays.size(); ++s) {
    hs.clear();
    for (const auto& e : db.stay_events(s)) hs.push_back(event_hash(db.tables[e.table], e.row));
    event_hashes.insert(event_hashes.end(), hs.begin(), hs.end());
    std::sort(hs.begin(), hs.end());
    uint64_t h = 0;
    for (uint64_t v : hs) h = mix(h, v);
    stay_hashes.push_back(hs.empty() ? 0 : h | 1);
  }
}

}  // namespace

nlohmann::json evaluate_privacy(const Database& train, const Database& holdout, const Database& other,
                                const EvalConfig& config) {
  std::mt19937_64 rng(config.seed);
  FeatureSpace space = build_features(train, config.privacy_items);
  auto train_idx = sample_stays(train.stays.size(), config.max_privacy_stays, rng);
  auto holdout_idx = sample_stays(holdout.stays.size(), config.max_privacy_stays, rng);
  auto other_idx = sample_stays(other.stays.size(), config.max_privacy_stays, rng);
  auto v_train = stay_vectors(train, space, train_idx);
  auto v_holdout = stay_vectors(holdout, space, holdout_idx);
  auto v_other = stay_vectors(other, space, other_idx);
  size_t d = space.dims();

  // DCR: other -> train and other -> holdout.
  auto d_train = nearest_distances(v_other, v_train, d);
  auto d_holdout = nearest_distances(v_other, v_holdout, d);
  double closer = 0;
  for (size_t i = 0; i < d_train.size(); ++i)
    closer += d_train[i] < d_holdout[i] ? 1.0 : d_train[i] == d_holdout[i] ? 0.5 : 0.0;
  double n_tr = static_cast<double>(train_idx.size()), n_ho = static_cast<double>(holdout_idx.size());

  // Membership inference: a real stay close to some other stay is called a member.
  auto m_dist = nearest_distances(v_train, v_other, d);
  auto n_dist = nearest_distances(v_holdout, v_other, d);
  std::vector<double> scores;
  std::vector<uint8_t> labels;
  for (double x : m_dist) scores.push_back(-x), labels.push_back(1);
  for (double x : n_dist) scores.push_back(-x), labels.push_back(0);
  double auc = auroc(scores, labels);
  // Accuracy on a balanced set (first min(n) of each side, already random), threshold at the median distance.
  size_t m = std::min(m_dist.size(), n_dist.size());
  std::vector<double> balanced(m_dist.begin(), m_dist.begin() + m);
  balanced.insert(balanced.end(), n_dist.begin(), n_dist.begin() + m);
  double threshold = quantile(balanced, 0.5), correct = 0;
  for (size_t i = 0; i < m; ++i) {
    correct += m_dist[i] < threshold ? 1.0 : m_dist[i] == threshold ? 0.5 : 0.0;
    correct += n_dist[i] > threshold ? 1.0 : n_dist[i] == threshold ? 0.5 : 0.0;
  }
  double accuracy = m ? correct / (2.0 * m) : NAN;

  // Exact copies.
  std::vector<uint64_t> train_stays, train_events, other_stays, other_events;
  hash_database(train, train_stays, train_events);
  hash_database(other, other_stays, other_events);
  std::unordered_set<uint64_t> train_stay_set(train_stays.begin(), train_stays.end());
  std::unordered_set<uint64_t> train_event_set(train_events.begin(), train_events.end());
  train_stay_set.erase(0);
  double stay_copies = 0, nonempty = 0, event_copies = 0;
  for (uint64_t h : other_stays)
    if (h) nonempty += 1, stay_copies += train_stay_set.count(h);
  for (uint64_t h : other_events) event_copies += train_event_set.count(h);

  return {{"distance", "euclidean over per-item (log count, mean value z, mean time) stay vectors"},
          {"feature_items", space.index.size()},
          {"stays", {{"train", train_idx.size()}, {"holdout", holdout_idx.size()}, {"other", other_idx.size()}}},
          {"dcr_train_median", json_number(quantile(d_train, 0.5))},
          {"dcr_holdout_median", json_number(quantile(d_holdout, 0.5))},
          {"dcr_train_p05", json_number(quantile(d_train, 0.05))},
          {"dcr_share", json_number(d_train.empty() ? NAN : closer / d_train.size())},
          {"dcr_share_expected", json_number(n_tr / (n_tr + n_ho))},
          {"mia_auc", json_number(auc)},
          {"mia_accuracy", json_number(accuracy)},
          {"exact_stay_copies", json_number(nonempty ? stay_copies / nonempty : NAN)},
          {"exact_event_copies", json_number(other_events.empty() ? NAN : event_copies / other_events.size())}};
}

}  // namespace rawmed::eval
