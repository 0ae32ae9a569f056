// Validity of rows against the real train split: numerics outside the train range (of the row's
// item when the item is known, else of the column), categories never seen in train (text columns
// excluded), times outside the observation window, and rows whose stay is missing from the cohort.
#include "evaluate/evaluate.h"
#include "evaluate/table_util.h"

#include <unordered_map>
#include <unordered_set>

namespace rawmed::eval {

namespace {

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool contains(double v) const { return v >= lo && v <= hi; }
};

}  // namespace

nlohmann::json evaluate_validity(const Database& train, const Database& other, const EvalConfig&) {
  nlohmann::json tables = nlohmann::json::object();
  int64_t rows = 0, invalid = 0, out_of_range = 0, unseen = 0, outside = 0, broken = 0, bad_times = 0, unparsed = 0;
  const int window = train.schema.window_hours * 60;
  for (const auto& rt : train.tables) {
    const Table& ot = other.tables[other.table_index(rt.name())];
    size_t k = rt.columns.size();
    std::vector<Range> column_range(k);
    std::vector<std::unordered_map<int32_t, Range>> item_range(k);
    std::vector<std::unordered_set<int32_t>> seen(k);
    for (size_t c = 0; c < k; ++c) {
      const Column& col = rt.columns[c];
      for (size_t r = 0; r < rt.rows(); ++r) {
        if (col.is_null(r)) continue;
        if (col.is_numeric()) {
          column_range[c].add(col.values[r]);
          if (rt.item >= 0 && rt.columns[rt.item].ids[r] >= 0) item_range[c][rt.columns[rt.item].ids[r]].add(col.values[r]);
        } else {
          seen[c].insert(col.ids[r]);
        }
      }
    }
    int64_t t_invalid = 0, t_range = 0, t_unseen = 0, t_outside = 0, t_unparsed = 0;
    std::vector<const Column*> other_cols(k);
    for (size_t c = 0; c < k; ++c) {
      other_cols[c] = &ot.columns[ot.column_index(rt.columns[c].name)];
      t_unparsed += other_cols[c]->unparsed;
    }
    for (size_t r = 0; r < ot.rows(); ++r) {
      bool bad_range = false, bad_category = false;
      int32_t item = rt.item >= 0 ? other_cols[rt.item]->ids[r] : -1;
      for (size_t c = 0; c < k; ++c) {
        const Column& col = *other_cols[c];
        if (col.is_null(r)) continue;
        if (col.is_numeric()) {
          auto it = item >= 0 ? item_range[c].find(item) : item_range[c].end();
          const Range& range = it != item_range[c].end() ? it->second : column_range[c];
          bad_range |= !range.contains(col.values[r]);
        } else if (col.type == ColumnType::kCategorical) {
          bad_category |= !seen[c].count(col.ids[r]);
        }
      }
      bool bad_time = ot.minute[r] < 0 || ot.minute[r] > window;
      t_range += bad_range;
      t_unseen += bad_category;
      t_outside += bad_time;
      t_invalid += bad_range || bad_category || bad_time;
    }
    int64_t n = static_cast<int64_t>(ot.rows());
    auto share = [&](int64_t x) { return json_number(n ? static_cast<double>(x) / n : NAN); };
    tables[rt.name()] = {{"rows", n},
                         {"invalid_share", share(t_invalid)},
                         {"out_of_range_share", share(t_range)},
                         {"unseen_category_share", share(t_unseen)},
                         {"outside_window_share", share(t_outside)},
                         {"broken_references", ot.broken_references},
                         {"bad_times", ot.bad_times},
                         {"unparsed_numbers", t_unparsed}};
    rows += n, invalid += t_invalid, out_of_range += t_range, unseen += t_unseen, outside += t_outside;
    broken += ot.broken_references, bad_times += ot.bad_times, unparsed += t_unparsed;
  }
  auto share = [&](int64_t x) { return json_number(rows ? static_cast<double>(x) / rows : NAN); };
  int64_t read = rows + broken + bad_times;
  return {{"rows", rows},
          {"invalid_share", share(invalid)},
          {"out_of_range_share", share(out_of_range)},
          {"unseen_category_share", share(unseen)},
          {"outside_window_share", share(outside)},
          {"broken_references", broken},
          {"broken_reference_share", json_number(read ? static_cast<double>(broken) / read : NAN)},
          {"bad_times", bad_times},
          {"unparsed_numbers", unparsed},
          {"tables", tables}};
}

}  // namespace rawmed::eval
