#pragma once
// Rule adherence: the share of a database's rows that satisfy every rule of the constraint
// schema learned from the real training split (text/constraints.h), per table and per rule
// kind. Scored for the synthetic data and for the real test split (the noise floor).
//
//   ConstraintSchema rules = rules_for_evaluation(real_dir, train, pool);
//   nlohmann::json adherence = evaluate_rules(rules, synthetic, pool);
//   adherence["share_satisfying_all"]  // 0..1
#include "evaluate/database.h"
#include "evaluate/evaluate.h"
#include "text/constraints.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace rawmed::eval {

// REAL/../dataset/constraints.json when it exists (what prepare learned); otherwise the rules
// learned from `train` with the default options (k = 5, min_share 0.99, 4 decimals).
ConstraintSchema rules_for_evaluation(const std::filesystem::path& real, const Database& train, const StringPool& pool);

// One row of a table as (column, value) pairs, numbers spelled canonically with `decimals` places.
RowPairs row_pairs(const Table& table, size_t row, const StringPool& pool, int decimals);

// {"rows", "rows_satisfying_all", "share_satisfying_all", "by_kind": {kind: {"rows_breaking",
//  "share_satisfying"}}, "by_table": {table: {the same, plus "rules"}}}
nlohmann::json evaluate_rules(const ConstraintSchema& rules, const Database& db, const StringPool& pool);

// The `rules` section of `rawmed evaluate`: the schema is read (or learned) once per evaluation.
ScorerFactory rules_scorer();

}  // namespace rawmed::eval
