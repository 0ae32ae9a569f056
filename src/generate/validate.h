#pragma once
// The "editor": checks generated stays against what the training split allows before release
// Torch-free; rules come from WORK/dataset/columns.json and, when set, the constraint schema
// WORK/dataset/constraints.json (dependent columns are repaired from their source, any other
// broken rule rejects the event).
//
//   ValidationRules rules = ValidationRules::from_columns_json(columns, {.window_minutes = 720, .min_patients = 5});
//   StayVerdict v = rules.check_stay(events);   // repairs categorical values in place
//   if (!v.ok) counts[failure_name(v.reason)]++;
#include "text/constraints.h"
#include "text/vocab.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rawmed::generate {

// One generated event: decoded text (vocab.decode_event) and its minute since ICU admission.
struct GenEvent {
  int32_t minutes = 0;
  DecodedEvent event;
};

enum class Failure : uint8_t {
  kNone,
  kSyntax,             // tokens do not form `table (column value)+ SEP`
  kUnknownTable,
  kUnknownColumn,
  kDuplicateColumn,
  kMissingItem,        // the table's item column is absent
  kUnparsableNumber,   // numeric column value is not a plain decimal number (nan, inf, 1e5, 1.2.3 are rejected)
  kOutOfRange,         // outside the column's training [min, max]
  kOutOfItemRange,     // outside the item's training [min, max] for this column (or the item never had a value here)
  kUnknownCategory,    // never seen in training, and no allowed value within the edit distance
  kEmptyValue,
  kTimeDecreasing,
  kTimeOutsideWindow,
  kTooFewEvents,
  kRuleViolation,      // breaks a rule of WORK/dataset/constraints.json that cannot be repaired
};
const char* failure_name(Failure failure);

struct StayVerdict {
  bool ok = true;
  Failure reason = Failure::kNone;
  std::string detail;       // e.g. "event 3: labevents.valuenum = 1e9 outside [0.1, 982]"
  int repaired_values = 0;    // categorical values replaced by a close allowed value
  int suppressed_values = 0;  // rare values (fewer than k) removed from their event
  int suppressed_events = 0;  // events removed because their item is rare (fewer than k)
  bool drop_event = false;    // check_event: the event's item is rare; check_stay removes it
  std::map<std::string, int> dropped_invalid_events;  // drop_invalid_events mode: removed events by reason
  // Constraint rules (by kind) that events broke as decoded, and the ones repaired from their source column.
  std::map<std::string, int> rule_violations, rule_repairs;
  std::string rule_kind;  // kRuleViolation: the kind of the first rule left broken
};

struct RuleOptions {
  int32_t window_minutes = 12 * 60;  // events must lie in [0, window_minutes]
  int min_patients = 5;              // k: categorical values emitted verbatim must be seen in >= k patients
  double max_edit_distance = 0.25;   // normalized Levenshtein distance for categorical repair (0: no repair)
  int min_events = 1;                // a stay needs at least this many events
  // false (default, docs/method.md): one invalid event rejects the stay. true: invalid events are removed
  // and the stay is kept if min_events remain ([generate] invalid_events = "drop_event").
  bool drop_invalid_events = false;
};

struct ColumnRule {
  std::string name;
  std::string type;  // "numeric" | "categorical" | "text"
  double min = 0, max = -1;          // numeric; min > max: no value allowed
  std::unordered_map<std::string, std::pair<double, double>> item_ranges;  // item value -> [min, max]
  bool has_item_ranges = false;
  std::unordered_set<std::string> known;     // categorical and text values seen in training
  std::unordered_set<std::string> allowed;   // categorical values seen in >= k patients (emitted as is)
  std::vector<std::string> allowed_sorted;   // same, sorted: deterministic repair
};

struct TableRule {
  std::string name, item_column;
  bool item_required = false;  // the item column is never empty in the train split (null_rate 0)
  std::map<std::string, ColumnRule> columns;
};

class ValidationRules {
 public:
  // columns.json format: docs/formats/generate.md. Errors name `origin` and the bad field.
  static ValidationRules from_columns_json(const nlohmann::json& columns, const RuleOptions& options,
                                           const std::string& origin = "columns.json");
  // Checks a stay in order; repairs categorical values in place, removes rare values (seen in
  // fewer than k) of columns other than the item column, and removes events whose item is rare.
  // Stops at the first failure.
  StayVerdict check_stay(std::vector<GenEvent>& events) const;
  // One event's content (no time checks).
  StayVerdict check_event(DecodedEvent& event) const;

  const RuleOptions& options() const { return options_; }
  // The constraint schema to enforce after the per-column checks (nullptr: none). Not owned.
  void set_constraints(const ConstraintSchema* constraints) { constraints_ = constraints; }
  const TableRule* find_table(const std::string& name) const;

 private:
  void repair_constraints(const TableConstraints& table, DecodedEvent& event, StayVerdict* v) const;
  StayVerdict check_constraints(const TableConstraints& table, DecodedEvent& event, StayVerdict v) const;
  RuleOptions options_;
  const ConstraintSchema* constraints_ = nullptr;
  std::map<std::string, TableRule> tables_;
};

// Strict decimal number: optional '-', digits, optional '.' and digits. No exponent, nan, inf, spaces.
bool parse_plain_number(const std::string& text, double* value);
// Levenshtein distance divided by the longer length (0 identical, 1 nothing in common).
double normalized_edit_distance(const std::string& a, const std::string& b);

}  // namespace rawmed::generate
