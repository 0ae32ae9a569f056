#pragma once
// Small helpers shared by the evaluation sections (internal to src/evaluate).
#include "evaluate/database.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <vector>

namespace rawmed::eval {

// NaN and infinities become JSON null (JSON has no NaN).
inline nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

// Non-null values of a column over `rows` (all rows when null).
inline std::vector<double> non_null_values(const Column& column, const std::vector<int32_t>* rows) {
  std::vector<double> out;
  auto add = [&](size_t r) {
    if (!std::isnan(column.values[r])) out.push_back(column.values[r]);
  };
  if (rows) {
    for (int32_t r : *rows) add(r);
  } else {
    for (size_t r = 0; r < column.values.size(); ++r) add(r);
  }
  return out;
}

inline std::vector<int32_t> non_null_ids(const Column& column, const std::vector<int32_t>* rows) {
  std::vector<int32_t> out;
  auto add = [&](size_t r) {
    if (column.ids[r] >= 0) out.push_back(column.ids[r]);
  };
  if (rows) {
    for (int32_t r : *rows) add(r);
  } else {
    for (size_t r = 0; r < column.ids.size(); ++r) add(r);
  }
  return out;
}

inline bool has_value(const Column& column, const std::vector<int32_t>* rows) {
  if (!rows) {
    size_t n = column.is_numeric() ? column.values.size() : column.ids.size();
    for (size_t r = 0; r < n; ++r)
      if (!column.is_null(r)) return true;
    return false;
  }
  for (int32_t r : *rows)
    if (!column.is_null(r)) return true;
  return false;
}

inline int64_t non_null_count(const Column& column, const std::vector<int32_t>* rows) {
  int64_t n = 0;
  if (rows) {
    for (int32_t r : *rows) n += !column.is_null(r);
  } else {
    size_t total = column.is_numeric() ? column.values.size() : column.ids.size();
    for (size_t r = 0; r < total; ++r) n += !column.is_null(r);
  }
  return n;
}

// Row indices grouped by id (nulls skipped), ordered by id.
inline std::map<int32_t, std::vector<int32_t>> rows_by_id(const std::vector<int32_t>& ids) {
  std::map<int32_t, std::vector<int32_t>> groups;
  for (size_t r = 0; r < ids.size(); ++r)
    if (ids[r] >= 0) groups[ids[r]].push_back(static_cast<int32_t>(r));
  return groups;
}

// Item id of each row of a table, or 0 for every row when the table has no item column (the
// whole table is one item). -1 = null item.
inline const std::vector<int32_t>* item_ids(const Table& table) {
  return table.item >= 0 ? &table.columns[table.item].ids : nullptr;
}

}  // namespace rawmed::eval
