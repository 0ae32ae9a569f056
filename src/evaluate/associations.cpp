// Column associations within a table (PCC) and within each item's rows (I-PCC): matrices of
// Pearson r (numeric-numeric), correlation ratio (categorical-numeric) and Theil's U(row | column)
// (categorical-categorical, kept asymmetric), compared by mean absolute difference off the diagonal.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

namespace rawmed::eval {

namespace {

// Columns that take part: numeric and categorical, optionally without the item column.
std::vector<std::string> association_columns(const Table& table, bool skip_item) {
  std::vector<std::string> names;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (table.columns[c].type == ColumnType::kText) continue;
    if (skip_item && static_cast<int>(c) == table.item) continue;
    names.push_back(table.columns[c].name);
  }
  return names;
}

// Every `step`-th of the given rows (all rows when null), at most `max_rows` (deterministic).
std::vector<int32_t> sample_rows(const Table& table, const std::vector<int32_t>* rows, int64_t max_rows) {
  size_t n = rows ? rows->size() : table.rows();
  size_t step = max_rows > 0 && n > static_cast<size_t>(max_rows) ? (n + max_rows - 1) / max_rows : 1;
  std::vector<int32_t> out;
  for (size_t i = 0; i < n; i += step) out.push_back(rows ? (*rows)[i] : static_cast<int32_t>(i));
  return out;
}

double association(const Column& a, const Column& b, const std::vector<int32_t>& rows) {
  std::vector<double> va, vb;
  std::vector<int32_t> ia, ib;
  for (int32_t r : rows) {
    if (a.is_null(r) || b.is_null(r)) continue;
    if (a.is_numeric()) va.push_back(a.values[r]); else ia.push_back(a.ids[r]);
    if (b.is_numeric()) vb.push_back(b.values[r]); else ib.push_back(b.ids[r]);
  }
  double v;
  if (a.is_numeric() && b.is_numeric()) v = pearson(va, vb);
  else if (!a.is_numeric() && b.is_numeric()) v = correlation_ratio(ia, vb);
  else if (a.is_numeric() && !b.is_numeric()) v = correlation_ratio(ib, va);
  else v = theils_u(ia, ib);
  return std::isfinite(v) ? v : 0.0;  // undefined (constant or empty) counts as no association
}

std::vector<double> association_matrix(const Table& table, const std::vector<std::string>& names,
                                       const std::vector<int32_t>& rows) {
  size_t k = names.size();
  std::vector<double> m(k * k, 1.0);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
      if (i != j)
        m[i * k + j] = association(table.columns[table.column_index(names[i])],
                                   table.columns[table.column_index(names[j])], rows);
  return m;
}

double mean_abs_off_diagonal(const std::vector<double>& a, const std::vector<double>& b, size_t k) {
  double sum = 0;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
      if (i != j) sum += std::abs(a[i * k + j] - b[i * k + j]);
  return sum / static_cast<double>(k * (k - 1));
}

// The train side of every matrix is computed once.
class AssociationsScorer final : public SectionScorer {
 public:
  explicit AssociationsScorer(const SectionContext& context) : config_(context.config) {
    for (const auto& rt : context.train.tables) {
      TrainTable t;
      t.name = rt.name();
      t.columns = association_columns(rt, false);
      if (t.columns.size() >= 2) t.matrix = association_matrix(rt, t.columns, sample_rows(rt, nullptr, config_.max_association_rows));
      t.item_columns = association_columns(rt, true);
      if (rt.item >= 0 && t.item_columns.size() >= 2) {
        t.has_items = true;
        t.item_column = rt.columns[rt.item].name;
        for (const auto& [item, rows] : rows_by_id(rt.columns[rt.item].ids)) {
          if (static_cast<int64_t>(rows.size()) < config_.min_item_rows_pcc) continue;
          t.items.push_back({item, association_matrix(rt, t.item_columns, sample_rows(rt, &rows, config_.max_association_rows))});
        }
      }
      tables_.push_back(std::move(t));
    }
  }

  nlohmann::json score(const Database& other, const Database*) const override {
    nlohmann::json tables = nlohmann::json::object();
    std::vector<double> pcc_all, ipcc_all;
    int64_t eligible_all = 0, scored_all = 0;
    for (const TrainTable& t : tables_) {
      const Table& ot = other.tables[other.table_index(t.name)];
      nlohmann::json entry;
      if (t.columns.size() >= 2) {
        auto mo = association_matrix(ot, t.columns, sample_rows(ot, nullptr, config_.max_association_rows));
        double pcc = mean_abs_off_diagonal(t.matrix, mo, t.columns.size());
        pcc_all.push_back(pcc);
        entry["pcc"] = pcc;
        entry["columns"] = t.columns;
        entry["matrix_real"] = t.matrix;
        entry["matrix_other"] = mo;
      }
      if (t.has_items) {
        auto other_groups = rows_by_id(ot.columns[ot.column_index(t.item_column)].ids);
        std::vector<double> scores;
        for (const auto& [item, mr] : t.items) {
          auto it = other_groups.find(item);
          if (it == other_groups.end() || static_cast<int64_t>(it->second.size()) < config_.min_item_rows_pcc_other) continue;
          auto mo = association_matrix(ot, t.item_columns, sample_rows(ot, &it->second, config_.max_association_rows));
          scores.push_back(mean_abs_off_diagonal(mr, mo, t.item_columns.size()));
        }
        ipcc_all.insert(ipcc_all.end(), scores.begin(), scores.end());
        eligible_all += static_cast<int64_t>(t.items.size());
        scored_all += static_cast<int64_t>(scores.size());
        entry["ipcc"] = json_number(mean(scores));
        entry["ipcc_items_eligible"] = t.items.size();
        entry["ipcc_items_scored"] = scores.size();
      }
      if (!entry.is_null()) tables[t.name] = entry;
    }
    return {{"pcc", json_number(mean(pcc_all))},
            {"ipcc", json_number(mean(ipcc_all))},
            {"ipcc_items_eligible", eligible_all},
            {"ipcc_items_scored", scored_all},
            {"ipcc_share_scored", json_number(eligible_all ? static_cast<double>(scored_all) / eligible_all : NAN)},
            {"min_item_rows_pcc", config_.min_item_rows_pcc},
            {"min_item_rows_pcc_other", config_.min_item_rows_pcc_other},
            {"tables", tables}};
  }

 private:
  struct TrainTable {
    std::string name;
    std::vector<std::string> columns, item_columns;
    std::vector<double> matrix;
    bool has_items = false;
    std::string item_column;
    std::vector<std::pair<int32_t, std::vector<double>>> items;  // eligible items and their train matrix
  };
  const EvalConfig& config_;
  std::vector<TrainTable> tables_;
};

}  // namespace

ScorerFactory associations_scorer() {
  return [](const SectionContext& context) { return std::make_unique<AssociationsScorer>(context); };
}

nlohmann::json evaluate_associations(const Database& train, const Database& other, const EvalConfig& config) {
  StringPool unused;
  return AssociationsScorer({train, unused, config}).score(other, nullptr);
}

}  // namespace rawmed::eval
