// Column fidelity: CDE per column (KS for numeric, JS distance for categorical), I-CDE per item,
// missing-value rates. Text columns (free text) are not scored by CDE; their missing rate is.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

#include <algorithm>
#include <unordered_map>

namespace rawmed::eval {

namespace {

// The train side of one column (over all rows, or one item's rows): sorted values or category counts.
struct ColumnReference {
  bool numeric = false;
  std::vector<double> sorted;
  std::unordered_map<int32_t, double> counts;
  int64_t n = 0;
};

ColumnReference reference_of(const Column& column, const std::vector<int32_t>* rows) {
  ColumnReference ref;
  ref.numeric = column.is_numeric();
  if (ref.numeric) {
    ref.sorted = non_null_values(column, rows);
    std::sort(ref.sorted.begin(), ref.sorted.end());
    ref.n = static_cast<int64_t>(ref.sorted.size());
  } else {
    for (int32_t id : non_null_ids(column, rows)) ref.counts[id] += 1, ++ref.n;
  }
  return ref;
}

// Distribution distance of a column of the other side against its train reference; NaN when train
// has fewer than `min_values` values (too few to compare); 1 when the other side has none.
double column_score(const ColumnReference& ref, const Column& other, const std::vector<int32_t>* other_rows,
                    int64_t min_values) {
  if (ref.n == 0 || ref.n < min_values) return NAN;
  if (ref.numeric) {
    auto b = non_null_values(other, other_rows);
    if (b.empty()) return 1.0;
    std::sort(b.begin(), b.end());
    return ks_statistic_sorted(ref.sorted, b);
  }
  auto b = non_null_ids(other, other_rows);
  if (b.empty()) return 1.0;
  std::unordered_map<int32_t, size_t> slot;
  std::vector<double> p, q;
  for (const auto& [id, c] : ref.counts) slot[id] = p.size(), p.push_back(c), q.push_back(0);
  for (int32_t id : b) {
    auto [it, fresh] = slot.try_emplace(id, p.size());
    if (fresh) p.push_back(0), q.push_back(0);
    q[it->second] += 1;
  }
  return js_distance(p, q);
}

double missing_rate(const Column& column) {
  size_t n = column.is_numeric() ? column.values.size() : column.ids.size();
  if (n == 0) return NAN;
  size_t nulls = 0;
  for (size_t r = 0; r < n; ++r) nulls += column.is_null(r);
  return static_cast<double>(nulls) / n;
}

class FidelityScorer final : public SectionScorer {
 public:
  explicit FidelityScorer(const SectionContext& context) : pool_(context.pool), config_(context.config) {
    for (const auto& rt : context.train.tables) {
      TrainTable t;
      t.name = rt.name();
      t.item = rt.item;
      for (const Column& c : rt.columns) {
        t.columns.push_back({c.name, c.type, missing_rate(c), c.type == ColumnType::kText ? ColumnReference{} : reference_of(c, nullptr)});
      }
      if (rt.item >= 0)
        for (const auto& [item, rows] : rows_by_id(rt.columns[rt.item].ids)) {
          if (static_cast<int64_t>(rows.size()) < config_.min_item_rows) continue;
          TrainItem ti{item, static_cast<int64_t>(rows.size()), {}};
          for (size_t c = 0; c < rt.columns.size(); ++c) {
            if (static_cast<int>(c) == rt.item || rt.columns[c].type == ColumnType::kText) continue;
            ti.columns.push_back({c, reference_of(rt.columns[c], &rows)});
          }
          t.items.push_back(std::move(ti));
        }
      tables_.push_back(std::move(t));
    }
  }

  nlohmann::json score(const Database& other, const Database*) const override {
    nlohmann::json columns = nlohmann::json::array(), items = nlohmann::json::array(), tables = nlohmann::json::object();
    std::vector<double> cde_scores, missing_diffs, icde_all;
    for (const TrainTable& t : tables_) {
      const Table& ot = other.tables[other.table_index(t.name)];
      std::vector<const Column*> other_columns;
      for (const TrainColumn& rc : t.columns) {
        const Column& oc = ot.columns[ot.column_index(rc.name)];
        other_columns.push_back(&oc);
        double miss_o = missing_rate(oc);
        double diff = std::isnan(miss_o) ? NAN : std::abs(rc.missing - miss_o);
        nlohmann::json entry = {{"table", t.name},     {"column", rc.name},
                                {"type", column_type_name(rc.type)}, {"missing_real", json_number(rc.missing)},
                                {"missing_other", json_number(miss_o)}, {"missing_diff", json_number(diff)}};
        if (!std::isnan(diff)) missing_diffs.push_back(diff);
        if (rc.type != ColumnType::kText) {
          double score = ot.rows() == 0 ? 1.0 : column_score(rc.reference, oc, nullptr, config_.min_column_values);
          entry["score"] = json_number(score);
          if (!std::isnan(score)) cde_scores.push_back(score);
        }
        columns.push_back(entry);
      }
      if (t.item < 0) continue;
      // I-CDE: items with enough real rows, every other scored column compared on the item's rows.
      auto other_groups = rows_by_id(other_columns[static_cast<size_t>(t.item)]->ids);
      std::vector<double> table_scores;
      int64_t absent = 0;
      for (const TrainItem& ti : t.items) {
        auto it = other_groups.find(ti.item);
        std::vector<double> scores;
        if (it == other_groups.end()) {
          ++absent;
          scores = {1.0};  // an item the other side never produces is the worst score, whatever its columns
        } else {
          for (const auto& [c, ref] : ti.columns) {
            double s = column_score(ref, *other_columns[c], &it->second, config_.min_column_values);
            if (!std::isnan(s)) scores.push_back(s);
          }
        }
        double score = scores.empty() ? NAN : mean(scores);
        if (std::isnan(score)) continue;
        table_scores.push_back(score);
        icde_all.push_back(score);
        items.push_back({{"table", t.name},
                         {"item", pool_.str(ti.item)},
                         {"rows_real", ti.rows},
                         {"rows_other", it == other_groups.end() ? 0 : it->second.size()},
                         {"score", score}});
      }
      tables[t.name] = {{"icde", json_number(mean(table_scores))}, {"items", table_scores.size()}, {"items_absent", absent}};
    }
    return {{"cde", json_number(mean(cde_scores))},
            {"icde", json_number(mean(icde_all))},
            {"missing_rate_diff", json_number(mean(missing_diffs))},
            {"icde_tables", tables},
            {"min_item_rows", config_.min_item_rows},
            {"min_column_values", config_.min_column_values},
            {"columns", columns},
            {"items", items}};
  }

 private:
  struct TrainColumn {
    std::string name;
    ColumnType type;
    double missing;
    ColumnReference reference;
  };
  struct TrainItem {
    int32_t item;
    int64_t rows;
    std::vector<std::pair<size_t, ColumnReference>> columns;  // (column index, reference on the item's rows)
  };
  struct TrainTable {
    std::string name;
    int item = -1;
    std::vector<TrainColumn> columns;
    std::vector<TrainItem> items;
  };
  const StringPool& pool_;
  const EvalConfig& config_;
  std::vector<TrainTable> tables_;
};

}  // namespace

ScorerFactory fidelity_scorer() {
  return [](const SectionContext& context) { return std::make_unique<FidelityScorer>(context); };
}

nlohmann::json evaluate_fidelity(const Database& train, const Database& other, const StringPool& pool,
                                 const EvalConfig& config) {
  return FidelityScorer({train, pool, config}).score(other, nullptr);
}

}  // namespace rawmed::eval
