#include "text/constraints.h"

#include "common/error.h"
#include "text/serialize.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace rawmed {
namespace {

constexpr const char* kFormat = "rawmed-constraints/1";

// Strict decimal number (no exponent, nan, inf or spaces), as prepare spells numbers.
bool plain_number(std::string_view text, double* value) {
  size_t i = 0, n = text.size(), digits = 0;
  if (i < n && text[i] == '-') ++i;
  while (i < n && text[i] >= '0' && text[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i < n && text[i] == '.') {
    size_t frac = 0;
    ++i;
    while (i < n && text[i] >= '0' && text[i] <= '9') ++i, ++frac;
    if (frac == 0) return false;
  }
  if (i != n) return false;
  auto result = std::from_chars(text.data(), text.data() + n, *value);
  return result.ec == std::errc() && result.ptr == text.data() + n;
}

std::string rule_id(const std::string& table, RuleKind kind, const std::string& column, const std::string& source) {
  return table + ":" + rule_kind_name(kind) + ":" + column + ":" + source;
}

double round_significant(double x, int digits) {
  if (x == 0 || !std::isfinite(x)) return x;
  double scale = std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(x)))));
  return std::round(x * scale) / scale;
}

const std::string* find_value(const RowPairs& row, const std::string& column) {
  for (const auto& [c, v] : row)
    if (c == column) return v.empty() ? nullptr : &v;
  return nullptr;
}

// Distinct patients per key, counted over rows visited patient by patient.
struct Holders {
  int64_t rows = 0;
  int patients = 0;
  int32_t last = -1;
  void add(int32_t patient) {
    ++rows;
    if (patient != last) ++patients, last = patient;
  }
};

struct Learner {
  const RuleTable& t;
  const ConstraintOptions& o;
  std::vector<size_t> order;  // rows sorted by patient, so that Holders counts each patient once

  Learner(const RuleTable& table, const ConstraintOptions& options) : t(table), o(options) {
    order.resize(t.rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.patients[a] < t.patients[b]; });
  }
  const std::string& cell(size_t r, size_t c) const { return t.rows[r][c]; }
  bool numeric(size_t c) const { return t.types[c] == ColumnType::kNumeric; }

  // Source values with enough rows and patients (k) to be listed verbatim.
  std::map<std::string, Holders> listed_sources(size_t source, int64_t min_rows) const {
    std::map<std::string, Holders> values;
    for (size_t r : order)
      if (!cell(r, source).empty()) values[cell(r, source)].add(t.patients[r]);
    for (auto it = values.begin(); it != values.end();)
      it = it->second.patients >= o.min_patients && it->second.rows >= min_rows ? std::next(it) : values.erase(it);
    return values;
  }

  ConstraintRule make(RuleKind kind, size_t column, size_t source) const {
    ConstraintRule rule;
    rule.kind = kind;
    rule.column = t.columns[column];
    rule.source = t.columns[source];
    rule.id = rule_id(t.name, kind, rule.column, rule.source);
    return rule;
  }

  ConstraintRule item_values(size_t column) const {
    size_t item = static_cast<size_t>(t.item);
    ConstraintRule rule = make(RuleKind::kItemValues, column, item);
    auto items = listed_sources(item, 1);
    std::map<std::pair<std::string, std::string>, Holders> pairs;
    for (size_t r : order)
      if (items.count(cell(r, item))) {
        ++rule.rows;
        if (!cell(r, column).empty()) pairs[{cell(r, item), cell(r, column)}].add(t.patients[r]);
      }
    for (const auto& [item_value, holders] : items) rule.values[item_value];
    int64_t listed = 0, with_value = 0;
    std::map<std::string, int64_t> most_common_rows;
    for (const auto& [key, holders] : pairs) {
      with_value += holders.rows;
      if (holders.patients < o.min_patients) continue;
      rule.values[key.first].insert(key.second);
      listed += holders.rows;
      if (holders.rows > most_common_rows[key.first]) {  // pairs are sorted: ties keep the smaller value
        most_common_rows[key.first] = holders.rows;
        rule.most_common[key.first] = key.second;
      }
    }
    rule.share = rule.rows ? 1.0 - static_cast<double>(with_value - listed) / static_cast<double>(rule.rows) : 1.0;
    return rule;
  }

  ConstraintRule item_range(size_t column) const {
    size_t item = static_cast<size_t>(t.item);
    ConstraintRule rule = make(RuleKind::kItemRange, column, item);
    auto items = listed_sources(item, 1);
    for (const auto& [item_value, holders] : items) rule.ranges[item_value] = std::nullopt;
    for (size_t r : order) {
      auto it = rule.ranges.find(cell(r, item));
      double x;
      if (it == rule.ranges.end()) continue;
      ++rule.rows;
      if (!plain_number(cell(r, column), &x)) continue;
      auto& range = it->second;
      range = range ? std::make_pair(std::min(range->first, x), std::max(range->second, x)) : std::make_pair(x, x);
    }
    return rule;
  }

  // `column` = f(`source`): f is the most common column value (empty included) per listed source value.
  std::optional<ConstraintRule> determined_by(size_t column, size_t source, bool declared) const {
    ConstraintRule rule = make(RuleKind::kDeterminedBy, column, source);
    auto sources = listed_sources(source, o.min_support);
    int64_t source_rows = 0;
    std::map<std::pair<std::string, std::string>, Holders> pairs;
    for (size_t r : order) {
      if (cell(r, source).empty()) continue;
      ++source_rows;
      if (sources.count(cell(r, source))) pairs[{cell(r, source), cell(r, column)}].add(t.patients[r]);
    }
    std::map<std::string, std::pair<std::string, const Holders*>> best;
    for (const auto& [key, holders] : pairs) {
      auto& b = best[key.first];
      if (!b.second || holders.rows > b.second->rows) b = {key.second, &holders};
    }
    int64_t agree = 0;
    std::set<std::string> images;
    for (const auto& [source_value, b] : best) {
      // A value written because of the rule is listed verbatim: its pair needs k patients.
      if (!b.first.empty() && b.second->patients < o.min_patients) continue;
      rule.map[source_value] = b.first;
      images.insert(b.first);
      rule.rows += sources.at(source_value).rows;
      agree += b.second->rows;
    }
    if (rule.map.empty()) return std::nullopt;
    rule.share = static_cast<double>(agree) / static_cast<double>(rule.rows);
    rule.declared = declared;
    if (declared) return rule;
    bool covered = static_cast<double>(rule.rows) >= o.min_coverage * static_cast<double>(source_rows);
    if (!covered || rule.share < o.min_share || images.size() < 2) return std::nullopt;
    return rule;
  }

  // `column` carries the number of numeric `source` where both are numbers.
  std::optional<ConstraintRule> same_value(size_t column, size_t source, bool declared) const {
    ConstraintRule rule = make(RuleKind::kSameValue, column, source);
    int64_t agree = 0;
    double unused;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      if (cell(r, source).empty() || !plain_number(cell(r, column), &unused)) continue;
      ++rule.rows;
      agree += same_number(cell(r, column), cell(r, source), o.decimals);
    }
    rule.share = rule.rows ? static_cast<double>(agree) / static_cast<double>(rule.rows) : 0.0;
    rule.declared = declared;
    if (declared) return rule;
    if (rule.rows < o.min_support || rule.share < o.min_share) return std::nullopt;
    return rule;
  }

  // A numeric column, or a text column with numbers in it (categorical codes are no quantities).
  bool holds_numbers(size_t c) const {
    if (numeric(c)) return true;
    if (t.types[c] != ColumnType::kText) return false;
    double unused;
    for (size_t r = 0; r < t.rows.size(); ++r)
      if (plain_number(cell(r, c), &unused)) return true;
    return false;
  }

  // `column` = r x `source`, r listed per key value: the ratios (to 4 significant digits) of the
  // rows where both columns are numbers and the source is not 0, each held by k patients.
  std::optional<ConstraintRule> ratio(size_t column, size_t source, size_t key, bool declared) const {
    ConstraintRule rule = make(RuleKind::kRatio, column, source);
    rule.key = t.columns[key];
    auto keys = listed_sources(key, o.min_support);
    int64_t both = 0;
    std::map<std::string, std::map<double, Holders>> by_key;
    for (size_t r : order) {
      double a, b;
      if (!plain_number(cell(r, source), &a) || !plain_number(cell(r, column), &b) || a == 0) continue;
      ++both;
      if (keys.count(cell(r, key))) by_key[cell(r, key)][round_significant(b / a, 4)].add(t.patients[r]);
    }
    std::set<double> images;
    int64_t agree = 0;
    for (const auto& [key_value, ratios] : by_key) {
      std::vector<std::pair<int64_t, double>> listed;  // (rows, ratio), most rows first
      for (const auto& [ratio, holders] : ratios) {
        rule.rows += holders.rows;
        if (holders.patients < o.min_patients) continue;
        listed.emplace_back(holders.rows, ratio);
        agree += holders.rows;
        images.insert(ratio);
      }
      std::stable_sort(listed.begin(), listed.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
      auto& out = rule.ratios[key_value];
      for (const auto& [rows, ratio] : listed) out.push_back(ratio);
    }
    if (rule.rows == 0) return std::nullopt;
    rule.share = static_cast<double>(agree) / static_cast<double>(rule.rows);
    rule.declared = declared;
    if (declared) return rule;
    // Not one ratio of 1 (that is same_value) or of 0 (a column of zeros); most rows covered.
    bool covered = static_cast<double>(rule.rows) >= o.min_coverage * static_cast<double>(both);
    bool only_one = images.size() == 1 && (*images.begin() == 1.0 || *images.begin() == 0.0);
    if (!covered || rule.share < o.ratio_min_share || images.empty() || only_one) return std::nullopt;
    return rule;
  }

  // Of the ratio rules between `column` and `source`, the one whose key explains the most rows.
  std::optional<ConstraintRule> best_ratio(size_t column, size_t source) const {
    std::optional<ConstraintRule> best;
    for (size_t key = 0; key < t.columns.size(); ++key) {
      if (key == column || key == source || numeric(key)) continue;
      auto rule = ratio(column, source, key, false);
      // Ties go to the key that leaves fewer ratios to choose from (the strength, not the drug).
      auto choices = [](const ConstraintRule& r) {
        size_t n = 0;
        for (const auto& [value, ratios] : r.ratios) n += ratios.size();
        return static_cast<double>(n) / static_cast<double>(std::max<size_t>(1, r.ratios.size()));
      };
      if (rule && (!best || rule->share > best->share ||
                   (rule->share == best->share && choices(*rule) < choices(*best))))
        best = std::move(rule);
    }
    return best;
  }
};

size_t column_of(const RuleTable& t, const std::string& name, const ConstraintOptions& o) {
  auto it = std::find(t.columns.begin(), t.columns.end(), name);
  if (it == t.columns.end())
    fail("{}: declare: table '{}' has no modelled column '{}' (columns: {})", o.origin, t.name, name,
         fmt::join(t.columns, ", "));
  return static_cast<size_t>(it - t.columns.begin());
}

TableConstraints learn_table(const RuleTable& t, const ConstraintOptions& o, std::vector<std::string>* off) {
  TableConstraints out;
  out.name = t.name;
  out.columns = t.columns;
  out.decimals = o.decimals;
  if (t.item >= 0) out.item_column = t.columns[static_cast<size_t>(t.item)];
  Learner learner(t, o);
  std::vector<ConstraintRule> found;
  const size_t n = t.columns.size();
  const bool have_item = t.item >= 0 && !learner.numeric(static_cast<size_t>(t.item));
  for (size_t c = 0; c < n; ++c) {
    if (!have_item || static_cast<int>(c) == t.item) continue;
    if (t.types[c] == ColumnType::kCategorical && o.kinds.count("item_values")) found.push_back(learner.item_values(c));
    if (learner.numeric(c) && o.kinds.count("item_range")) found.push_back(learner.item_range(c));
  }
  if (o.kinds.count("determined_by"))
    for (size_t source = 0; source < n; ++source)
      for (size_t c = 0; c < n; ++c)
        if (c != source && !learner.numeric(c) && !learner.numeric(source))
          if (auto rule = learner.determined_by(c, source, false)) found.push_back(std::move(*rule));
  if (o.kinds.count("same_value"))
    for (size_t source = 0; source < n; ++source)
      for (size_t c = 0; c < n; ++c) {
        // A text column from a numeric one; of two numeric columns the later from the earlier.
        bool pair = learner.numeric(source) && c != source && (!learner.numeric(c) || c > source);
        if (pair)
          if (auto rule = learner.same_value(c, source, false)) found.push_back(std::move(*rule));
      }
  if (o.kinds.count("ratio")) {
    std::vector<bool> numbers(n);
    for (size_t c = 0; c < n; ++c) numbers[c] = learner.holds_numbers(c);
    auto has_same_value = [&](size_t c, size_t source) {
      return std::any_of(found.begin(), found.end(), [&](const ConstraintRule& r) {
        return r.kind == RuleKind::kSameValue && r.column == t.columns[c] && r.source == t.columns[source];
      });
    };
    // The later column from the earlier one, as decoded; only into a text column: a numeric column
    // is bounded by its item's range, and a ratio into it fought those ranges (MIMIC-IV reference
    // ranges: the repair set values outside them, and 570 of 600 sampled stays were rejected).
    for (size_t source = 0; source < n; ++source)
      for (size_t c = source + 1; c < n; ++c)
        if (numbers[source] && numbers[c] && !learner.numeric(c) && static_cast<int>(c) != t.item &&
            static_cast<int>(source) != t.item &&
            !has_same_value(c, source))
          if (auto rule = learner.best_ratio(c, source)) found.push_back(std::move(*rule));
  }
  for (const auto& d : o.declared) {
    if (d.table != t.name) continue;
    size_t c = column_of(t, d.column, o), source = column_of(t, d.source, o);
    std::optional<ConstraintRule> rule;
    if (d.kind == "determined_by") {
      if (learner.numeric(c) || learner.numeric(source))
        fail("{}: declare: determined_by needs non-numeric columns ({}.{} by {})", o.origin, t.name, d.column, d.source);
      rule = learner.determined_by(c, source, true);
    } else if (d.kind == "ratio") {
      if (d.key.empty() && t.item < 0) fail("{}: declare: ratio {}.{} needs a key (the table has no item)", o.origin, t.name, d.column);
      size_t key = d.key.empty() ? static_cast<size_t>(t.item) : column_of(t, d.key, o);
      rule = learner.ratio(c, source, key, true);
    } else {
      if (!learner.numeric(source))
        fail("{}: declare: same_value needs a numeric source ({}.{} is not numeric)", o.origin, t.name, d.source);
      rule = learner.same_value(c, source, true);
    }
    if (!rule) fail("{}: declare: {} {}.{} by {}: no train row supports it", o.origin, d.kind, t.name, d.column, d.source);
    std::erase_if(found, [&](const ConstraintRule& r) { return r.id == rule->id; });
    found.push_back(std::move(*rule));
  }
  for (auto& rule : found) {
    if (!rule.declared && o.off.count(rule.id)) off->push_back(rule.id);
    else out.rules.push_back(std::move(rule));
  }
  return out;
}

nlohmann::json rule_to_json(const ConstraintRule& r) {
  nlohmann::json j = {{"id", r.id},       {"kind", rule_kind_name(r.kind)}, {"column", r.column}, {"source", r.source},
                      {"declared", r.declared}, {"share", r.share},         {"rows", r.rows}};
  if (r.kind == RuleKind::kItemValues) {
    std::map<std::string, std::set<std::string>> sorted;
    for (const auto& [item, values] : r.values) sorted[item].insert(values.begin(), values.end());
    j["values"] = sorted;
    j["most_common"] = std::map<std::string, std::string>(r.most_common.begin(), r.most_common.end());
  } else if (r.kind == RuleKind::kItemRange) {
    nlohmann::json ranges = nlohmann::json::object();
    for (const auto& [item, range] : std::map(r.ranges.begin(), r.ranges.end()))
      ranges[item] = range ? nlohmann::json::array({range->first, range->second}) : nlohmann::json(nullptr);
    j["ranges"] = ranges;
  } else if (r.kind == RuleKind::kDeterminedBy) {
    j["map"] = std::map<std::string, std::string>(r.map.begin(), r.map.end());
  } else if (r.kind == RuleKind::kRatio) {
    j["key"] = r.key;
    j["ratios"] = std::map<std::string, std::vector<double>>(r.ratios.begin(), r.ratios.end());
  }
  return j;
}

ConstraintRule rule_from_json(const nlohmann::json& j, const std::string& origin) {
  ConstraintRule r;
  r.id = j.at("id");
  auto kind = parse_rule_kind(j.at("kind").get<std::string>());
  if (!kind) fail("{}: rule {}: unknown kind '{}'", origin, r.id, j.at("kind").get<std::string>());
  r.kind = *kind;
  r.column = j.at("column");
  r.source = j.at("source");
  r.declared = j.value("declared", false);
  r.share = j.value("share", 1.0);
  r.rows = j.value("rows", int64_t{0});
  if (r.kind == RuleKind::kItemValues)
    for (const auto& [item, values] : j.at("values").items())
      r.values[item] = values.get<std::unordered_set<std::string>>();
  if (r.kind == RuleKind::kItemValues && j.contains("most_common"))
    r.most_common = j.at("most_common").get<std::unordered_map<std::string, std::string>>();
  if (r.kind == RuleKind::kItemRange)
    for (const auto& [item, range] : j.at("ranges").items())
      r.ranges[item] = range.is_null() ? std::nullopt
                                       : std::optional(std::make_pair(range.at(0).get<double>(), range.at(1).get<double>()));
  if (r.kind == RuleKind::kDeterminedBy) r.map = j.at("map").get<std::unordered_map<std::string, std::string>>();
  if (r.kind == RuleKind::kRatio) {
    r.key = j.at("key");
    r.ratios = j.at("ratios").get<std::unordered_map<std::string, std::vector<double>>>();
  }
  return r;
}

std::vector<std::string> string_list(const toml::table& section, const char* key, const Config& config) {
  std::vector<std::string> out;
  const toml::node* node = section.get(key);
  if (!node) return out;
  const toml::array* array = node->as_array();
  if (!array) fail("{}: 'constraints.{}' must be a list of strings", config.path.string(), key);
  for (const auto& element : *array) {
    auto text = element.value<std::string>();
    if (!text) fail("{}: 'constraints.{}' must be a list of strings", config.path.string(), key);
    out.push_back(*text);
  }
  return out;
}

}  // namespace

const char* rule_kind_name(RuleKind kind) {
  switch (kind) {
    case RuleKind::kItemValues: return "item_values";
    case RuleKind::kItemRange: return "item_range";
    case RuleKind::kDeterminedBy: return "determined_by";
    case RuleKind::kSameValue: return "same_value";
    case RuleKind::kRatio: return "ratio";
  }
  return "?";
}

std::optional<RuleKind> parse_rule_kind(std::string_view name) {
  for (int k = 0; k < kNumRuleKinds; ++k)
    if (name == rule_kind_name(static_cast<RuleKind>(k))) return static_cast<RuleKind>(k);
  return std::nullopt;
}

bool same_number(const std::string& a, const std::string& b, int decimals) {
  double x, y;
  if (!plain_number(a, &x) || !plain_number(b, &y)) return false;
  return std::fabs(x - y) <= 0.5 * std::pow(10.0, -decimals) + 1e-9 * std::max(1.0, std::fabs(x));
}

bool ratio_holds(double value, double expected, int decimals) {
  return std::fabs(value - expected) <= 0.5 * std::pow(10.0, -decimals) + 0.005 * std::fabs(value) + 1e-12;
}

namespace {
// The values a ratio rule allows in its column, the most common first; empty when the rule does
// not apply to the row (no key or source, an unlisted key).
std::vector<double> expected_by_ratio(const ConstraintRule& rule, const RowPairs& row) {
  const std::string* key = find_value(row, rule.key);
  const std::string* source = find_value(row, rule.source);
  double a;
  std::vector<double> out;
  if (!key || !source || !plain_number(*source, &a) || a == 0) return out;  // learned on sources other than 0
  auto it = rule.ratios.find(*key);
  if (it == rule.ratios.end()) return out;
  for (double r : it->second) out.push_back(r * a);
  return out;
}
}  // namespace

bool TableConstraints::satisfied(const ConstraintRule& rule, const RowPairs& row) const {
  const std::string* source = find_value(row, rule.source);
  const std::string* value = find_value(row, rule.column);
  if (!source) return true;
  switch (rule.kind) {
    case RuleKind::kItemValues: {
      auto it = rule.values.find(*source);
      return it == rule.values.end() || !value || it->second.count(*value);
    }
    case RuleKind::kItemRange: {
      auto it = rule.ranges.find(*source);
      if (it == rule.ranges.end() || !value) return true;
      double x;
      if (!it->second || !plain_number(*value, &x)) return false;
      return x >= it->second->first - 1e-9 && x <= it->second->second + 1e-9;
    }
    case RuleKind::kDeterminedBy: {
      auto it = rule.map.find(*source);
      return it == rule.map.end() || it->second == (value ? *value : std::string());
    }
    case RuleKind::kSameValue: {
      double unused;
      return !value || !plain_number(*value, &unused) || same_number(*value, *source, decimals);
    }
    case RuleKind::kRatio: {
      double x;
      auto expected = expected_by_ratio(rule, row);
      if (expected.empty() || !value || !plain_number(*value, &x)) return true;
      return std::any_of(expected.begin(), expected.end(), [&](double e) { return ratio_holds(x, e, decimals); });
    }
  }
  return true;
}

std::vector<size_t> TableConstraints::violations(const RowPairs& row) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < rules.size(); ++i)
    if (!satisfied(rules[i], row)) out.push_back(i);
  return out;
}

std::vector<size_t> TableConstraints::repair(RowPairs& row) const {
  std::vector<size_t> repaired;
  auto set = [&](const std::string& column, const std::string& value) {
    auto it = std::find_if(row.begin(), row.end(), [&](const auto& p) { return p.first == column; });
    if (value.empty()) {
      if (it != row.end()) row.erase(it);
    } else if (it != row.end()) {
      it->second = value;
    } else {
      // Insert in serialization order.
      auto rank = [&](const std::string& c) { return std::find(columns.begin(), columns.end(), c) - columns.begin(); };
      auto at = std::find_if(row.begin(), row.end(), [&](const auto& p) { return rank(p.first) > rank(column); });
      row.insert(at, {column, value});
    }
  };
  for (size_t i = 0; i < rules.size(); ++i) {
    const ConstraintRule& rule = rules[i];
    if (rule.kind == RuleKind::kItemRange || satisfied(rule, row)) continue;
    if (rule.kind == RuleKind::kItemValues) {
      // The item's one listed value, or none (the column goes); with several, the one most train
      // rows of the item hold (a column decoded before its item could not be conditioned on it).
      const std::string& item = *find_value(row, rule.source);
      const auto& listed = rule.values.at(item);
      auto common = rule.most_common.find(item);
      if (listed.size() > 1 && common == rule.most_common.end()) continue;
      set(rule.column, listed.size() > 1 ? common->second : listed.empty() ? std::string() : *listed.begin());
    } else if (rule.kind == RuleKind::kDeterminedBy) {
      set(rule.column, rule.map.at(*find_value(row, rule.source)));
    } else if (rule.kind == RuleKind::kRatio) {
      auto expected = expected_by_ratio(rule, row);
      if (expected.empty()) continue;  // a key listed without ratios (none held by k patients)
      auto canonical = normalize_number(fmt::format("{:.{}f}", expected.front(), decimals), decimals);
      if (!canonical) continue;
      set(rule.column, *canonical);
    } else {
      auto canonical = normalize_number(*find_value(row, rule.source), decimals);
      if (!canonical) continue;
      set(rule.column, *canonical);
    }
    repaired.push_back(i);
  }
  return repaired;
}

ConstraintOptions read_constraint_options(const Config& config) {
  const toml::table& s = config_section(config, "constraints");
  const auto& file = config.path;
  const char* ctx = "constraints";
  check_keys(s, {"min_share", "min_support", "min_coverage", "ratio_min_share", "kinds", "off", "declare"}, ctx, file);
  ConstraintOptions o;
  o.min_patients = config.dataset.min_patients_for_token;
  o.decimals = config.dataset.decimals;
  o.origin = file.string() + ": [constraints]";
  o.min_share = get_double(s, "min_share", o.min_share, ctx, file);
  o.min_support = get_int(s, "min_support", o.min_support, ctx, file);
  o.min_coverage = get_double(s, "min_coverage", o.min_coverage, ctx, file);
  o.ratio_min_share = get_double(s, "ratio_min_share", o.ratio_min_share, ctx, file);
  if (o.ratio_min_share <= 0 || o.ratio_min_share > 1)
    fail("{}: 'constraints.ratio_min_share' must be in (0, 1]", file.string());
  if (o.min_share <= 0 || o.min_share > 1) fail("{}: 'constraints.min_share' must be in (0, 1]", file.string());
  if (o.min_support < 1) fail("{}: 'constraints.min_support' must be at least 1", file.string());
  if (o.min_coverage < 0 || o.min_coverage > 1) fail("{}: 'constraints.min_coverage' must be in [0, 1]", file.string());
  if (s.contains("kinds")) {
    o.kinds.clear();
    for (auto& kind : string_list(s, "kinds", config)) {
      if (!parse_rule_kind(kind))
        fail("{}: 'constraints.kinds': unknown kind '{}' (known: item_values, item_range, determined_by, same_value, ratio)",
             file.string(), kind);
      o.kinds.insert(kind);
    }
  }
  for (auto& id : string_list(s, "off", config)) o.off.insert(id);
  if (const toml::node* node = s.get("declare")) {
    const toml::array* array = node->as_array();
    if (!array) fail("{}: 'constraints.declare' must be a list of tables", file.string());
    for (const auto& element : *array) {
      const toml::table* d = element.as_table();
      if (!d) fail("{}: 'constraints.declare' must be a list of tables", file.string());
      check_keys(*d, {"table", "kind", "column", "source", "key"}, "constraints.declare", file);
      ConstraintOptions::Declared rule{get_string(*d, "table", "", "constraints.declare", file),
                                       get_string(*d, "kind", "", "constraints.declare", file),
                                       get_string(*d, "column", "", "constraints.declare", file),
                                       get_string(*d, "source", "", "constraints.declare", file),
                                       get_string(*d, "key", "", "constraints.declare", file)};
      if (rule.kind != "determined_by" && rule.kind != "same_value" && rule.kind != "ratio")
        fail("{}: 'constraints.declare.kind' must be \"determined_by\", \"same_value\" or \"ratio\", not \"{}\"",
             file.string(), rule.kind);
      if (!rule.key.empty() && rule.kind != "ratio")
        fail("{}: 'constraints.declare.key' is for ratio rules only", file.string());
      if (rule.table.empty() || rule.column.empty() || rule.source.empty())
        fail("{}: 'constraints.declare' needs table, column and source", file.string());
      bool known = std::any_of(config.dataset.tables.begin(), config.dataset.tables.end(),
                               [&](const TableSpec& t) { return t.name == rule.table; });
      if (!known) fail("{}: 'constraints.declare.table': no table '{}'", file.string(), rule.table);
      o.declared.push_back(std::move(rule));
    }
  }
  return o;
}

ConstraintSchema ConstraintSchema::learn(const std::vector<RuleTable>& tables, const ConstraintOptions& options) {
  ConstraintSchema schema;
  schema.decimals_ = options.decimals;
  std::vector<std::string> kinds(options.kinds.begin(), options.kinds.end());
  std::sort(kinds.begin(), kinds.end());
  schema.options_ = {{"min_patients", options.min_patients}, {"min_share", options.min_share},
                     {"min_support", options.min_support},   {"min_coverage", options.min_coverage}, {"ratio_min_share", options.ratio_min_share},
                     {"kinds", kinds}};
  for (const auto& t : tables) schema.tables_.push_back(learn_table(t, options, &schema.switched_off));
  for (const auto& id : options.off)
    if (std::find(schema.switched_off.begin(), schema.switched_off.end(), id) == schema.switched_off.end())
      fail("{}: 'constraints.off': no rule '{}' was found (rule ids: <table>:<kind>:<column>:<source>, "
           "as in constraints.json)",
           options.origin, id);
  return schema;
}

nlohmann::json ConstraintSchema::to_json() const {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : tables_) {
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : t.rules) rules.push_back(rule_to_json(r));
    tables.push_back({{"name", t.name},
                      {"item_column", t.item_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.item_column)},
                      {"columns", t.columns},
                      {"rules", rules}});
  }
  return {{"format", kFormat}, {"decimals", decimals_}, {"options", options_},
          {"tables", tables},  {"switched_off", switched_off}};
}

ConstraintSchema ConstraintSchema::from_json(const nlohmann::json& json, const std::string& origin) {
  ConstraintSchema schema;
  try {
    if (json.value("format", "") != kFormat)
      fail("{}: format is '{}', expected '{}'", origin, json.value("format", ""), kFormat);
    schema.decimals_ = json.at("decimals");
    schema.options_ = json.value("options", nlohmann::json::object());
    schema.switched_off = json.value("switched_off", std::vector<std::string>{});
    for (const auto& t : json.at("tables")) {
      TableConstraints table;
      table.name = t.at("name");
      table.decimals = schema.decimals_;
      if (t.at("item_column").is_string()) table.item_column = t["item_column"];
      table.columns = t.at("columns").get<std::vector<std::string>>();
      for (const auto& r : t.at("rules")) table.rules.push_back(rule_from_json(r, origin));
      schema.tables_.push_back(std::move(table));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid constraints file: {}", origin, e.what());
  }
  return schema;
}

ConstraintSchema ConstraintSchema::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  return from_json(json, path);
}

nlohmann::json ConstraintSchema::counts() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& t : tables_) {
    nlohmann::json kinds = nlohmann::json::object();
    for (int k = 0; k < kNumRuleKinds; ++k) kinds[rule_kind_name(static_cast<RuleKind>(k))] = 0;
    for (const auto& r : t.rules) kinds[rule_kind_name(r.kind)] = kinds[rule_kind_name(r.kind)].get<int>() + 1;
    out[t.name] = kinds;
  }
  return out;
}

const TableConstraints* ConstraintSchema::find(const std::string& table) const {
  for (const auto& t : tables_)
    if (t.name == table) return &t;
  return nullptr;
}

}  // namespace rawmed
