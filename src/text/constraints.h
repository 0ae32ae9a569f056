#pragma once
// The constraint schema: rules between the columns of one event row, learned from the training
// split by `prepare` and written to WORK/dataset/constraints.json (docs/formats/constraints.md).
// Decoding (text/grammar.h), the generation editor (generate/validate.h) and the report
// (evaluate/rules.h) all read it. Torch-free.
//
// Rule kinds (values are the serialized values: dictionary labels, canonical numbers, raw text):
//   item_values    per item, the values of a categorical column seen with it (each held by >= k
//                  patients together with the item; an item held by < k patients has no entry)
//   item_range     per item, the [min, max] of a numeric column (null: the item never had one)
//   determined_by  `column` = f(`source`) (an empty f value: the column is empty) in at least
//                  min_share of the train rows whose source value is listed
//   same_value     `column` carries the number of the numeric `source` (text "7" and 7, or two
//                  equal numeric columns) in at least min_share of the rows where both are numbers
//   ratio          `column` = r x `source` for two columns holding numbers (the dispensed volume
//                  and the dose of a drug of a given strength), r one of the ratios listed for the
//                  row's value of the `key` column (each held by >= k patients), in at least
//                  ratio_min_share of the rows where both are numbers (a source of 0: no rule)
//
//   ConstraintSchema schema = ConstraintSchema::learn(tables, options);      // prepare
//   const TableConstraints* t = schema.find("labevents");
//   auto broken = t->violations(pairs);      // indices into t->rules
//   auto fixed = t->repair(pairs);  // dependent columns set from their source
#include "common/config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace rawmed {

enum class RuleKind : uint8_t { kItemValues, kItemRange, kDeterminedBy, kSameValue, kRatio };
constexpr int kNumRuleKinds = 5;
const char* rule_kind_name(RuleKind kind);
std::optional<RuleKind> parse_rule_kind(std::string_view name);

// One row as (column, value) pairs; absent columns are empty.
using RowPairs = std::vector<std::pair<std::string, std::string>>;

struct ConstraintRule {
  RuleKind kind = RuleKind::kItemValues;
  std::string id;      // "<table>:<kind>:<column>:<source>", the name the config switches off
  std::string column;  // the constrained (dependent) column
  std::string source;  // the item column, or the column it depends on
  bool declared = false;  // declared in the config rather than found
  double share = 1;       // share of the train rows it was measured on that satisfy it
  int64_t rows = 0;       // train rows it was measured on
  std::unordered_map<std::string, std::unordered_set<std::string>> values;               // item_values
  std::unordered_map<std::string, std::string> most_common;  // item_values: per item, its listed value in most train rows
  std::unordered_map<std::string, std::optional<std::pair<double, double>>> ranges;      // item_range
  std::unordered_map<std::string, std::string> map;                                      // determined_by
  std::string key;                                  // ratio: the column whose value picks the ratio
  std::unordered_map<std::string, std::vector<double>> ratios;  // ratio: per key value, column / source, most common first
};

struct TableConstraints {
  std::string name, item_column;
  std::vector<std::string> columns;  // the modelled columns, serialization order
  std::vector<ConstraintRule> rules;
  int decimals = 4;  // numbers are compared to this many places

  // Rules the row breaks (indices into `rules`). A rule whose source is empty or unlisted does not apply.
  std::vector<size_t> violations(const RowPairs& row) const;
  bool satisfied(const ConstraintRule& rule, const RowPairs& row) const;
  // Sets each broken determined_by / same_value / ratio column from its source, and a broken item_values
  // column to its item's one listed value (none: the value is removed; several: the one in most
  // train rows of the item, `most_common`); adds, replaces or
  // removes the pair, keeping `columns` order. Returns the rules repaired.
  std::vector<size_t> repair(RowPairs& row) const;
};

// Learning options and the config's [constraints] section.
struct ConstraintOptions {
  int min_patients = 5;          // k
  double min_share = 0.99;       // determined_by / same_value / ratio: share of train rows that must agree
  int64_t min_support = 20;      // rows a source value (or a same_value pair) needs to count
  double min_coverage = 0.5;     // determined_by, ratio: share of source rows whose value has the support
  double ratio_min_share = 0.95;  // ratio: share of train rows whose ratio is listed for their key
  int decimals = 4;              // as the dataset's: numbers are compared to this many places
  std::string origin = "[constraints]";  // names the config in errors
  std::unordered_set<std::string> kinds = {"item_values", "item_range", "determined_by", "same_value", "ratio"};
  std::unordered_set<std::string> off;  // rule ids switched off
  struct Declared {
    std::string table, kind, column, source, key;  // key: ratio only ("": the item column)
  };
  std::vector<Declared> declared;  // determined_by / same_value / ratio rules enforced whatever their share
};
// Reads [constraints] (absent: defaults; k is the dataset's min_patients_for_token).
ConstraintOptions read_constraint_options(const Config& config);

// The training rows of one table, as prepare serializes them.
struct RuleTable {
  std::string name;
  std::vector<std::string> columns;
  std::vector<ColumnType> types;
  int item = -1;                               // index in `columns`, -1: none
  std::vector<std::vector<std::string>> rows;  // per row, per column ("" = empty)
  std::vector<int32_t> patients;               // per row, a patient number
};

class ConstraintSchema {
 public:
  static ConstraintSchema learn(const std::vector<RuleTable>& tables, const ConstraintOptions& options);
  static ConstraintSchema from_json(const nlohmann::json& json, const std::string& origin);
  static ConstraintSchema load(const std::string& path);  // errors name the file
  nlohmann::json to_json() const;
  // Per table, the number of rules of each kind (prepare.json "constraints").
  nlohmann::json counts() const;

  const TableConstraints* find(const std::string& table) const;
  const std::vector<TableConstraints>& tables() const { return tables_; }
  int decimals() const { return decimals_; }
  std::vector<std::string> switched_off;  // ids of rules found but switched off in the config

 private:
  nlohmann::json options_;
  int decimals_ = 4;
  std::vector<TableConstraints> tables_;
};

// Both texts are numbers (plain decimals) within half a unit of the last of `decimals` places.
bool same_number(const std::string& a, const std::string& b, int decimals);
// `value` is within the ratio rule's tolerance of `expected` (half a unit of the last place, or
// 0.5% of the value: the train data rounds both columns).
bool ratio_holds(double value, double expected, int decimals);

}  // namespace rawmed
