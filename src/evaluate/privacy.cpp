// Privacy per patient, across all tables.
//
// Stay distance: each stay becomes a vector with three entries per feature item (the
// `privacy_items` (table, item) pairs present in the most train stays): log(1 + number of the
// item's events), the mean z-score of the item's values in its table's first numeric column
// (train mean and sd of that item, clipped to +-5; 0 when absent), and the mean event time as a
// fraction of the window (0 when absent). The distance between two stays is the Euclidean distance
// of their vectors. DCR (distance to closest record) of a stay is its distance to the nearest
// stay of a reference set. A patient with several stays counts once: its distance to a set is the
// smallest over its stays (DCR, membership inference).
//
// Attribute inference: for `attribute_items` sensitive items (features present in 10-90% of train
// stays), an attacker who knows a real stay's quasi-identifiers (age, gender, log events per table)
// guesses whether the stay has the item from the nearest scored stay in quasi-identifier space.
// Accuracy on train stays (members) minus accuracy on non-member stays is the advantage the
// scored data gives about members (0: none).
//
// Exact copies compare whole rows: an event is (table, minute, every modelled value); a row is the
// same without the minute (a row copied to another time); a stay is the multiset of its events.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

#include <algorithm>
#include <bit>
#include <cctype>
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

// Hash of one row as an event: table name, minute (unless `with_minute` is false) and every
// modelled value.
uint64_t event_hash(const Table& t, size_t r, bool with_minute = true) {
  uint64_t h = std::hash<std::string>{}(t.name());
  if (with_minute) h = mix(h, static_cast<uint64_t>(t.minute[r]));
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

// Per stay: the hash of the sorted hashes of its events (0 for an empty stay); plus every event
// hash, and every row hash (the event without its minute).
void hash_database(const Database& db, std::vector<uint64_t>& stay_hashes, std::vector<uint64_t>& event_hashes,
                   std::vector<uint64_t>& row_hashes) {
  std::vector<uint64_t> hs;
  for (size_t s = 0; s < db.stays.size(); ++s) {
    hs.clear();
    for (const auto& e : db.stay_events(s)) {
      hs.push_back(event_hash(db.tables[e.table], e.row));
      row_hashes.push_back(event_hash(db.tables[e.table], e.row, false));
    }
    event_hashes.insert(event_hashes.end(), hs.begin(), hs.end());
    std::sort(hs.begin(), hs.end());
    uint64_t h = 0;
    for (uint64_t v : hs) h = mix(h, v);
    stay_hashes.push_back(hs.empty() ? 0 : h | 1);
  }
}


// Stays grouped by patient: per patient, the indices (into `stays`) of its stays.
std::vector<std::vector<size_t>> patient_units(const Database& db, const std::vector<int32_t>& stays) {
  std::unordered_map<std::string, size_t> index;
  std::vector<std::vector<size_t>> units;
  for (size_t i = 0; i < stays.size(); ++i) {
    const std::string& id = db.stays[static_cast<size_t>(stays[i])].patient_id;
    if (id.empty()) {
      units.push_back({i});
      continue;
    }
    auto [it, fresh] = index.try_emplace(id, units.size());
    if (fresh) units.emplace_back();
    units[it->second].push_back(i);
  }
  return units;
}

// Per unit, the smallest of its stays' distances.
std::vector<double> unit_minimum(const std::vector<std::vector<size_t>>& units, const std::vector<double>& per_stay) {
  std::vector<double> out;
  out.reserve(units.size());
  for (const auto& unit : units) {
    double best = INFINITY;
    bool any = false;
    for (size_t i : unit)
      if (!std::isnan(per_stay[i])) best = std::min(best, per_stay[i]), any = true;
    out.push_back(any ? best : NAN);
  }
  return out;
}

// Quasi-identifiers of a stay: age / 10, gender (0 / 1 / 0.5 unknown), log(1 + events) per table.
std::vector<float> quasi_identifiers(const Database& db, const std::vector<int32_t>& stays, size_t& dims) {
  dims = 2 + db.tables.size();
  std::vector<float> out(stays.size() * dims, 0.f);
  for (size_t i = 0; i < stays.size(); ++i) {
    const Stay& stay = db.stays[static_cast<size_t>(stays[i])];
    float* v = &out[i * dims];
    v[0] = std::isnan(stay.age) ? 0.f : static_cast<float>(stay.age / 10.0);
    char g = stay.gender.empty() ? '?' : static_cast<char>(std::toupper(static_cast<unsigned char>(stay.gender[0])));
    v[1] = g == 'M' ? 1.f : g == 'F' ? 0.f : 0.5f;
    for (const auto& e : db.stay_events(static_cast<size_t>(stays[i]))) v[2 + e.table] += 1.f;
    for (size_t t = 0; t < db.tables.size(); ++t) v[2 + t] = std::log1p(v[2 + t]);
  }
  return out;
}

// Index of the nearest reference vector for each query vector (-1 when the reference is empty).
std::vector<int64_t> nearest_index(const std::vector<float>& query, const std::vector<float>& reference, size_t d) {
  size_t nq = query.size() / d, nr = reference.size() / d;
  std::vector<int64_t> out(nq, -1);
  for (size_t i = 0; i < nq; ++i) {
    float best = INFINITY;
    for (size_t j = 0; j < nr; ++j) {
      float s = 0;
      for (size_t k = 0; k < d; ++k) s += (query[i * d + k] - reference[j * d + k]) * (query[i * d + k] - reference[j * d + k]);
      if (s < best) best = s, out[i] = static_cast<int64_t>(j);
    }
  }
  return out;
}

// presence[i * items + j]: stay i has a row of sensitive feature j.
std::vector<uint8_t> item_presence(const Database& db, const std::vector<int32_t>& stays,
                                   const std::map<std::pair<std::string, int32_t>, size_t>& items) {
  std::vector<uint8_t> out(stays.size() * items.size(), 0);
  for (size_t i = 0; i < stays.size(); ++i)
    for (const auto& e : db.stay_events(static_cast<size_t>(stays[i]))) {
      const Table& t = db.tables[e.table];
      auto it = items.find({t.name(), row_item(t, e.row)});
      if (it != items.end()) out[i * items.size() + it->second] = 1;
    }
  return out;
}

class PrivacyScorer final : public SectionScorer {
 public:
  explicit PrivacyScorer(const SectionContext& context)
      : train_(context.train), pool_(context.pool), config_(context.config) {
    std::mt19937_64 rng(config_.seed);
    space_ = build_features(train_, config_.privacy_items);
    train_idx_ = sample_stays(train_.stays.size(), config_.max_privacy_stays, rng);
    v_train_ = stay_vectors(train_, space_, train_idx_);
    train_units_ = patient_units(train_, train_idx_);
    std::vector<uint64_t> stays, events, rows;
    hash_database(train_, stays, events, rows);
    train_stay_set_.insert(stays.begin(), stays.end());
    train_stay_set_.erase(0);
    train_event_set_.insert(events.begin(), events.end());
    train_row_set_.insert(rows.begin(), rows.end());
    choose_sensitive_items();
    qi_train_ = quasi_identifiers(train_, train_idx_, qi_dims_);
    sensitive_train_ = item_presence(train_, train_idx_, sensitive_);
  }

  nlohmann::json score(const Database& other, const Database* nonmembers) const override {
    std::mt19937_64 rng(config_.seed + 1);
    auto other_idx = sample_stays(other.stays.size(), config_.max_privacy_stays, rng);
    auto v_other = stay_vectors(other, space_, other_idx);
    auto other_units = patient_units(other, other_idx);
    const size_t d = space_.dims();
    auto d_train = unit_minimum(other_units, nearest_distances(v_other, v_train_, d));
    nlohmann::json out = {
        {"distance",
         "euclidean over per-item (log count, mean value z, mean time) stay vectors; a patient's distance is the "
         "smallest over its stays"},
        {"feature_items", space_.index.size()},
        {"dcr_train_median", json_number(quantile(d_train, 0.5))},
        {"dcr_train_p05", json_number(quantile(d_train, 0.05))}};
    add_exact_copies(other, out);
    if (!nonmembers) {
      out["not_computed"] = "no holdout (non-member) stays: DCR share, membership and attribute inference need them";
      return out;
    }
    auto holdout_idx = sample_stays(nonmembers->stays.size(), config_.max_privacy_stays, rng);
    auto v_holdout = stay_vectors(*nonmembers, space_, holdout_idx);
    auto holdout_units = patient_units(*nonmembers, holdout_idx);
    auto d_holdout = unit_minimum(other_units, nearest_distances(v_other, v_holdout, d));
    double closer = 0, compared = 0, ratio_sum = 0;
    for (size_t i = 0; i < d_train.size(); ++i) {
      if (std::isnan(d_train[i]) || std::isnan(d_holdout[i])) continue;
      compared += 1;
      closer += d_train[i] < d_holdout[i] ? 1.0 : d_train[i] == d_holdout[i] ? 0.5 : 0.0;
      const double both = d_train[i] + d_holdout[i];
      ratio_sum += both > 0 ? d_train[i] / both : 0.5;
    }
    double n_tr = static_cast<double>(train_idx_.size()), n_ho = static_cast<double>(holdout_idx.size());
    out["stays"] = {{"train", train_idx_.size()}, {"holdout", holdout_idx.size()}, {"other", other_idx.size()}};
    out["patients"] = {{"train", train_units_.size()}, {"holdout", holdout_units.size()}, {"other", other_units.size()}};
    out["dcr_holdout_median"] = json_number(quantile(d_holdout, 0.5));
    out["dcr_share"] = json_number(compared ? closer / compared : NAN);
    out["dcr_share_expected"] = json_number(n_tr / (n_tr + n_ho));
    out["dcr_ratio"] = json_number(compared ? ratio_sum / compared : NAN);
    add_membership(v_other, v_holdout, holdout_units, out);
    add_attribute_inference(other, other_idx, *nonmembers, holdout_idx, out);
    return out;
  }

 private:
  void choose_sensitive_items() {
    // Features present in 10-90% of train stays, most balanced first.
    std::vector<std::pair<double, std::pair<std::string, int32_t>>> order;
    auto presence = item_presence(train_, train_idx_, space_.index);
    size_t f = space_.index.size();
    for (const auto& [key, k] : space_.index) {
      double share = 0;
      for (size_t i = 0; i < train_idx_.size(); ++i) share += presence[i * f + k];
      share /= std::max<size_t>(1, train_idx_.size());
      if (share >= 0.1 && share <= 0.9) order.push_back({std::abs(share - 0.5), key});
    }
    std::sort(order.begin(), order.end());
    for (size_t i = 0; i < order.size() && static_cast<int>(i) < config_.attribute_items; ++i)
      sensitive_[order[i].second] = i;
  }

  void add_exact_copies(const Database& other, nlohmann::json& out) const {
    std::vector<uint64_t> other_stays, other_events, other_rows;
    hash_database(other, other_stays, other_events, other_rows);
    double stay_copies = 0, nonempty = 0, event_copies = 0, row_copies = 0;
    for (uint64_t h : other_stays)
      if (h) nonempty += 1, stay_copies += train_stay_set_.count(h);
    for (uint64_t h : other_events) event_copies += train_event_set_.count(h);
    for (uint64_t h : other_rows) row_copies += train_row_set_.count(h);
    out["exact_row_copies"] = json_number(other_rows.empty() ? NAN : row_copies / other_rows.size());
    out["exact_stay_copies"] = json_number(nonempty ? stay_copies / nonempty : NAN);
    out["exact_event_copies"] = json_number(other_events.empty() ? NAN : event_copies / other_events.size());
  }

  // Members = train patients, non-members = holdout patients; score = minus the distance to the
  // closest scored stay.
  void add_membership(const std::vector<float>& v_other, const std::vector<float>& v_holdout,
                      const std::vector<std::vector<size_t>>& holdout_units, nlohmann::json& out) const {
    const size_t d = space_.dims();
    auto m_dist = unit_minimum(train_units_, nearest_distances(v_train_, v_other, d));
    auto n_dist = unit_minimum(holdout_units, nearest_distances(v_holdout, v_other, d));
    std::vector<double> scores;
    std::vector<uint8_t> labels;
    for (double x : m_dist) scores.push_back(-x), labels.push_back(1);
    for (double x : n_dist) scores.push_back(-x), labels.push_back(0);
    // Accuracy on a balanced set (the first min(n) of each side), threshold at the median distance.
    size_t m = std::min(m_dist.size(), n_dist.size());
    std::vector<double> balanced(m_dist.begin(), m_dist.begin() + m);
    balanced.insert(balanced.end(), n_dist.begin(), n_dist.begin() + m);
    double threshold = quantile(balanced, 0.5), correct = 0;
    for (size_t i = 0; i < m; ++i) {
      correct += m_dist[i] < threshold ? 1.0 : m_dist[i] == threshold ? 0.5 : 0.0;
      correct += n_dist[i] > threshold ? 1.0 : n_dist[i] == threshold ? 0.5 : 0.0;
    }
    out["mia_auc"] = json_number(auroc(scores, labels));
    out["mia_accuracy"] = json_number(m && !std::isnan(threshold) ? correct / (2.0 * m) : NAN);
  }

  void add_attribute_inference(const Database& other, const std::vector<int32_t>& other_idx, const Database& holdout,
                               const std::vector<int32_t>& holdout_idx, nlohmann::json& out) const {
    const size_t k = sensitive_.size();
    size_t dims = 0;
    auto qi_other = quasi_identifiers(other, other_idx, dims);
    auto qi_holdout = quasi_identifiers(holdout, holdout_idx, dims);
    auto sensitive_other = item_presence(other, other_idx, sensitive_);
    auto sensitive_holdout = item_presence(holdout, holdout_idx, sensitive_);
    auto accuracy = [&](const std::vector<float>& qi, const std::vector<uint8_t>& truth) {
      auto nearest = nearest_index(qi, qi_other, qi_dims_);
      double correct = 0, n = 0;
      for (size_t i = 0; i < nearest.size(); ++i) {
        if (nearest[i] < 0) continue;
        for (size_t j = 0; j < k; ++j)
          correct += truth[i * k + j] == sensitive_other[static_cast<size_t>(nearest[i]) * k + j], n += 1;
      }
      return n ? correct / n : NAN;
    };
    double members = accuracy(qi_train_, sensitive_train_), others = accuracy(qi_holdout, sensitive_holdout);
    std::vector<std::string> names;
    for (const auto& [key, j] : sensitive_) {
      bool named = key.second >= 0 && static_cast<size_t>(key.second) < pool_.size();
      names.push_back(key.first + ": " + (named ? pool_.str(key.second) : std::string("(any row)")));
    }
    out["attribute_inference"] = {
        {"quasi_identifiers", "age / 10, gender, log(1 + events) per table"},
        {"sensitive_items", names},
        {"accuracy_members", json_number(members)},
        {"accuracy_nonmembers", json_number(others)}};
    out["attribute_advantage"] = json_number(members - others);
  }

  const Database& train_;
  const StringPool& pool_;
  const EvalConfig& config_;
  FeatureSpace space_;
  std::vector<int32_t> train_idx_;
  std::vector<float> v_train_;
  std::vector<std::vector<size_t>> train_units_;
  std::unordered_set<uint64_t> train_stay_set_, train_event_set_, train_row_set_;
  std::map<std::pair<std::string, int32_t>, size_t> sensitive_;
  size_t qi_dims_ = 0;
  std::vector<float> qi_train_;
  std::vector<uint8_t> sensitive_train_;
};

}  // namespace

ScorerFactory privacy_scorer() {
  return [](const SectionContext& context) { return std::make_unique<PrivacyScorer>(context); };
}

nlohmann::json evaluate_privacy(const Database& train, const Database& holdout, const Database& other,
                                const EvalConfig& config) {
  StringPool unused;
  return PrivacyScorer({train, unused, config}).score(other, &holdout);
}

}  // namespace rawmed::eval
