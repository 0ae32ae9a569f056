#include "generate/validate.h"

#include "common/error.h"
#include "text/grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace rawmed::generate {

const char* failure_name(Failure failure) {
  switch (failure) {
    case Failure::kNone: return "none";
    case Failure::kSyntax: return "syntax";
    case Failure::kUnknownTable: return "unknown_table";
    case Failure::kUnknownColumn: return "unknown_column";
    case Failure::kDuplicateColumn: return "duplicate_column";
    case Failure::kMissingItem: return "missing_item";
    case Failure::kUnparsableNumber: return "unparsable_number";
    case Failure::kOutOfRange: return "out_of_range";
    case Failure::kOutOfItemRange: return "out_of_item_range";
    case Failure::kUnknownCategory: return "unknown_category";
    case Failure::kEmptyValue: return "empty_value";
    case Failure::kTimeDecreasing: return "time_decreasing";
    case Failure::kTimeOutsideWindow: return "time_outside_window";
    case Failure::kTooFewEvents: return "too_few_events";
    case Failure::kRuleViolation: return "rule_violation";
  }
  return "?";
}

bool parse_plain_number(const std::string& text, double* value) {
  size_t i = 0, n = text.size();
  if (i < n && text[i] == '-') ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < n && text[i] >= '0' && text[i] <= '9') ++i, ++int_digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && text[i] >= '0' && text[i] <= '9') ++i, ++frac_digits;
    if (frac_digits == 0) return false;
  }
  if (i != n || int_digits == 0) return false;
  auto result = std::from_chars(text.data(), text.data() + n, *value);
  return result.ec == std::errc() && result.ptr == text.data() + n;
}

double normalized_edit_distance(const std::string& a, const std::string& b) {
  size_t longest = std::max(a.size(), b.size());
  if (longest == 0) return 0;
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return static_cast<double>(row[b.size()]) / static_cast<double>(longest);
}

namespace {

// Patients holding a category when columns.json has them ("category_patients"), else its row
// count ("categories"): rows >= patients, so the fallback is looser (documented).
std::map<std::string, int64_t> category_support(const nlohmann::json& column) {
  const char* key = column.contains("category_patients") ? "category_patients" : "categories";
  std::map<std::string, int64_t> out;
  if (!column.contains(key)) return out;
  for (const auto& [value, count] : column.at(key).items()) out[value] = count.get<int64_t>();
  return out;
}

bool looks_numeric(const std::string& text) {
  double unused;
  return parse_plain_number(text, &unused);
}

}  // namespace

ValidationRules ValidationRules::from_columns_json(const nlohmann::json& columns, const RuleOptions& options,
                                                   const std::string& origin) {
  ValidationRules rules;
  rules.options_ = options;
  try {
    for (const auto& t : columns.at("tables")) {
      TableRule table;
      table.name = t.at("name");
      if (t.contains("item_column") && t["item_column"].is_string()) table.item_column = t["item_column"];
      for (const auto& c : t.at("columns")) {
        ColumnRule rule;
        rule.name = c.at("name");
        // An item column that is empty in some train rows (eICU medication.drugname: 37%) is optional.
        if (rule.name == table.item_column) table.item_required = item_column_required(c);
        rule.type = c.at("type");
        if (rule.type == "numeric") {
          if (c.contains("min") && c["min"].is_number() && c.contains("max") && c["max"].is_number()) {
            rule.min = c["min"];
            rule.max = c["max"];
          }
          if (c.contains("item_ranges") && c["item_ranges"].is_object()) {
            rule.has_item_ranges = true;
            for (const auto& [item, range] : c["item_ranges"].items())
              rule.item_ranges[item] = {range.at(0).get<double>(), range.at(1).get<double>()};
          }
        } else {
          for (const auto& [value, support] : category_support(c)) {
            rule.known.insert(value);
            if (support >= options.min_patients) rule.allowed_sorted.push_back(value);
          }
          rule.allowed.insert(rule.allowed_sorted.begin(), rule.allowed_sorted.end());
        }
        if (rule.type != "numeric" && rule.type != "categorical" && rule.type != "text") {
          fail("{}: table {} column {}: unknown type '{}'", origin, table.name, rule.name, rule.type);
        }
        table.columns[rule.name] = std::move(rule);
      }
      rules.tables_[table.name] = std::move(table);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid columns file: {}", origin, e.what());
  }
  return rules;
}

const TableRule* ValidationRules::find_table(const std::string& name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : &it->second;
}

StayVerdict ValidationRules::check_event(DecodedEvent& event) const {
  StayVerdict v;
  auto reject = [&](Failure reason, std::string detail) {
    v.ok = false;
    v.reason = reason;
    v.detail = std::move(detail);
    return v;
  };
  if (!event.ok) return reject(Failure::kSyntax, event.error);
  const TableRule* table = find_table(event.table);
  if (!table) return reject(Failure::kUnknownTable, fmt::format("table '{}'", event.table));
  if (event.pairs.empty()) return reject(Failure::kSyntax, fmt::format("{}: no (column, value) pair", table->name));

  std::set<std::string> seen;
  const std::string* item = nullptr;
  for (const auto& [column, value] : event.pairs) {
    if (!table->columns.count(column))
      return reject(Failure::kUnknownColumn, fmt::format("{}: column '{}'", table->name, column));
    if (!seen.insert(column).second)
      return reject(Failure::kDuplicateColumn, fmt::format("{}: column '{}' twice", table->name, column));
    if (column == table->item_column) item = &value;
  }
  if (table->item_required && !item)
    return reject(Failure::kMissingItem, fmt::format("{}: no {}", table->name, table->item_column));

  // Categorical values first, so that a repaired item is the one numeric ranges are looked up for.
  // A known value held by fewer than k is never written: repaired, else removed from the event
  // (the item column cannot be removed: the stay is rejected). Text columns: new text is kept,
  // known rare text is removed.
  std::vector<bool> suppress(event.pairs.size(), false);
  for (size_t p = 0; p < event.pairs.size(); ++p) {
    auto& [column, value] = event.pairs[p];
    const ColumnRule& rule = table->columns.at(column);
    if (value.empty()) return reject(Failure::kEmptyValue, fmt::format("{}.{}", table->name, column));
    if (rule.type == "numeric" || rule.allowed.count(value)) continue;
    if (rule.type == "text") {
      if (rule.known.count(value)) suppress[p] = true;
      continue;
    }
    // A rare item is another test or drug than its near neighbours: the event goes, unrepaired.
    if (column == table->item_column && rule.known.count(value)) {
      v.drop_event = true;
      return v;
    }
    // Codes (values that are numbers) are never repaired: a near code is a different item.
    const std::string* best = nullptr;
    double best_distance = options_.max_edit_distance;
    if (!looks_numeric(value) && options_.max_edit_distance > 0) {
      for (const auto& candidate : rule.allowed_sorted) {
        if (looks_numeric(candidate)) continue;
        double d = normalized_edit_distance(value, candidate);
        if (d <= best_distance && (!best || d < best_distance)) best = &candidate, best_distance = d;
      }
    }
    if (best) {
      value = *best;
      ++v.repaired_values;
    } else if (!rule.known.count(value)) {
      return reject(Failure::kUnknownCategory, fmt::format("{}.{} = '{}'", table->name, column, value));
    } else {
      suppress[p] = true;
    }
  }
  for (size_t p = event.pairs.size(); p-- > 0;)
    if (suppress[p]) {
      event.pairs.erase(event.pairs.begin() + static_cast<std::ptrdiff_t>(p));
      ++v.suppressed_values;
    }
  const TableConstraints* constraints = constraints_ ? constraints_->find(table->name) : nullptr;
  if (constraints) repair_constraints(*constraints, event, &v);
  item = nullptr;
  for (const auto& [column, value] : event.pairs)
    if (column == table->item_column) item = &value;
  for (const auto& [column, value] : event.pairs) {
    const ColumnRule& rule = table->columns.at(column);
    if (rule.type != "numeric") continue;
    double x;
    if (!parse_plain_number(value, &x))
      return reject(Failure::kUnparsableNumber, fmt::format("{}.{} = '{}'", table->name, column, value));
    if (!(x >= rule.min && x <= rule.max))
      return reject(Failure::kOutOfRange,
                    fmt::format("{}.{} = {} outside [{}, {}]", table->name, column, value, rule.min, rule.max));
    if (item && rule.has_item_ranges && column != table->item_column) {
      auto it = rule.item_ranges.find(*item);
      if (it == rule.item_ranges.end())
        return reject(Failure::kOutOfItemRange,
                      fmt::format("{}.{} = {}: item '{}' has no training value here", table->name, column, value, *item));
      if (!(x >= it->second.first && x <= it->second.second))
        return reject(Failure::kOutOfItemRange, fmt::format("{}.{} = {} outside [{}, {}] of item '{}'", table->name,
                                                            column, value, it->second.first, it->second.second, *item));
    }
  }
  if (constraints) return check_constraints(*constraints, event, std::move(v));
  return v;
}

// Before the range checks, so that a repaired number is checked too.
void ValidationRules::repair_constraints(const TableConstraints& table, DecodedEvent& event, StayVerdict* v) const {
  auto broken = table.violations(event.pairs);
  if (broken.empty()) return;
  for (size_t r : broken) ++v->rule_violations[rule_kind_name(table.rules[r].kind)];
  for (size_t r : table.repair(event.pairs)) ++v->rule_repairs[rule_kind_name(table.rules[r].kind)];
}

StayVerdict ValidationRules::check_constraints(const TableConstraints& table, DecodedEvent& event, StayVerdict v) const {
  auto broken = table.violations(event.pairs);
  if (broken.empty()) return v;
  const ConstraintRule& rule = table.rules[broken.front()];
  v.ok = false;
  v.reason = Failure::kRuleViolation;
  v.rule_kind = rule_kind_name(rule.kind);
  std::string value;
  for (const auto& [column, text] : event.pairs)
    if (column == rule.column) value = text;
  v.detail = fmt::format("{}: {} = '{}' breaks rule {}", table.name, rule.column, value, rule.id);
  return v;
}

StayVerdict ValidationRules::check_stay(std::vector<GenEvent>& events) const {
  StayVerdict v;
  auto reject = [&](Failure reason, std::string detail) {
    v.ok = false;
    v.reason = reason;
    v.detail = std::move(detail);
    return v;
  };
  std::vector<GenEvent> kept;
  kept.reserve(events.size());
  int32_t previous = 0;
  for (size_t e = 0; e < events.size(); ++e) {
    int32_t t = events[e].minutes;
    StayVerdict ev;
    if (t < 0 || t > options_.window_minutes) {
      ev.ok = false;
      ev.reason = Failure::kTimeOutsideWindow;
      ev.detail = fmt::format("minute {} outside [0, {}]", t, options_.window_minutes);
    } else if (t < previous) {
      ev.ok = false;
      ev.reason = Failure::kTimeDecreasing;
      ev.detail = fmt::format("minute {} after minute {}", t, previous);
    } else {
      ev = check_event(events[e].event);
    }
    for (const auto& [kind, n] : ev.rule_violations) v.rule_violations[kind] += n;
    for (const auto& [kind, n] : ev.rule_repairs) v.rule_repairs[kind] += n;
    if (!ev.ok) {
      if (!options_.drop_invalid_events) {
        v.rule_kind = ev.rule_kind;
        return reject(ev.reason, fmt::format("event {}: {}", e, ev.detail));
      }
      ++v.dropped_invalid_events[failure_name(ev.reason)];
      continue;
    }
    previous = t;
    v.repaired_values += ev.repaired_values;
    v.suppressed_values += ev.suppressed_values;
    if (ev.drop_event) ++v.suppressed_events;
    else kept.push_back(std::move(events[e]));
  }
  if (static_cast<int>(kept.size()) < options_.min_events)
    return reject(Failure::kTooFewEvents, fmt::format("{} events ({} with a rare item removed), at least {} required",
                                                      kept.size(), v.suppressed_events, options_.min_events));
  events = std::move(kept);
  return v;
}

}  // namespace rawmed::generate
