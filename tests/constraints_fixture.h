#pragma once
// A hand-made labs table for the constraint tests: columns item (categorical), value (text),
// valuenum (numeric), unit (categorical); per item 10 patients with 3 rows each.
#include "text/constraints.h"

#include <array>
#include <string>
#include <vector>

namespace rawmed::test {

// row(item, patient 0..9, row 0..2) gives {value, valuenum, unit}.
template <typename Row>
RuleTable hand_made_labs(const std::vector<std::string>& items, Row&& row) {
  RuleTable t;
  t.name = "labs";
  t.columns = {"item", "value", "valuenum", "unit"};
  t.types = {ColumnType::kCategorical, ColumnType::kText, ColumnType::kNumeric, ColumnType::kCategorical};
  t.item = 0;
  int32_t patient = 0;
  for (const auto& item : items)
    for (int p = 0; p < 10; ++p, ++patient)
      for (int r = 0; r < 3; ++r) {
        std::array<std::string, 3> cells = row(item, p, r);
        t.rows.push_back({item, cells[0], cells[1], cells[2]});
        t.patients.push_back(patient);
      }
  return t;
}

}  // namespace rawmed::test
