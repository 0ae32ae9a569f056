#include "text/grammar.h"

#include "common/error.h"
#include "text/serialize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_set>
#include <unordered_map>

namespace rawmed {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxIntegerDigits = 15;  // as is_canonical_number

// A number spelled so far, and which values its completions can still reach.
struct NumberPrefix {
  bool negative = false, point = false;
  int int_digits = 0, frac_digits = 0, last_digit = -1;
  double int_value = 0, frac_value = 0;

  NumberPrefix with_digit(int d) const {
    NumberPrefix n = *this;
    if (point) n.frac_value += d * std::pow(10.0, -(++n.frac_digits));
    else n.int_value = n.int_value * 10 + d, ++n.int_digits;
    n.last_digit = d;
    return n;
  }
  NumberPrefix with_point() const {
    NumberPrefix n = *this;
    n.point = true;
    return n;
  }
  // Some canonical completion (at most `decimals` fraction digits, none ending on 0, no "-0")
  // lies in [lo, hi].
  bool can_reach(double lo, double hi, int decimals) const {
    const double step = std::pow(10.0, -decimals);  // the smallest fraction a completion can add
    auto hits = [&](double a, double b) {           // absolute values in [a, b]
      double x = negative ? -b : a, y = negative ? -a : b;
      return a <= b && y >= lo - 1e-9 && x <= hi + 1e-9;
    };
    if (int_digits == 0) return hits(negative ? step : 0, kInf);
    if (point) {
      double v = int_value + frac_value;
      bool here = frac_digits > 0 && last_digit != 0 && !(negative && v == 0);
      bool longer = frac_digits < decimals && hits(v + step, v + std::pow(10.0, -frac_digits) - step);
      return (here && hits(v, v)) || longer;
    }
    if (!(negative && int_value == 0) && hits(int_value, int_value)) return true;   // ends here
    if (decimals > 0 && hits(int_value + step, int_value + 1 - step)) return true;  // a fraction follows
    if (int_value == 0) return false;                                               // no leading zeros
    for (int k = 1; int_digits + k <= kMaxIntegerDigits; ++k) {
      double scale = std::pow(10.0, k);
      if (hits(int_value * scale, (int_value + 1) * scale - step)) return true;
    }
    return false;
  }
  // The number may end here: canonical and inside [lo, hi].
  bool can_end(double lo, double hi) const {
    if (int_digits == 0 || (point && (frac_digits == 0 || last_digit == 0))) return false;
    double v = (negative ? -1 : 1) * (int_value + frac_value);
    if (negative && v == 0) return false;  // "-0"
    return v >= lo - 1e-9 && v <= hi + 1e-9;
  }
};

}  // namespace

EventGrammar::EventGrammar(const Vocab& vocab, const nlohmann::json& columns, int decimals,
                           const ConstraintSchema* constraints)
    : decimals_(decimals), vocab_size_(vocab.size()) {
  for (size_t id = 0; id < vocab.size(); ++id) {
    TokenKind kind = vocab.token(static_cast<uint16_t>(id)).kind;
    kinds_.push_back(kind);
    texts_.push_back(vocab.token(static_cast<uint16_t>(id)).text);
    if (kind == TokenKind::kValue) whole_values_.push_back(static_cast<uint16_t>(id));
    if (kind == TokenKind::kWord || kind == TokenKind::kByte) pieces_.push_back(static_cast<uint16_t>(id));
  }
  for (char c = '0'; c <= '9'; ++c) digits_.push_back(Vocab::byte_id(static_cast<unsigned char>(c)));
  minus_ = Vocab::byte_id('-');
  point_ = Vocab::byte_id('.');
  if (!columns.is_object() || !columns.contains("tables")) fail("columns.json: no \"tables\" list");
  EventEncoder encoder(vocab, 1 << 20);
  EncodedEvent encoded;
  for (const auto& t : columns.at("tables")) {
    int table_id = vocab.find(TokenKind::kTable, t.value("name", ""));
    if (table_id < 0) continue;  // a table with no training events
    Table table;
    std::vector<std::string> names;
    for (const auto& c : t.value("columns", nlohmann::json::array())) {
      int column_id = vocab.find(TokenKind::kColumn, c.value("name", ""));
      if (column_id < 0) continue;
      names.push_back(c.value("name", ""));
      std::string type = c.value("type", "");
      if (c.value("name", "") == t.value("item_column", "")) {
        table.item = table.columns.size();
        table.item_required = item_column_required(c);
      }
      table.columns.push_back(static_cast<uint16_t>(column_id));
      table.numeric.push_back(type == "numeric");
      table.categories.push_back(-1);
      table.range.emplace_back(c.value("min", -kInf), c.value("max", kInf));
      table.item_ranges.emplace_back();
      table.has_item_ranges.push_back(c.contains("item_ranges") && c["item_ranges"].is_object());
      if (table.has_item_ranges.back())
        for (const auto& r : c["item_ranges"].items())
          table.item_ranges.back()[r.key()] = {r.value().at(0).get<double>(), r.value().at(1).get<double>()};
      if (type != "categorical" || !c.contains("categories")) continue;
      // The tokens prepare writes for each known value: encode a one-pair event, keep the value.
      table.categories.back() = static_cast<int>(nodes_.size());
      nodes_.emplace_back();
      for (const auto& category : c.at("categories").items()) {
        encoder.encode(static_cast<uint16_t>(table_id), {static_cast<uint16_t>(column_id)}, {category.key()}, {false},
                       &encoded);
        add_value(table.categories.back(), std::vector<uint16_t>(encoded.tokens.begin() + 2, encoded.tokens.end() - 1),
                  category.key());
      }
    }
    table.dependent_rules.resize(names.size());
    table.source_rules.resize(names.size());
    if (const TableConstraints* rules = constraints ? constraints->find(t.value("name", "")) : nullptr)
      for (const auto& rule : rules->rules) {
        auto column = std::find(names.begin(), names.end(), rule.column);
        auto source = std::find(names.begin(), names.end(), rule.source);
        if (column == names.end() || source == names.end()) continue;
        size_t j = static_cast<size_t>(column - names.begin()), i = static_cast<size_t>(source - names.begin());
        if (rule.kind == RuleKind::kRatio) {
          auto key = std::find(names.begin(), names.end(), rule.key);
          if (key == names.end()) continue;
          table.ratio_keys[&rule] = static_cast<size_t>(key - names.begin());
        }
        table.dependent_rules[j].emplace_back(&rule, i);
        table.source_rules[i].emplace_back(&rule, j);
      }
    table_ids_.push_back(static_cast<uint16_t>(table_id));
    tables_.emplace(static_cast<uint16_t>(table_id), std::move(table));
  }
  if (table_ids_.empty()) fail("columns.json: none of its tables is in the vocabulary");
  for (const auto& [id, table] : tables_)
    for (int root : table.categories)
      if (root >= 0) measure_shortest(root);
}

int EventGrammar::measure_shortest(int node) {
  int shortest = nodes_[node].value >= 0 ? 0 : 1 << 20;  // (a root without values: never)
  for (size_t c = 0; c < nodes_[node].children.size(); ++c)
    shortest = std::min(shortest, 1 + measure_shortest(nodes_[node].children[c].second));
  return nodes_[node].shortest = shortest;
}

int EventGrammar::add_value(int root, const std::vector<uint16_t>& tokens, const std::string& value) {
  int node = root;
  for (uint16_t token : tokens) {
    auto& children = nodes_[node].children;
    auto it = std::find_if(children.begin(), children.end(), [&](const auto& c) { return c.first == token; });
    if (it != children.end()) {
      node = it->second;
      continue;
    }
    int child = static_cast<int>(nodes_.size());
    children.emplace_back(token, child);  // before nodes_ grows (which invalidates `children`)
    nodes_.emplace_back();
    node = child;
  }
  if (node != root) {
    nodes_[node].value = static_cast<int>(values_.size());
    values_.push_back(value);
  }
  return node;
}

struct EventGrammar::Cursor::State {
  const EventGrammar& g;
  size_t slots, s = 0;
  enum class Phase { kTable, kColumn, kValue } phase = Phase::kTable;
  const Table* table = nullptr;
  size_t next_column = 0;  // columns before this index are used (or skipped)
  size_t column = 0;       // the column whose value is being written
  bool whole = false, ended = false;
  size_t value_tokens = 0;
  int node = -1;                   // categorical value: where it is in its column's trie
  const std::string* item = nullptr;  // the event's item value, once known
  NumberPrefix number;
  std::vector<std::pair<double, double>> ranges;  // the number being written lies in one of these
  std::vector<std::pair<size_t, double>> numbers;  // (column, value) of the numbers written so far
  std::unordered_map<int, bool> item_ok;  // item trie nodes leading to an item those numbers fit
  std::vector<std::pair<size_t, std::string>> texts;  // (column, value) of the other values written so far
  std::string text;                                    // the non-numeric value being written
  std::unordered_map<int, bool> value_ok;  // categorical trie nodes leading to a value the rules allow
  std::unordered_set<std::string> rule_allowed;  // the values the rules allow (when value_ok is set)
  bool item_rules = true;  // the item being written must fit the rules too (not only the numbers)
  std::vector<uint16_t> allowed;

  State(const EventGrammar& grammar, size_t n) : g(grammar), slots(n) { allowed.reserve(g.vocab_size_); }
  uint16_t step(const float* row, uint8_t* type);
};

uint16_t EventGrammar::Cursor::State::step(const float* row, uint8_t* type) {
  const auto& nodes_ = g.nodes_;
  const auto& values_ = g.values_;
  const auto& kinds_ = g.kinds_;
  const auto& digits_ = g.digits_;
  const auto& table_ids_ = g.table_ids_;
  const auto& whole_values_ = g.whole_values_;
  const auto& pieces_ = g.pieces_;
  const uint16_t minus_ = g.minus_, point_ = g.point_;
  const int decimals_ = g.decimals_;
  if (ended) {
    *type = kTypePad;
    ++s;
    return kPadId;
  }
  auto is_digit = [&](uint16_t id) { return id >= digits_.front() && id <= digits_.back(); };
  // The range a numeric column's value must lie in, or nullptr when the column cannot be written
  // (the event's item never had a value there).
  auto range_of = [&](size_t j, const std::string* item_value) -> const std::pair<double, double>* {
    if (!table->numeric[j]) return nullptr;
    if (item_value && table->has_item_ranges[j] && j != table->item) {
      auto it = table->item_ranges[j].find(*item_value);
      return it == table->item_ranges[j].end() ? nullptr : &it->second;
    }
    return &table->range[j];
  };

  // The text column c holds as column j is about to be written: the item, a value written before,
  // "" for a column passed over, or nullptr while c is still to come.
  auto written_text = [&](size_t c, size_t j) -> const std::string* {
    static const std::string kEmpty;
    if (c == table->item && item) return item;
    for (const auto& [col, v] : texts)
      if (col == c) return &v;
    return c < j && c != table->item ? &kEmpty : nullptr;
  };
  // An item written after some of the event's numbers must be one whose train ranges hold them.
  // ... and, while item_rules, one the constraint rules allow with the values written before it.
  auto item_fits = [&](const std::string& value) {
    for (const auto& [j, x] : numbers) {
      if (!table->has_item_ranges[j] || j == table->item) continue;
      auto it = table->item_ranges[j].find(value);
      if (it == table->item_ranges[j].end() || x < it->second.first - 1e-9 || x > it->second.second + 1e-9)
        return false;
    }
    if (!item_rules) return true;
    // The columns before the one being started are written or passed over (empty).
    for (size_t j = 0; j < std::min(column, table->item); ++j) {
      const std::string* written = table->numeric[j] ? nullptr : written_text(j, column);
      if (!written) continue;
      for (const auto& [rule, source] : table->dependent_rules[j]) {
        if (source != table->item) continue;
        if (rule->kind == RuleKind::kItemValues) {
          auto it = rule->values.find(value);
          if (!written->empty() && it != rule->values.end() && !it->second.count(*written)) return false;
        } else if (rule->kind == RuleKind::kDeterminedBy) {
          auto it = rule->map.find(value);
          if (it != rule->map.end() && it->second != *written) return false;
        }
      }
    }
    // The item itself determined by a column written before it.
    for (const auto& [rule, source] : table->dependent_rules[table->item])
      if (rule->kind == RuleKind::kDeterminedBy && source < column)
        if (const std::string* written = written_text(source, column))
          if (auto it = rule->map.find(*written); it != rule->map.end() && it->second != value) return false;
    return true;
  };
  auto mark_fitting_items = [&](auto& self, int at) -> bool {  // fills item_ok below `at`
    bool ok = nodes_[at].value >= 0 && item_fits(values_[static_cast<size_t>(nodes_[at].value)]);
    for (const auto& child : nodes_[at].children) ok = self(self, child.second) || ok;
    item_ok[at] = ok;
    return ok;
  };
  auto values_under = [&](int at) {  // every whole value in the trie below node `at`
    std::unordered_set<std::string> out;
    auto walk = [&](auto& self, int n) -> void {
      if (nodes_[n].value >= 0) out.insert(values_[static_cast<size_t>(nodes_[n].value)]);
      for (const auto& child : nodes_[n].children) self(self, child.second);
    };
    if (at >= 0) walk(walk, at);
    return out;
  };
  // A column written before the item: the values that some item, still possible, allows with it
  // (its listed values, f(item), or a value whose f is that item); nullopt when no such rule applies.
  auto values_some_item_allows = [&](size_t j) -> std::optional<std::unordered_set<std::string>> {
    const size_t it_col = table->item;
    if (item || it_col == SIZE_MAX || j >= it_col || table->categories[it_col] < 0 || !item_rules) return std::nullopt;
    std::vector<const ConstraintRule*> by_item, naming_item;
    for (const auto& [rule, source] : table->dependent_rules[j])
      if (source == it_col && rule->kind != RuleKind::kItemRange) by_item.push_back(rule);
    for (const auto& [rule, dependent] : table->source_rules[j])
      if (dependent == it_col && rule->kind == RuleKind::kDeterminedBy) naming_item.push_back(rule);
    if (by_item.empty() && naming_item.empty()) return std::nullopt;
    const auto all = values_under(table->categories[j]);
    std::unordered_set<std::string> out;
    for (const std::string& candidate : values_under(table->categories[it_col])) {
      if (!item_fits(candidate)) continue;
      auto accepts = [&](const std::string& v) {
        for (const ConstraintRule* r : by_item)
          if (r->kind == RuleKind::kItemValues) {
            if (auto it = r->values.find(candidate); it != r->values.end() && !it->second.count(v)) return false;
          } else if (auto it = r->map.find(candidate); it != r->map.end() && it->second != v) {
            return false;
          }
        for (const ConstraintRule* r : naming_item)
          if (auto it = r->map.find(v); it != r->map.end() && it->second != candidate) return false;
        return true;
      };
      // An item_values entry lists the few values to try; without one every value is a candidate.
      const std::unordered_set<std::string>* listed = &all;
      for (const ConstraintRule* r : by_item)
        if (r->kind == RuleKind::kItemValues)
          if (auto it = r->values.find(candidate); it != r->values.end() && it->second.size() < listed->size())
            listed = &it->second;
      for (const std::string& v : *listed)
        if (all.count(v) && !out.count(v) && accepts(v)) out.insert(v);
      if (out.size() == all.size()) break;
    }
    return out;
  };
  // The values a rule allows in column j given the values written before it: nullopt when no rule
  // applies; an empty set when the column must not be written.
  auto rule_values = [&](size_t j) -> std::optional<std::unordered_set<std::string>> {
    std::optional<std::unordered_set<std::string>> out;
    auto narrow = [&](const std::unordered_set<std::string>& values) {
      if (!out) out = values;
      else std::erase_if(*out, [&](const std::string& v) { return !values.count(v); });
    };
    for (const auto& [rule, source] : table->dependent_rules[j]) {
      const std::string* written = written_text(source, j);
      if (!written) continue;
      if (rule->kind == RuleKind::kItemValues) {
        auto it = rule->values.find(*written);
        if (it != rule->values.end()) narrow(it->second);
      } else if (rule->kind == RuleKind::kDeterminedBy) {
        auto it = rule->map.find(*written);
        if (it != rule->map.end()) narrow(it->second.empty() ? std::unordered_set<std::string>{}
                                                             : std::unordered_set<std::string>{it->second});
      }
    }
    if (auto values = values_some_item_allows(j)) narrow(*values);
    // A determined_by rule whose source comes after its column: the source may only take values
    // that map to what the column already holds (or values the map does not cover), so that the
    // two columns agree and the editor has nothing to repair; with none, it is left empty.
    for (const auto& [rule, dependent] : table->source_rules[j]) {
      if (rule->kind != RuleKind::kDeterminedBy || dependent > j) continue;
      const std::string* written = written_text(dependent, j);
      if (!written) continue;
      std::unordered_set<std::string> kept = out ? *out : values_under(table->categories[j]);
      const auto& map = rule->map;
      std::erase_if(kept, [&](const std::string& v) {
        auto it = map.find(v);
        return it != map.end() && it->second != *written;
      });
      out = std::move(kept);  // no value agrees: the column is not written (the rule needs its source)
    }
    return out;
  };
  // same_value / ratio: a number already written (as text or as a numeric column) fixes column j.
  auto number_written_in = [&](size_t c) -> std::optional<double> {
    std::optional<double> x;
    for (const auto& [col, v] : texts)
      if (col == c)
        if (auto canonical = normalize_number(v, decimals_)) x = std::stod(*canonical);
    for (const auto& [col, v] : numbers)
      if (col == c) x = v;
    return x;
  };
  // x rounded to the decimals, when it lies in the ranges so far.
  auto point_in_ranges = [&](double x) -> std::optional<double> {
    const double scale = std::pow(10.0, decimals_);
    x = std::round(x * scale) / scale;
    bool inside = std::any_of(ranges.begin(), ranges.end(),
                              [&](const auto& r) { return x >= r.first - 1e-9 && x <= r.second + 1e-9; });
    return inside ? std::optional(x) : std::nullopt;
  };
  auto narrow_to_same_value = [&](size_t j) {
    auto fix = [&](double x) {
      if (auto point = point_in_ranges(x)) ranges.assign(1, {*point, *point});
    };
    for (const auto& [rule, other] : table->source_rules[j])
      if (rule->kind == RuleKind::kSameValue)
        if (auto x = number_written_in(other)) fix(*x);
    for (const auto& [rule, source] : table->dependent_rules[j])
      if (rule->kind == RuleKind::kSameValue)
        for (const auto& [c, x] : numbers)
          if (c == source) fix(x);
    // ratio: the key and the source written, the number is one of the key's ratios times the source.
    for (const auto& [rule, source] : table->dependent_rules[j]) {
      if (rule->kind != RuleKind::kRatio || source > j) continue;
      const std::string* key = written_text(table->ratio_keys.at(rule), j);
      auto ratios = key ? rule->ratios.find(*key) : rule->ratios.end();
      if (ratios == rule->ratios.end() || ratios->second.empty()) continue;
      auto a = number_written_in(source);
      if (!a || *a == 0) continue;  // ratios are learned on sources other than 0
      std::vector<std::pair<double, double>> points;
      for (double r : ratios->second)
        if (auto point = point_in_ranges(r * *a)) points.emplace_back(*point, *point);
      if (!points.empty()) ranges = std::move(points);
    }
  };
  auto mark_allowed_values = [&](auto& self, int at, const std::unordered_set<std::string>& ok_values) -> bool {
    bool ok = nodes_[at].value >= 0 && ok_values.count(values_[static_cast<size_t>(nodes_[at].value)]);
    for (const auto& child : nodes_[at].children) ok = self(self, child.second, ok_values) || ok;
    value_ok[at] = ok;
    return ok;
  };

  allowed.clear();
  const size_t left = slots - s - 1;  // slots after this one
  // The item value as it stands if the value being written ends here.
  const std::string* item_if_ended = item;
  if (phase == Phase::kValue && column == table->item && node >= 0 && nodes_[node].value >= 0)
    item_if_ended = &values_[static_cast<size_t>(nodes_[node].value)];
  auto allow = [&](const std::vector<uint16_t>& ids) { allowed.insert(allowed.end(), ids.begin(), ids.end()); };
  // What the rules say of a later non-numeric column j: no value left for it (the item never had
  // one, f(source) is empty), or one it must take (a determined_by source is written).
  enum class Due { kFree, kRuledOut, kRequired };
  auto column_due = [&](size_t j) {
    if (table->numeric[j] || table->dependent_rules[j].empty()) return Due::kFree;
    const std::string* saved = item;
    item = item_if_ended;
    // The value being written (a text item, say) counts as written if it ends here.
    const bool in_text = phase == Phase::kValue && !table->numeric[column];
    if (in_text) texts.emplace_back(column, text);
    auto values = rule_values(j);
    bool required = false;
    for (const auto& [rule, source] : table->dependent_rules[j])
      if (rule->kind == RuleKind::kDeterminedBy)
        if (const std::string* written = written_text(source, j))
          if (auto it = rule->map.find(*written); it != rule->map.end() && !it->second.empty()) required = true;
    if (in_text) texts.pop_back();
    item = saved;
    return values && values->empty() ? Due::kRuledOut : required ? Due::kRequired : Due::kFree;
  };
  auto allow_next_columns_or_end = [&] {
    bool item_due = table->item_required && next_column <= table->item;
    size_t last = item_due ? table->item + 1 : table->columns.size();
    for (size_t j = next_column; j < last; ++j) {
      // A categorical column needs room for its shortest known value and SEP.
      if (table->categories[j] >= 0 && static_cast<size_t>(nodes_[table->categories[j]].shortest) + 1 > left)
        continue;
      if (table->numeric[j] && !range_of(j, item_if_ended)) continue;
      Due due = column_due(j);
      if (due == Due::kRuledOut) continue;
      allowed.push_back(table->columns[j]);
      if (due == Due::kRequired) return;  // a column the rules fill is not passed over
    }
    if (!item_due) allowed.push_back(kSepId);
  };
  if (phase == Phase::kTable) {
    allow(table_ids_);
  } else if (phase == Phase::kColumn) {
    allow_next_columns_or_end();
  } else if (table->numeric[column]) {
    auto reachable = [&](const NumberPrefix& p) {
      return std::any_of(ranges.begin(), ranges.end(),
                         [&](const auto& r) { return p.can_reach(r.first, r.second, decimals_); });
    };
    if (std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) { return number.can_end(r.first, r.second); }))
      allow_next_columns_or_end();
    const bool leading_zero = !number.point && number.int_digits == 1 && number.int_value == 0;
    for (int d = 0; d < 10; ++d) {
      // A fraction ends on a non-zero digit, so a 0 needs a later place.
      bool room = number.point ? number.frac_digits + (d == 0 ? 1 : 0) < decimals_
                               : number.int_digits < kMaxIntegerDigits;
      if (!leading_zero && room && reachable(number.with_digit(d)))
        allowed.push_back(digits_[static_cast<size_t>(d)]);
    }
    NumberPrefix negative;
    negative.negative = true;
    if (value_tokens == 0 && reachable(negative)) allowed.push_back(minus_);
    if (!number.point && number.int_digits > 0 && decimals_ > 0 &&
        reachable(number.with_point()))
      allowed.push_back(point_);
  } else if (node >= 0) {
    bool filter = column == table->item && !item_ok.empty();
    bool by_rules = !value_ok.empty();
    auto ok = [&](int n) { return (!filter || item_ok.at(n)) && (!by_rules || value_ok.at(n)); };
    if (nodes_[node].value >= 0) {
      const std::string& here = values_[static_cast<size_t>(nodes_[node].value)];
      if ((!filter || item_fits(here)) && (!by_rules || rule_allowed.count(here))) allow_next_columns_or_end();
    }
    // A value cut by the last slot would be an unknown one: only paths that still fit.
    for (const auto& child : nodes_[node].children)
      if (ok(child.second) && static_cast<size_t>(nodes_[child.second].shortest) + 1 <= left)
        allowed.push_back(child.first);
  } else {
    if (value_tokens > 0) allow_next_columns_or_end();
    if (!whole) {
      if (value_tokens == 0) allow(whole_values_);
      allow(pieces_);
    }
  }

  // A token is only taken if the event can still end by slot `slots - 1`: after a column, or a
  // number's '-' or '.', it needs a value token and SEP; after any other token just SEP.
  const bool in_number = phase == Phase::kValue && table->numeric[column];
  auto fits = [&](uint16_t id) {
    if (id == kSepId) return true;
    bool two = kinds_[id] == TokenKind::kColumn || (in_number && (id == minus_ || id == point_));
    return (two ? 2u : 1u) <= left;
  };
  uint16_t best = kSepId;
  bool found = false;
  for (uint16_t id : allowed)
    if (fits(id) && (!found || row[id] > row[best])) best = id, found = true;
  

  TokenKind kind = kinds_[best];
  if (kind == TokenKind::kSep || kind == TokenKind::kColumn) {
    item = item_if_ended;
    if (phase == Phase::kValue && table->numeric[column])
      numbers.emplace_back(column, (number.negative ? -1 : 1) * (number.int_value + number.frac_value));
    else if (phase == Phase::kValue)
      texts.emplace_back(column, text);
  }
  if (kind == TokenKind::kSep) {
    *type = kTypeSep;
    ended = true;
  } else if (kind == TokenKind::kTable) {
    *type = kTypeTable;
    table = &g.tables_.at(best);
    phase = Phase::kColumn;
  } else if (kind == TokenKind::kColumn) {
    *type = kTypeColumn;
    while (table->columns[next_column] != best) ++next_column;
    column = next_column++;
    node = table->categories[column];
    item_ok.clear();
    value_ok.clear();
    text.clear();
    if (column == table->item && node >= 0 && column > 0) {
      item_rules = true;
      if (!mark_fitting_items(mark_fitting_items, node) && !texts.empty()) {
        item_ok.clear();  // no item fits every rule: keep only the number ranges' filter
        item_rules = false;
        mark_fitting_items(mark_fitting_items, node);
      }
    }
    if (node >= 0 && column != table->item)
      if (auto values = rule_values(column); values && !values->empty()) {
        rule_allowed = std::move(*values);
        if (!mark_allowed_values(mark_allowed_values, node, rule_allowed)) value_ok.clear();
      }
    if (table->numeric[column]) {
      const auto* r = range_of(column, item);
      ranges.assign(1, r ? *r : table->range[column]);
      // The item comes later: the number must fit some item that fits the numbers so far.
      if (!item && table->has_item_ranges[column] && table->item != SIZE_MAX && table->item > column) {
        ranges.clear();
        for (const auto& [value, range] : table->item_ranges[column])
          if (item_fits(value)) ranges.push_back(range);
        if (ranges.empty()) ranges.assign(1, table->range[column]);
      }
      narrow_to_same_value(column);
    }
    number = NumberPrefix{};
    phase = Phase::kValue;
    value_tokens = 0;
    whole = false;
  } else {
    *type = kTypeValue;
    ++value_tokens;
    if (!table->numeric[column]) text += g.texts_[best];
    whole = kind == TokenKind::kValue;
    if (node >= 0) {
      const auto& children = nodes_[node].children;
      node = std::find_if(children.begin(), children.end(), [&](const auto& c) { return c.first == best; })->second;
    }
    if (table->numeric[column]) {
      if (best == minus_) number.negative = true;
      else if (best == point_) number = number.with_point();
      else if (is_digit(best)) number = number.with_digit(best - digits_.front());
    }
  }
  ++s;
  return best;
}

EventGrammar::Cursor::Cursor(const EventGrammar& grammar, size_t slots)
    : state_(std::make_unique<State>(grammar, slots)) {}
EventGrammar::Cursor::~Cursor() = default;
EventGrammar::Cursor::Cursor(Cursor&&) noexcept = default;
EventGrammar::Cursor& EventGrammar::Cursor::operator=(Cursor&&) noexcept = default;
uint16_t EventGrammar::Cursor::step(const float* scores, uint8_t* type) { return state_->step(scores, type); }
bool EventGrammar::Cursor::ended() const { return state_->ended; }

void EventGrammar::decode(const float* scores, size_t n, uint16_t* tokens, uint8_t* types, size_t slots) const {
  Cursor cursor(*this, slots == 0 ? n : slots);
  for (size_t s = 0; s < n; ++s) tokens[s] = cursor.step(scores + s * vocab_size_, &types[s]);
}

}  // namespace rawmed
