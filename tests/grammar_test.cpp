// EventGrammar: constrained greedy decoding picks the best token the event grammar allows.
#include "text/grammar.h"
#include "text/serialize.h"
#include "text/vocab.h"

#include <gtest/gtest.h>

#include <random>

#include <string>
#include <vector>

namespace rawmed {
namespace {

struct Fixture {
  Vocab vocab;
  uint16_t labs, meds, item, value, unit, dose, glucose, mgdl, word_mg;
  nlohmann::json columns = nlohmann::json::parse(R"({"tables": [
      {"name": "labs", "columns": [{"name": "item", "type": "categorical"}, {"name": "value", "type": "numeric"},
                                   {"name": "unit", "type": "categorical"}]},
      {"name": "meds", "columns": [{"name": "dose", "type": "numeric"}]}]})");
  Fixture() {
    labs = vocab.add("labs", TokenKind::kTable);
    meds = vocab.add("meds", TokenKind::kTable);
    item = vocab.add("item", TokenKind::kColumn);
    value = vocab.add("value", TokenKind::kColumn);
    unit = vocab.add("unit", TokenKind::kColumn);
    dose = vocab.add("dose", TokenKind::kColumn);
    glucose = vocab.add("glucose", TokenKind::kValue);
    mgdl = vocab.add("mg/dL", TokenKind::kValue);
    word_mg = vocab.add("mg", TokenKind::kWord);
  }
  // Scores where, at slot s, token wanted[s][0] scores highest, wanted[s][1] next, and so on.
  std::vector<float> scores(const std::vector<std::vector<uint16_t>>& wanted) const {
    std::vector<float> out(wanted.size() * vocab.size(), 0.0f);
    for (size_t s = 0; s < wanted.size(); ++s)
      for (size_t r = 0; r < wanted[s].size(); ++r) out[s * vocab.size() + wanted[s][r]] = 10.0f - float(r);
    return out;
  }
  static uint16_t b(char c) { return Vocab::byte_id(static_cast<unsigned char>(c)); }
  // Decodes `events` events of `slots` slots from uniform random scores.
  std::vector<DecodedEvent> decode_random(const EventGrammar& g, size_t slots, int events, unsigned seed) const {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> scores(slots * vocab.size());
    std::vector<uint16_t> tokens(slots);
    std::vector<uint8_t> types(slots);
    std::vector<DecodedEvent> out;
    for (int e = 0; e < events; ++e) {
      for (auto& x : scores) x = uniform(rng);
      g.decode(scores.data(), slots, tokens.data(), types.data());
      out.push_back(vocab.decode_event(tokens.data(), types.data(), slots));
    }
    return out;
  }
};

TEST(EventGrammar, ValidScoresDecodeToThemselves) {
  Fixture f;
  EventGrammar g(f.vocab, f.columns);
  std::vector<uint16_t> event = {f.labs, f.item, f.glucose, f.value, Fixture::b('-'), Fixture::b('1'),
                                 Fixture::b('.'), Fixture::b('5'), f.unit, f.mgdl, kSepId, kPadId};
  std::vector<std::vector<uint16_t>> wanted;
  for (auto t : event) wanted.push_back({t});
  auto scores = f.scores(wanted);
  std::vector<uint16_t> tokens(event.size());
  std::vector<uint8_t> types(event.size());
  g.decode(scores.data(), event.size(), tokens.data(), types.data());
  EXPECT_EQ(tokens, event);
  DecodedEvent decoded = f.vocab.decode_event(tokens.data(), types.data(), tokens.size());
  ASSERT_TRUE(decoded.ok) << decoded.error;
  EXPECT_EQ(decoded.pairs[1], (std::pair<std::string, std::string>{"value", "-1.5"}));
}

TEST(EventGrammar, InvalidFavouritesGiveWayToTheBestAllowedToken) {
  Fixture f;
  EventGrammar g(f.vocab, f.columns);
  auto b = Fixture::b;
  // Favourites that break the grammar at every step; the second choice is the valid one.
  std::vector<std::vector<uint16_t>> wanted = {
      {f.item, f.labs},             // a column before the table
      {f.dose, f.value},            // a column of another table; skipping `item` is allowed
      {f.unit, b('.'), b('4')},     // a column with no value yet; a number cannot start with '.'
      {b('.'), b('2')},             // "4." is fine...
      {b('.'), b('7')},             // ...but not a second point (nor an end on the point)
      {f.value, f.unit},            // `value` again (already used)
      {b('x'), f.mgdl},             // a byte piece may start a categorical value
      {f.glucose, kSepId},          // but no whole-value token after a piece
      {f.labs, kSepId}};
  auto scores = f.scores(wanted);
  std::vector<uint16_t> tokens(wanted.size());
  std::vector<uint8_t> types(wanted.size());
  g.decode(scores.data(), wanted.size(), tokens.data(), types.data());
  EXPECT_EQ(tokens, (std::vector<uint16_t>{f.labs, f.value, b('4'), b('.'), b('7'), f.unit, b('x'), kSepId, kPadId}));
  DecodedEvent decoded = f.vocab.decode_event(tokens.data(), types.data(), tokens.size());
  ASSERT_TRUE(decoded.ok) << decoded.error;
  EXPECT_EQ(decoded.pairs, (std::vector<std::pair<std::string, std::string>>{{"value", "4.7"}, {"unit", "x"}}));
}

TEST(EventGrammar, LastSlotEndsTheEventAndANumberEndsOnADigit) {
  Fixture f;
  EventGrammar g(f.vocab, f.columns);
  auto b = Fixture::b;
  // The scores want "meds dose 3 ." forever; the number may not end on its point.
  std::vector<std::vector<uint16_t>> wanted = {{f.meds}, {f.dose}, {b('3')}, {b('.'), kSepId, b('1')}, {b('.')}};
  auto scores = f.scores(wanted);
  std::vector<uint16_t> tokens(5);
  std::vector<uint8_t> types(5);
  g.decode(scores.data(), 5, tokens.data(), types.data());
  EXPECT_EQ(tokens, (std::vector<uint16_t>{f.meds, f.dose, b('3'), kSepId, kPadId}));
  // Only the first 4 of 16 slots decoded: slot 3 is not the last, so the point is kept.
  g.decode(scores.data(), 4, tokens.data(), types.data(), 16);
  EXPECT_EQ(tokens[3], b('.'));
}


TEST(EventGrammar, CategoricalValuesAreKnownValuesOnly) {
  Fixture f;
  // `unit` knows two values: the whole token "mg/dL" and "mg/L", spelled as the word "mg" + bytes.
  f.columns["tables"][0]["columns"][2]["categories"] = {{"mg/dL", 10}, {"mg/L", 3}};
  EventGrammar g(f.vocab, f.columns);
  auto b = Fixture::b;
  // The scores want "mg" then "/X": only "mg/L" is a known value, and it must end there.
  std::vector<std::vector<uint16_t>> wanted = {
      {f.labs}, {f.unit}, {f.word_mg, f.mgdl}, {b('/')}, {b('X'), b('L')}, {b('s'), kSepId}, {kSepId}};
  auto scores = f.scores(wanted);
  std::vector<uint16_t> tokens(wanted.size());
  std::vector<uint8_t> types(wanted.size());
  g.decode(scores.data(), wanted.size(), tokens.data(), types.data());
  EXPECT_EQ(tokens, (std::vector<uint16_t>{f.labs, f.unit, f.word_mg, b('/'), b('L'), kSepId, kPadId}));
  // In 5 slots "mg/L" (3 tokens) no longer fits before SEP: the whole token "mg/dL" does, and a
  // value cut short (an unknown "mg/") is never written.
  g.decode(scores.data(), 5, tokens.data(), types.data());
  EXPECT_EQ(std::vector<uint16_t>(tokens.begin(), tokens.begin() + 5),
            (std::vector<uint16_t>{f.labs, f.unit, f.mgdl, kSepId, kPadId}));
  // A categorical column without `categories` in columns.json takes any pieces (item here).
  wanted = {{f.labs}, {f.item}, {b('z')}, {kSepId}};
  scores = f.scores(wanted);
  g.decode(scores.data(), 4, tokens.data(), types.data());
  EXPECT_EQ(std::vector<uint16_t>(tokens.begin(), tokens.begin() + 4),
            (std::vector<uint16_t>{f.labs, f.item, b('z'), kSepId}));
}


// Random scores, many events: every decoded event parses, its numbers are canonical and inside
// their column's range, or the item's range when the item is known.
TEST(EventGrammar, RandomScoresGiveCanonicalNumbersInRange) {
  Fixture f;
  auto& labs = f.columns["tables"][0];
  labs["item_column"] = "item";
  labs["columns"][0]["categories"] = {{"glucose", 10}};
  labs["columns"][0]["null_rate"] = 0.0;
  labs["columns"][1]["min"] = -5.0;
  labs["columns"][1]["max"] = 900.0;
  labs["columns"][1]["item_ranges"] = {{"glucose", {50.0, 300.5}}};
  auto& meds = f.columns["tables"][1];
  meds["columns"][0]["min"] = 1.0;
  meds["columns"][0]["max"] = 500.0;
  EventGrammar g(f.vocab, f.columns, 2);
  int numbers = 0;
  for (const auto& event : f.decode_random(g, 14, 400, 3)) {
    ASSERT_TRUE(event.ok) << event.error;
    bool has_item = false;
    for (const auto& [column, value] : event.pairs) {
      has_item = has_item || column == "item";
      if (column != "value" && column != "dose") continue;
      ++numbers;
      ASSERT_TRUE(is_canonical_number(value, 2)) << value;
      double x = std::stod(value);
      if (column == "dose") EXPECT_TRUE(x >= 1 && x <= 500) << value;
      else EXPECT_TRUE(x >= 50 && x <= 300.5) << value;  // the item (glucose) always comes first
    }
    if (event.table == "labs") EXPECT_TRUE(has_item);  // the required item is never skipped
  }
  EXPECT_GT(numbers, 100);
}


// eICU intakeOutput writes its numbers before its item (celllabel): the item chosen must be one
// whose train ranges hold the numbers already written.
TEST(EventGrammar, AnItemAfterTheNumbersFitsThem) {
  Fixture f;
  f.vocab.add("io", TokenKind::kTable);
  f.vocab.add("total", TokenKind::kColumn);
  f.vocab.add("label", TokenKind::kColumn);
  f.vocab.add("urine", TokenKind::kValue);
  f.vocab.add("blood", TokenKind::kValue);
  f.columns["tables"].push_back(nlohmann::json::parse(R"({"name": "io", "item_column": "label", "columns": [
      {"name": "total", "type": "numeric", "null_rate": 0.0, "min": 0, "max": 300,
       "item_ranges": {"urine": [0, 10], "blood": [100, 200]}},
      {"name": "label", "type": "categorical", "null_rate": 0.0, "categories": {"urine": 5, "blood": 5}}]})"));
  EventGrammar g(f.vocab, f.columns);
  int checked = 0;
  for (const auto& event : f.decode_random(g, 8, 400, 5)) {
    ASSERT_TRUE(event.ok) << event.error;
    if (event.table != "io" || event.pairs.size() != 2) continue;
    double total = std::stod(event.pairs[0].second);
    if (event.pairs[1].second == "urine") EXPECT_LE(total, 10) << total;
    else EXPECT_GE(total, 100) << total;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

}  // namespace
}  // namespace rawmed
