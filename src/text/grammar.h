#pragma once
// Grammar-constrained decoding of one event. The codec's decoder scores every token at every
// slot independently, and a plain argmax per slot often writes an event that does not parse
// (a value where a column belongs, a column of another table, no SEP). EventGrammar walks the
// slots left to right and takes, at each slot, the best-scoring token the grammar allows there:
//   table (column value)* SEP
//   - columns of that table only, in columns.json order (the order events are serialized in),
//     each at most once; the table's `item_column` (columns.json) is not skipped when no train
//     row leaves it empty (null_rate 0);
//   - a numeric column's value spelled as prepare spells numbers (canonical: no leading zeros,
//     at most `decimals` fraction digits, no trailing fraction zero) and inside the range the
//     train split has for the column, or for the event's item when the column has item ranges
//     (columns.json `min`/`max`, `item_ranges`; a column the item never had is not written);
//   - a categorical column's value (with `categories` in columns.json): one of the train split's
//     values, spelled as prepare spells it (walked through a token trie);
//   - any other column's value: one whole-value token, or word and byte pieces.
// The last slot is SEP when the event has not ended before. Torch-free.
//
// With a constraint schema (text/constraints.h, WORK/dataset/constraints.json), columns are
// still decoded in serialization order, and each rule applies whichever of its columns comes first
// (docs/formats/constraints.md, "Decoding order"):
//   - item_values / determined_by: once the source is written, a later categorical column takes
//     only the values the rule allows (not written when none is left); a determined_by source
//     written after its column takes only values that map to what the column holds; a column a
//     determined_by rule fills is not passed over, and a column passed over counts as empty;
//   - a column written before the item takes only values some item still possible allows, and
//     the item then is one these rules allow with the values written before it (when the slots
//     left hold none, only the number ranges filter);
//   - same_value / ratio: once the number is written (as text or as the other numeric column),
//     a numeric column's range shrinks to that number (ratio: the listed ratios times it).
// A ratio into a text column, and anything the slots left cannot hold, is left to the editor
// (generate/validate.h).
#include "text/constraints.h"
#include "text/vocab.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace rawmed {

// A table's item column must be in every event when no train row leaves it empty (its
// columns.json `null_rate` is 0; a missing null_rate counts as 0). Shared by EventGrammar and the
// generation editor (src/generate/validate.cpp).
inline bool item_column_required(const nlohmann::json& column) { return column.value("null_rate", 0.0) == 0.0; }

class EventGrammar {
 public:
  // columns: columns.json (tables with their modelled columns, in order, and their types).
  // constraints: optional, not owned; must outlive the grammar.
  EventGrammar(const Vocab& vocab, const nlohmann::json& columns, int decimals = 4,
               const ConstraintSchema* constraints = nullptr);

  // scores: n slots x vocab size, row-major (logits or log-probabilities). Writes n tokens and
  // their types (PAD after SEP). `slots`: the event's slot count L when only its first n slots
  // are decoded (0: n); only slot L - 1 is forced to be SEP.
  void decode(const float* scores, size_t n, uint16_t* tokens, uint8_t* types, size_t slots = 0) const;

  size_t vocab_size() const { return vocab_size_; }

  // The same decoding one slot at a time, for decoders whose scores at a slot depend on the
  // tokens chosen before it. `slots`: the event's slot count L (the last one is forced to SEP).
  class Cursor {
   public:
    Cursor(const EventGrammar& grammar, size_t slots);
    ~Cursor();
    Cursor(Cursor&&) noexcept;
    Cursor& operator=(Cursor&&) noexcept;
    // The best-scoring token (scores: one row of vocab size) the grammar allows at the next slot,
    // and its type; PAD once the event has ended.
    uint16_t step(const float* scores, uint8_t* type);
    bool ended() const;

   private:
    struct State;
    std::unique_ptr<State> state_;
  };

 private:
  struct Table {
    std::vector<uint16_t> columns;  // column token ids in serialization order
    std::vector<bool> numeric;
    std::vector<int> categories;    // per column: trie root in nodes_ of its known values, or -1
    std::vector<std::pair<double, double>> range;  // numeric columns: train [min, max]
    std::vector<std::unordered_map<std::string, std::pair<double, double>>> item_ranges;  // per item value
    std::vector<bool> has_item_ranges;
    size_t item = SIZE_MAX;         // index of the item column, SIZE_MAX: none
    bool item_required = false;     // no train row leaves the item column empty
    // Constraint rules by column index: (rule, index of its source column).
    std::vector<std::vector<std::pair<const ConstraintRule*, size_t>>> dependent_rules;  // rule.column == j
    std::vector<std::vector<std::pair<const ConstraintRule*, size_t>>> source_rules;     // rule.source == j
    std::unordered_map<const ConstraintRule*, size_t> ratio_keys;  // ratio rules: index of the key column
  };
  struct Node {
    std::vector<std::pair<uint16_t, int>> children;  // token -> node
    int value = -1;                                  // index in values_ when a known value ends here
    int shortest = 0;                                // fewest further tokens to the end of a value
  };
  int add_value(int root, const std::vector<uint16_t>& tokens, const std::string& value);
  int measure_shortest(int node);
  std::vector<std::string> values_;
  int decimals_ = 4;
  std::vector<Node> nodes_;
  std::unordered_map<uint16_t, Table> tables_;  // by table token id
  std::vector<TokenKind> kinds_;  // by token id
  std::vector<std::string> texts_;  // by token id
  std::vector<uint16_t> table_ids_, whole_values_, pieces_, digits_;
  uint16_t minus_ = 0, point_ = 0;
  size_t vocab_size_ = 0;
};

}  // namespace rawmed
