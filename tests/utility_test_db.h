#pragma once
// Hand-made in-memory Databases for the utility and next-event tests: tables labevents,
// inputevents and prescriptions, each with an item column and one numeric value column.
#include "evaluate/database.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace rawmed::eval::testing {

struct RowSpec {
  int stay;
  int minute;
  std::string table;  // labevents | inputevents | prescriptions
  std::string item;
  double value = NAN;
};

inline Database make_test_db(const std::vector<RowSpec>& rows, int stays, StringPool& pool, int window_hours = 12) {
  Database db;
  db.schema.dataset = "test";
  db.schema.window_hours = window_hours;
  const std::vector<std::pair<std::string, std::string>> tables = {
      {"labevents", "valuenum"}, {"inputevents", "amount"}, {"prescriptions", "dose_val_rx"}};
  for (const auto& [name, value] : tables) {
    Table t;
    t.schema.name = name;
    t.schema.file = name + ".csv.gz";
    t.schema.columns = {"stay_id", "time", "itemid", value};
    t.schema.link_column = "stay_id";
    t.schema.link_cohort_key = "stay_id";
    t.schema.time_column = "time";
    t.schema.item_column = "itemid";
    t.schema.types = {{"itemid", ColumnType::kCategorical}, {value, ColumnType::kNumeric}};
    t.columns.resize(2);
    t.columns[0].name = "itemid";
    t.columns[0].type = ColumnType::kCategorical;
    t.columns[1].name = value;
    t.columns[1].type = ColumnType::kNumeric;
    t.item = 0;
    db.schema.tables.push_back(t.schema);
    db.tables.push_back(std::move(t));
  }
  for (int s = 0; s < stays; ++s) db.stays.push_back(Stay{std::to_string(s), std::to_string(s), std::to_string(s)});
  for (const RowSpec& r : rows) {
    int t = db.table_index(r.table);
    Table& table = db.tables[static_cast<size_t>(t)];
    db.events.push_back({r.minute, t, static_cast<int32_t>(table.rows())});
    table.stay.push_back(r.stay);
    table.minute.push_back(r.minute);
    table.columns[0].ids.push_back(pool.intern(r.item));
    table.columns[1].values.push_back(r.value);
  }
  std::vector<int32_t> stay_of;
  for (const auto& e : db.events) stay_of.push_back(db.tables[static_cast<size_t>(e.table)].stay[static_cast<size_t>(e.row)]);
  std::vector<size_t> order(db.events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto &x = db.events[a], &y = db.events[b];
    return std::tie(stay_of[a], x.minute, x.table, x.row) < std::tie(stay_of[b], y.minute, y.table, y.row);
  });
  std::vector<EventRef> sorted;
  db.stay_offsets.assign(static_cast<size_t>(stays) + 1, 0);
  for (size_t i : order) {
    sorted.push_back(db.events[i]);
    ++db.stay_offsets[static_cast<size_t>(stay_of[i]) + 1];
  }
  for (int s = 0; s < stays; ++s) db.stay_offsets[static_cast<size_t>(s) + 1] += db.stay_offsets[static_cast<size_t>(s)];
  db.events = std::move(sorted);
  return db;
}

// `n` first-half filler lab rows (so the stay has enough first-half events to get labels).
inline void add_filler(std::vector<RowSpec>& rows, int stay, int n = 6) {
  for (int i = 0; i < n; ++i) rows.push_back({stay, 10 + i, "labevents", "Glucose", 100.0 + i});
}

}  // namespace rawmed::eval::testing
