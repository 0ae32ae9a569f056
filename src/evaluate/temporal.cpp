// Inter-table associations (which items of one table come with which items of another within a
// stay) and temporal statistics (KS of inter-event gaps, event times, events per stay).
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace rawmed::eval {

namespace {

// The `k` items of a table present in the most train stays (the whole table as one pseudo item
// "(any row)" when it has no item column). Ids are pool ids; -2 stands for the pseudo item.
std::vector<int32_t> top_items_by_stays(const Table& table, int k) {
  if (table.item < 0) return {-2};
  std::unordered_set<int64_t> seen;  // (item, stay)
  std::unordered_map<int32_t, int64_t> stays;
  const auto& ids = table.columns[table.item].ids;
  for (size_t r = 0; r < ids.size(); ++r)
    if (ids[r] >= 0 && seen.insert((static_cast<int64_t>(ids[r]) << 32) | table.stay[r]).second) ++stays[ids[r]];
  std::vector<std::pair<int64_t, int32_t>> order;
  for (auto& [id, n] : stays) order.push_back({-n, id});
  std::sort(order.begin(), order.end());
  std::vector<int32_t> out;
  for (size_t i = 0; i < order.size() && static_cast<int>(i) < k; ++i) out.push_back(order[i].second);
  return out;
}

// presence[s][f]: stay s has a row of feature f of the table.
std::vector<std::vector<uint8_t>> presence(const Database& db, int table, const std::vector<int32_t>& items) {
  std::vector<std::vector<uint8_t>> out(db.stays.size(), std::vector<uint8_t>(items.size(), 0));
  if (table < 0) return out;
  const Table& t = db.tables[table];
  std::unordered_map<int32_t, size_t> index;
  for (size_t f = 0; f < items.size(); ++f) index[items[f]] = f;
  const std::vector<int32_t>* ids = item_ids(t);
  for (size_t r = 0; r < t.rows(); ++r) {
    int32_t id = ids ? (*ids)[r] : -2;
    auto it = index.find(id);
    if (it != index.end()) out[t.stay[r]][it->second] = 1;
  }
  return out;
}

// Phi coefficient (Pearson of presence indicators over stays) for every feature pair of A x B.
std::vector<double> phi_matrix(const std::vector<std::vector<uint8_t>>& a, const std::vector<std::vector<uint8_t>>& b,
                               size_t ka, size_t kb) {
  double n = static_cast<double>(a.size());
  std::vector<double> na(ka, 0), nb(kb, 0), nab(ka * kb, 0);
  for (size_t s = 0; s < a.size(); ++s) {
    for (size_t i = 0; i < ka; ++i) na[i] += a[s][i];
    for (size_t j = 0; j < kb; ++j) nb[j] += b[s][j];
    for (size_t i = 0; i < ka; ++i)
      if (a[s][i])
        for (size_t j = 0; j < kb; ++j) nab[i * kb + j] += b[s][j];
  }
  std::vector<double> phi(ka * kb, 0.0);
  for (size_t i = 0; i < ka; ++i)
    for (size_t j = 0; j < kb; ++j) {
      double den = std::sqrt(na[i] * (n - na[i]) * nb[j] * (n - nb[j]));
      if (den > 0) phi[i * kb + j] = (n * nab[i * kb + j] - na[i] * nb[j]) / den;
    }
  return phi;
}

std::string item_label(const StringPool& pool, int32_t id) { return id == -2 ? "(any row)" : pool.str(id); }

// Gaps, times and counts of events per stay, for the rows of one table (-1: all tables).
struct TimeStats {
  std::vector<double> gaps, times, counts, nonzero_gaps;  // each sorted ascending
};

TimeStats time_stats(const Database& db, int table) {
  TimeStats out;
  std::vector<int32_t> minutes;
  for (size_t s = 0; s < db.stays.size(); ++s) {
    minutes.clear();
    for (const auto& e : db.stay_events(s))
      if (table < 0 || e.table == table) minutes.push_back(e.minute);
    out.counts.push_back(static_cast<double>(minutes.size()));
    for (size_t i = 0; i < minutes.size(); ++i) {
      out.times.push_back(minutes[i]);
      if (i > 0) out.gaps.push_back(minutes[i] - minutes[i - 1]);
    }
  }
  for (auto* v : {&out.gaps, &out.times, &out.counts}) std::sort(v->begin(), v->end());
  for (double g : out.gaps)
    if (g != 0) out.nonzero_gaps.push_back(g);
  return out;
}

nlohmann::json describe(std::vector<double> v) {
  if (v.empty()) return nullptr;
  return {{"median", quantile(v, 0.5)}, {"iqr", quantile(v, 0.75) - quantile(v, 0.25)}, {"n", v.size()}};
}

nlohmann::json compare_times(const TimeStats& real, const TimeStats& other) {
  return {{"gap_ks", json_number(ks_statistic_sorted(real.gaps, other.gaps))},
          {"nonzero_gap_ks", json_number(ks_statistic_sorted(real.nonzero_gaps, other.nonzero_gaps))},
          {"time_ks", json_number(ks_statistic_sorted(real.times, other.times))},
          {"count_ks", json_number(ks_statistic_sorted(real.counts, other.counts))},
          {"gaps_real", describe(real.gaps)},
          {"gaps_other", describe(other.gaps)},
          {"counts_real", describe(real.counts)},
          {"counts_other", describe(other.counts)}};
}

class IntertableScorer final : public SectionScorer {
 public:
  explicit IntertableScorer(const SectionContext& context) : train_(context.train), pool_(context.pool), config_(context.config) {
    size_t T = train_.tables.size();
    items_.resize(T);
    std::vector<std::vector<std::vector<uint8_t>>> real_presence(T);
    for (size_t t = 0; t < T; ++t) {
      items_[t] = top_items_by_stays(train_.tables[t], config_.top_items_intertable);
      real_presence[t] = presence(train_, static_cast<int>(t), items_[t]);
    }
    for (size_t a = 0; a < T; ++a)
      for (size_t b = a + 1; b < T; ++b)
        if (!items_[a].empty() && !items_[b].empty())
          pairs_.push_back({a, b, phi_matrix(real_presence[a], real_presence[b], items_[a].size(), items_[b].size())});
  }

  nlohmann::json score(const Database& other, const Database*) const override {
    size_t T = train_.tables.size();
    std::vector<std::vector<std::vector<uint8_t>>> other_presence(T);
    for (size_t t = 0; t < T; ++t) other_presence[t] = presence(other, other.table_index(train_.tables[t].name()), items_[t]);
    nlohmann::json pairs = nlohmann::json::array();
    std::vector<double> summaries;
    for (const Pair& p : pairs_) {
      size_t a = p.a, b = p.b, ka = items_[a].size(), kb = items_[b].size();
      const auto& pr = p.phi_real;
      auto po = phi_matrix(other_presence[a], other_presence[b], ka, kb);
      std::vector<size_t> order(ka * kb);
      double sum = 0;
      for (size_t i = 0; i < order.size(); ++i) order[i] = i, sum += std::abs(pr[i] - po[i]);
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t x, size_t y) { return std::abs(pr[x] - po[x]) > std::abs(pr[y] - po[y]); });
      nlohmann::json top = nlohmann::json::array();
      for (size_t i = 0; i < std::min<size_t>(10, order.size()); ++i) {
        size_t k = order[i];
        top.push_back({{"item_a", item_label(pool_, items_[a][k / kb])},
                       {"item_b", item_label(pool_, items_[b][k % kb])},
                       {"phi_real", pr[k]},
                       {"phi_other", po[k]}});
      }
      double score = sum / static_cast<double>(order.size());
      summaries.push_back(score);
      std::vector<std::string> la, lb;
      for (int32_t id : items_[a]) la.push_back(item_label(pool_, id));
      for (int32_t id : items_[b]) lb.push_back(item_label(pool_, id));
      pairs.push_back({{"table_a", train_.tables[a].name()},
                       {"table_b", train_.tables[b].name()},
                       {"mean_abs_phi_diff", score},
                       {"items_a", la},
                       {"items_b", lb},
                       {"phi_real", pr},
                       {"phi_other", po},
                       {"top_differences", top}});
    }
    return {{"intertable", json_number(mean(summaries))},
            {"measure", "phi coefficient of item presence per stay, top items by train stays"},
            {"top_items", config_.top_items_intertable},
            {"pairs", pairs}};
  }

 private:
  struct Pair {
    size_t a, b;
    std::vector<double> phi_real;
  };
  const Database& train_;
  const StringPool& pool_;
  const EvalConfig& config_;
  std::vector<std::vector<int32_t>> items_;
  std::vector<Pair> pairs_;
};

class TemporalScorer final : public SectionScorer {
 public:
  explicit TemporalScorer(const SectionContext& context) : train_(context.train) {
    all_ = time_stats(train_, -1);
    for (size_t t = 0; t < train_.tables.size(); ++t) per_table_.push_back(time_stats(train_, static_cast<int>(t)));
  }

  nlohmann::json score(const Database& other, const Database*) const override {
    nlohmann::json result = compare_times(all_, time_stats(other, -1));
    nlohmann::json per_table = nlohmann::json::object();
    for (size_t t = 0; t < train_.tables.size(); ++t)
      per_table[train_.tables[t].name()] =
          compare_times(per_table_[t], time_stats(other, other.table_index(train_.tables[t].name())));
    result["tables"] = per_table;
    return result;
  }

 private:
  const Database& train_;
  TimeStats all_;
  std::vector<TimeStats> per_table_;
};

}  // namespace

ScorerFactory intertable_scorer() {
  return [](const SectionContext& context) { return std::make_unique<IntertableScorer>(context); };
}

ScorerFactory temporal_scorer() {
  return [](const SectionContext& context) { return std::make_unique<TemporalScorer>(context); };
}

nlohmann::json evaluate_intertable(const Database& train, const Database& other, const StringPool& pool,
                                   const EvalConfig& config) {
  return IntertableScorer({train, pool, config}).score(other, nullptr);
}

nlohmann::json evaluate_temporal(const Database& train, const Database& other, const EvalConfig& config) {
  StringPool unused;
  return TemporalScorer({train, unused, config}).score(other, nullptr);
}

}  // namespace rawmed::eval
