#include "text/grammar.h"

#include "common/error.h"
#include "text/serialize.h"

#include <algorithm>
#include <cstdint>

namespace rawmed {

EventGrammar::EventGrammar(const Vocab& vocab, const nlohmann::json& columns) : vocab_size_(vocab.size()) {
  for (size_t id = 0; id < vocab.size(); ++id) {
    TokenKind kind = vocab.token(static_cast<uint16_t>(id)).kind;
    kinds_.push_back(kind);
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
    for (const auto& c : t.value("columns", nlohmann::json::array())) {
      int column_id = vocab.find(TokenKind::kColumn, c.value("name", ""));
      if (column_id < 0) continue;
      if (c.value("name", "") == t.value("item_column", "") && c.value("null_rate", 1.0) == 0.0)
        table.item = table.columns.size();
      table.columns.push_back(static_cast<uint16_t>(column_id));
      table.numeric.push_back(c.value("type", "") == "numeric");
      table.categories.push_back(-1);
      if (c.value("type", "") != "categorical" || !c.contains("categories")) continue;
      // The tokens prepare writes for each known value: encode a one-pair event, keep the value.
      table.categories.back() = static_cast<int>(nodes_.size());
      nodes_.emplace_back();
      for (const auto& category : c.at("categories").items()) {
        encoder.encode(static_cast<uint16_t>(table_id), {static_cast<uint16_t>(column_id)}, {category.key()}, {false},
                       &encoded);
        add_value(table.categories.back(), std::vector<uint16_t>(encoded.tokens.begin() + 2, encoded.tokens.end() - 1));
      }
    }
    table_ids_.push_back(static_cast<uint16_t>(table_id));
    tables_.emplace(static_cast<uint16_t>(table_id), std::move(table));
  }
  if (table_ids_.empty()) fail("columns.json: none of its tables is in the vocabulary");
}

int EventGrammar::add_value(int root, const std::vector<uint16_t>& tokens) {
  int node = root;
  for (uint16_t token : tokens) {
    auto& children = nodes_[node].children;
    auto it = std::find_if(children.begin(), children.end(), [&](const auto& c) { return c.first == token; });
    if (it != children.end()) {
      node = it->second;
      continue;
    }
    int child = static_cast<int>(nodes_.size());
    nodes_[node].children.emplace_back(token, child);  // before emplace_back below invalidates `children`
    nodes_.emplace_back();
    node = child;
  }
  nodes_[node].ends_value = node != root;
  return node;
}

void EventGrammar::decode(const float* scores, size_t n, uint16_t* tokens, uint8_t* types, size_t slots) const {
  if (slots == 0) slots = n;
  enum class State { kTable, kColumn, kValue } state = State::kTable;
  const Table* table = nullptr;
  size_t next_column = 0;  // columns before this index are used (or skipped)
  bool numeric = false, whole = false, point = false, ends_on_digit = false, ended = false;
  size_t value_tokens = 0;
  int node = -1;  // categorical value: where it is in its column's trie
  std::vector<uint16_t> allowed;
  allowed.reserve(vocab_size_);
  auto is_digit = [&](uint16_t id) { return id >= digits_.front() && id <= digits_.back(); };

  for (size_t s = 0; s < n; ++s) {
    if (ended) {
      tokens[s] = kPadId;
      types[s] = kTypePad;
      continue;
    }
    allowed.clear();
    auto allow = [&](const std::vector<uint16_t>& ids) { allowed.insert(allowed.end(), ids.begin(), ids.end()); };
    auto allow_next_columns_or_end = [&] {
      bool item_due = table->item != SIZE_MAX && next_column <= table->item;
      size_t last = item_due ? table->item + 1 : table->columns.size();
      for (size_t j = next_column; j < last; ++j)
        if (table->categories[j] < 0 || !nodes_[table->categories[j]].children.empty())
          allowed.push_back(table->columns[j]);
      if (!item_due) allowed.push_back(kSepId);
    };
    if (state == State::kTable) {
      allow(table_ids_);
    } else if (state == State::kColumn) {
      allow_next_columns_or_end();
    } else if (numeric) {
      if (ends_on_digit) allow_next_columns_or_end();
      allow(digits_);
      if (value_tokens == 0) allowed.push_back(minus_);
      if (ends_on_digit && !point) allowed.push_back(point_);
    } else if (node >= 0) {
      if (nodes_[node].ends_value) allow_next_columns_or_end();
      for (const auto& child : nodes_[node].children) allowed.push_back(child.first);
    } else {
      if (value_tokens > 0) allow_next_columns_or_end();
      if (!whole) {
        if (value_tokens == 0) allow(whole_values_);
        allow(pieces_);
      }
    }

    // A token is only taken if the event can still end by slot `slots - 1`: after a column, or a
    // number's '-' or '.', it needs a value token and SEP; after any other token just SEP.
    const size_t left = slots - s - 1;
    const bool in_number = state == State::kValue && numeric;
    auto fits = [&](uint16_t id) {
      if (id == kSepId) return true;
      bool two = kinds_[id] == TokenKind::kColumn || (in_number && (id == minus_ || id == point_));
      return (two ? 2u : 1u) <= left;
    };
    uint16_t best = kSepId;
    const float* row = scores + s * vocab_size_;
    bool found = false;
    for (uint16_t id : allowed)
      if (fits(id) && (!found || row[id] > row[best])) best = id, found = true;
    tokens[s] = best;

    TokenKind kind = kinds_[best];
    if (kind == TokenKind::kSep) {
      types[s] = kTypeSep;
      ended = true;
    } else if (kind == TokenKind::kTable) {
      types[s] = kTypeTable;
      table = &tables_.at(best);
      state = State::kColumn;
    } else if (kind == TokenKind::kColumn) {
      types[s] = kTypeColumn;
      while (table->columns[next_column] != best) ++next_column;
      numeric = table->numeric[next_column];
      node = table->categories[next_column++];
      state = State::kValue;
      value_tokens = 0;
      whole = point = ends_on_digit = false;
    } else {
      types[s] = kTypeValue;
      ++value_tokens;
      if (node >= 0) {
        const auto& children = nodes_[node].children;
        node = std::find_if(children.begin(), children.end(), [&](const auto& c) { return c.first == best; })->second;
      }
      whole = kind == TokenKind::kValue;
      point = point || best == point_;
      ends_on_digit = is_digit(best);
    }
  }
}

}  // namespace rawmed
