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

}  // namespace

nlohmann::json evaluate_associations(const Database& train, const Database& other, const EvalConfig& config) {
  nlohmann::json tables = nlohmann::json::object();
  std::vector<double> pcc_all, ipcc_all;
  int64_t eligible_all = 0, scored_all = 0;
  for (const auto& rt : train.tables) {
    const Table& ot = other.tables[other.table_index(rt.name())];
    nlohmann::json entry;
    auto names = association_columns(rt, false);
    if (names.size() >= 2) {
      auto mr = association_matrix(rt, names, sample_rows(rt, nullptr, config.max_association_rows));
      auto mo = association_matrix(ot, names, sample_rows(ot, nullptr, config.max_association_rows));
      double pcc = mean_abs_off_diagonal(mr, mo, names.size());
      pcc_all.push_back(pcc);
      entry["pcc"] = pcc;
      entry["columns"] = names;
      entry["matrix_real"] = mr;
      entry["matrix_other"] = mo;
    }
    auto item_names = association_columns(rt, true);
    if (rt.item >= 0 && item_names.size() >= 2) {
      auto real_groups = rows_by_id(rt.columns[rt.item].ids);
      auto other_groups = rows_by_id(ot.columns[ot.column_index(rt.columns[rt.item].name)].ids);
      std::vector<double> scores;
      int64_t eligible = 0;
      for (const auto& [item, rows] : real_groups) {
        if (static_cast<int64_t>(rows.size()) < config.min_item_rows_pcc) continue;
        ++eligible;
        auto it = other_groups.find(item);
        if (it == other_groups.end() || static_cast<int64_t>(it->second.size()) < config.min_item_rows_pcc_other) continue;
        auto mr = association_matrix(rt, item_names, sample_rows(rt, &rows, config.max_association_rows));
        auto mo = association_matrix(ot, item_names, sample_rows(ot, &it->second, config.max_association_rows));
        scores.push_back(mean_abs_off_diagonal(mr, mo, item_names.size()));
      }
      ipcc_all.insert(ipcc_all.end(), scores.begin(), scores.end());
      eligible_all += eligible;
      scored_all += static_cast<int64_t>(scores.size());
      entry["ipcc"] = json_number(mean(scores));
      entry["ipcc_items_eligible"] = eligible;
      entry["ipcc_items_scored"] = scores.size();
    }
    if (!entry.is_null()) tables[rt.name()] = entry;
  }
  return {{"pcc", json_number(mean(pcc_all))},
          {"ipcc", json_number(mean(ipcc_all))},
          {"ipcc_items_eligible", eligible_all},
          {"ipcc_items_scored", scored_all},
          {"ipcc_share_scored", json_number(eligible_all ? static_cast<double>(scored_all) / eligible_all : NAN)},
          {"min_item_rows_pcc", config.min_item_rows_pcc},
          {"min_item_rows_pcc_other", config.min_item_rows_pcc_other},
          {"tables", tables}};
}

}  // namespace rawmed::eval
