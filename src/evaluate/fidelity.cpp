// Column fidelity: CDE per column (KS for numeric, JS distance for categorical), I-CDE per item,
// missing-value rates. Text columns (free text) are not scored by CDE; their missing rate is.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

namespace rawmed::eval {

namespace {

// Distribution distance of one column over the given rows of each side; NaN when the real side
// has fewer than `min_values` values (too few to compare); 1 when the other side has none.
double column_score(const Column& real, const std::vector<int32_t>* real_rows, const Column& other,
                    const std::vector<int32_t>* other_rows, int64_t min_values) {
  if (real.is_numeric()) {
    auto a = non_null_values(real, real_rows), b = non_null_values(other, other_rows);
    if (a.empty() || static_cast<int64_t>(a.size()) < min_values) return NAN;
    if (b.empty()) return 1.0;
    return ks_statistic(std::move(a), std::move(b));
  }
  auto a = non_null_ids(real, real_rows), b = non_null_ids(other, other_rows);
  if (a.empty() || static_cast<int64_t>(a.size()) < min_values) return NAN;
  if (b.empty()) return 1.0;
  return js_distance_ids(a, b);
}

double missing_rate(const Column& column) {
  size_t n = column.is_numeric() ? column.values.size() : column.ids.size();
  if (n == 0) return NAN;
  size_t nulls = 0;
  for (size_t r = 0; r < n; ++r) nulls += column.is_null(r);
  return static_cast<double>(nulls) / n;
}

}  // namespace

nlohmann::json evaluate_fidelity(const Database& train, const Database& other, const StringPool& pool,
                                 const EvalConfig& config) {
  nlohmann::json columns = nlohmann::json::array(), items = nlohmann::json::array(), tables = nlohmann::json::object();
  std::vector<double> cde_scores, missing_diffs, icde_all;
  for (const auto& real_table : train.tables) {
    const Table& other_table = other.tables[other.table_index(real_table.name())];
    for (size_t c = 0; c < real_table.columns.size(); ++c) {
      const Column& rc = real_table.columns[c];
      const Column& oc = other_table.columns[other_table.column_index(rc.name)];
      double miss_r = missing_rate(rc), miss_o = missing_rate(oc);
      double diff = std::isnan(miss_o) ? NAN : std::abs(miss_r - miss_o);
      nlohmann::json entry = {{"table", real_table.name()},     {"column", rc.name},
                              {"type", column_type_name(rc.type)}, {"missing_real", json_number(miss_r)},
                              {"missing_other", json_number(miss_o)}, {"missing_diff", json_number(diff)}};
      if (!std::isnan(diff)) missing_diffs.push_back(diff);
      if (rc.type != ColumnType::kText) {
        double score = other_table.rows() == 0 ? 1.0 : column_score(rc, nullptr, oc, nullptr, config.min_column_values);
        entry["score"] = json_number(score);
        if (!std::isnan(score)) cde_scores.push_back(score);
      }
      columns.push_back(entry);
    }
    if (real_table.item < 0) continue;
    // I-CDE: items with enough real rows, every other scored column compared on the item's rows.
    auto real_groups = rows_by_id(real_table.columns[real_table.item].ids);
    int other_item = other_table.column_index(real_table.columns[real_table.item].name);
    auto other_groups = rows_by_id(other_table.columns[other_item].ids);
    std::vector<double> table_scores;
    int64_t absent = 0;
    for (const auto& [item, rows] : real_groups) {
      if (static_cast<int64_t>(rows.size()) < config.min_item_rows) continue;
      auto it = other_groups.find(item);
      std::vector<double> scores;
      for (size_t c = 0; c < real_table.columns.size(); ++c) {
        const Column& rc = real_table.columns[c];
        if (static_cast<int>(c) == real_table.item || rc.type == ColumnType::kText) continue;
        if (it == other_groups.end()) {
          if (non_null_count(rc, &rows) >= config.min_column_values) scores.push_back(1.0);
          continue;
        }
        double s = column_score(rc, &rows, other_table.columns[other_table.column_index(rc.name)], &it->second,
                                config.min_column_values);
        if (!std::isnan(s)) scores.push_back(s);
      }
      if (it == other_groups.end()) {
        ++absent;
        scores = {1.0};  // an item the other side never produces is the worst score, whatever its columns
      }
      double score = scores.empty() ? NAN : mean(scores);
      if (std::isnan(score)) continue;
      table_scores.push_back(score);
      icde_all.push_back(score);
      items.push_back({{"table", real_table.name()},
                       {"item", pool.str(item)},
                       {"rows_real", rows.size()},
                       {"rows_other", it == other_groups.end() ? 0 : it->second.size()},
                       {"score", score}});
    }
    tables[real_table.name()] = {{"icde", json_number(mean(table_scores))},
                                 {"items", table_scores.size()},
                                 {"items_absent", absent}};
  }
  return {{"cde", json_number(mean(cde_scores))},
          {"icde", json_number(mean(icde_all))},
          {"missing_rate_diff", json_number(mean(missing_diffs))},
          {"icde_tables", tables},
          {"min_item_rows", config.min_item_rows},
          {"min_column_values", config.min_column_values},
          {"columns", columns},
          {"items", items}};
}

}  // namespace rawmed::eval
