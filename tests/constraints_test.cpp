// The constraint schema: rules learned from a hand-made table with a known unit-by-item rule
// and a known same-number pair, checked, repaired, switched off, decoded through, and learned
// from the bundled real demos (train rows satisfy their own rules; the report's noise floor).
#include "common/error.h"
#include "evaluate/database.h"
#include "evaluate/rules.h"
#include "common/config.h"
#include "ingest/prepare.h"
#include "constraints_fixture.h"
#include "test_util.h"
#include "text/constraints.h"
#include "text/dataset.h"
#include "text/grammar.h"
#include "text/vocab.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

namespace rawmed {
namespace {

// labs: item (ALT, PTT, CRP), value (text), valuenum, unit. Each item is held by 10 patients,
// 3 rows each; unit is ALT -> IU/L, PTT -> sec, CRP -> mg/L except one CRP row (one patient) in
// "mg/dL"; value holds valuenum's number except where it is text ("NEG").
RuleTable hand_made_labs() {
  return test::hand_made_labs({"ALT", "PTT", "CRP"}, [](const std::string& item, int p, int r) {
    std::string number = std::to_string(10 * p + r + (item == "PTT" ? 100 : 0));
    std::string unit = item == "ALT" ? "IU/L" : item == "PTT" ? "sec" : p == 0 && r == 0 ? "mg/dL" : "mg/L";
    return std::array<std::string, 3>{item == "CRP" && r == 2 ? "NEG" : number, number, unit};
  });
}

ConstraintOptions test_options() {
  ConstraintOptions o;
  o.min_patients = 5;
  o.min_support = 10;
  o.min_share = 0.95;
  return o;
}

const ConstraintRule* find_rule(const TableConstraints& t, const std::string& id) {
  for (const auto& r : t.rules)
    if (r.id == id) return &r;
  return nullptr;
}

TEST(Constraints, FindsUnitByItemAndTheSameNumberPair) {
  ConstraintSchema schema = ConstraintSchema::learn({hand_made_labs()}, test_options());
  const TableConstraints* t = schema.find("labs");
  ASSERT_NE(t, nullptr);
  const ConstraintRule* unit = find_rule(*t, "labs:determined_by:unit:item");
  ASSERT_NE(unit, nullptr);
  EXPECT_EQ(unit->map.at("ALT"), "IU/L");
  EXPECT_EQ(unit->map.at("CRP"), "mg/L");
  EXPECT_NEAR(unit->share, 89.0 / 90.0, 1e-12);
  const ConstraintRule* same = find_rule(*t, "labs:same_value:value:valuenum");
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->rows, 80);  // the 10 "NEG" rows are not numbers
  EXPECT_DOUBLE_EQ(same->share, 1.0);
  // k = 5: "mg/dL" is held by one patient with CRP, so it is not listed for CRP.
  const ConstraintRule* values = find_rule(*t, "labs:item_values:unit:item");
  ASSERT_NE(values, nullptr);
  EXPECT_EQ(values->values.at("CRP"), (std::unordered_set<std::string>{"mg/L"}));
  const ConstraintRule* range = find_rule(*t, "labs:item_range:valuenum:item");
  ASSERT_NE(range, nullptr);
  EXPECT_EQ(range->ranges.at("PTT"), std::make_pair(100.0, 192.0));
  // The unit names its item too (mg/dL, one row, has too little support to be listed).
  const ConstraintRule* item = find_rule(*t, "labs:determined_by:item:unit");
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->map.size(), 3u);
  EXPECT_EQ(schema.counts()["labs"]["determined_by"], 2);
  // valuenum determines nothing (numeric columns are never a determined_by source).
  EXPECT_EQ(find_rule(*t, "labs:determined_by:value:valuenum"), nullptr);
}

TEST(Constraints, ViolationsAreFoundAndDependentColumnsRepaired) {
  ConstraintSchema schema = ConstraintSchema::learn({hand_made_labs()}, test_options());
  const TableConstraints& t = *schema.find("labs");
  RowPairs good = {{"item", "ALT"}, {"value", "7"}, {"valuenum", "7"}, {"unit", "IU/L"}};
  EXPECT_TRUE(t.violations(good).empty());
  RowPairs bad = {{"item", "ALT"}, {"value", "6"}, {"valuenum", "150"}, {"unit", "sec"}};
  auto broken = t.violations(bad);
  std::set<std::string> ids;
  for (size_t i : broken) ids.insert(t.rules[i].id);
  EXPECT_EQ(ids, (std::set<std::string>{"labs:determined_by:unit:item", "labs:item_values:unit:item",
                                        "labs:determined_by:item:unit",
                                        "labs:same_value:value:valuenum", "labs:item_range:valuenum:item"}));
  t.repair(bad);
  EXPECT_EQ(bad, (RowPairs{{"item", "ALT"}, {"value", "150"}, {"valuenum", "150"}, {"unit", "IU/L"}}));
  // The range is not repairable: still broken.
  ASSERT_EQ(t.violations(bad).size(), 1u);
  EXPECT_EQ(t.rules[t.violations(bad)[0]].kind, RuleKind::kItemRange);
  // A missing dependent column is added in serialization order.
  RowPairs missing = {{"item", "PTT"}, {"valuenum", "120"}};
  t.repair(missing);
  EXPECT_EQ(missing, (RowPairs{{"item", "PTT"}, {"valuenum", "120"}, {"unit", "sec"}}));
}

// An item with two listed values (each held by >= k patients): a broken value is set to the one
// most train rows of the item hold, so a column decoded before its item can still be repaired.
TEST(Constraints, ItemValuesWithSeveralListedValuesRepairToTheMostCommon) {
  ConstraintOptions options = test_options();
  options.kinds = {"item_values"};
  RuleTable table = test::hand_made_labs({"MCHC"}, [](const std::string&, int patient, int row) {
    std::string unit = patient < 5 || (patient < 7 && row == 0) ? "g/dL" : "%";  // g/dL 17 rows, % 13
    return std::array<std::string, 3>{"33", "33", unit};
  });
  ConstraintSchema schema = ConstraintSchema::learn({table}, options);
  const ConstraintRule* values = find_rule(*schema.find("labs"), "labs:item_values:unit:item");
  ASSERT_NE(values, nullptr);
  EXPECT_EQ(values->values.at("MCHC"), (std::unordered_set<std::string>{"g/dL", "%"}));
  EXPECT_EQ(values->most_common.at("MCHC"), "g/dL");
  RowPairs wrong = {{"item", "MCHC"}, {"value", "33"}, {"valuenum", "33"}, {"unit", "mEq/L"}};
  EXPECT_EQ(schema.find("labs")->repair(wrong).size(), 1u);
  EXPECT_EQ(wrong.back().second, "g/dL");
  EXPECT_TRUE(schema.find("labs")->violations(wrong).empty());
  // The JSON round trip keeps it.
  ConstraintSchema reread = ConstraintSchema::from_json(schema.to_json(), "test");
  EXPECT_EQ(find_rule(*reread.find("labs"), "labs:item_values:unit:item")->most_common.at("MCHC"), "g/dL");
}

TEST(Constraints, ARuleSwitchedOffIsNotEnforcedAndAnUnknownIdIsAnError) {
  ConstraintOptions o = test_options();
  o.off = {"labs:determined_by:unit:item", "labs:item_values:unit:item", "labs:determined_by:item:unit"};
  ConstraintSchema schema = ConstraintSchema::learn({hand_made_labs()}, o);
  const TableConstraints& t = *schema.find("labs");
  EXPECT_EQ(find_rule(t, "labs:determined_by:unit:item"), nullptr);
  EXPECT_EQ(schema.switched_off.size(), 3u);
  RowPairs wrong_unit = {{"item", "ALT"}, {"valuenum", "7"}, {"unit", "sec"}};
  EXPECT_TRUE(t.violations(wrong_unit).empty());
  EXPECT_TRUE(t.repair(wrong_unit).empty());
  o.off = {"labs:determined_by:nothing:item"};
  EXPECT_THROW(ConstraintSchema::learn({hand_made_labs()}, o), Error);
}

TEST(Constraints, DeclaredRuleIsEnforcedWhateverItsShare) {
  ConstraintOptions o = test_options();
  o.min_share = 1.0;  // the unit rule holds in 89 of 90 rows: not found ...
  ConstraintSchema found = ConstraintSchema::learn({hand_made_labs()}, o);
  EXPECT_EQ(find_rule(*found.find("labs"), "labs:determined_by:unit:item"), nullptr);
  o.declared = {{"labs", "determined_by", "unit", "item"}};  // ... unless declared
  ConstraintSchema declared = ConstraintSchema::learn({hand_made_labs()}, o);
  const ConstraintRule* rule = find_rule(*declared.find("labs"), "labs:determined_by:unit:item");
  ASSERT_NE(rule, nullptr);
  EXPECT_TRUE(rule->declared);
  o.declared = {{"labs", "same_value", "value", "no_such_column"}};
  EXPECT_THROW(ConstraintSchema::learn({hand_made_labs()}, o), Error);
}

TEST(Constraints, JsonRoundTripKeepsEveryRule) {
  ConstraintSchema schema = ConstraintSchema::learn({hand_made_labs()}, test_options());
  ConstraintSchema back = ConstraintSchema::from_json(schema.to_json(), "test");
  EXPECT_EQ(back.to_json(), schema.to_json());
  RowPairs bad = {{"item", "PTT"}, {"valuenum", "120"}, {"unit", "IU/L"}};
  EXPECT_EQ(back.find("labs")->violations(bad), schema.find("labs")->violations(bad));
  nlohmann::json wrong = schema.to_json();
  wrong["format"] = "something-else";
  EXPECT_THROW(ConstraintSchema::from_json(wrong, "test"), Error);
}

TEST(Constraints, ConfigSectionSwitchesRulesOffAndRejectsUnknownKeys) {
  Config config;
  config.path = "spec.toml";
  config.dataset.min_patients_for_token = 7;
  TableSpec labs;
  labs.name = "labs";
  config.dataset.tables.push_back(labs);
  config.root = toml::parse(R"(
    [constraints]
    min_share = 0.9
    off = ["labs:determined_by:unit:item"]
    declare = [{ table = "labs", kind = "same_value", column = "value", source = "valuenum" }]
  )");
  ConstraintOptions o = read_constraint_options(config);
  EXPECT_EQ(o.min_patients, 7);
  EXPECT_DOUBLE_EQ(o.min_share, 0.9);
  EXPECT_TRUE(o.off.count("labs:determined_by:unit:item"));
  ASSERT_EQ(o.declared.size(), 1u);
  EXPECT_EQ(o.declared[0].source, "valuenum");
  config.root = toml::parse("[constraints]\nmin_shares = 0.9\n");
  EXPECT_THROW(read_constraint_options(config), Error);
  config.root = toml::parse("[constraints]\nkinds = [\"unit_rules\"]\n");
  EXPECT_THROW(read_constraint_options(config), Error);
}

// ratio: the dispensed volume is dose x a ratio fixed by the strength (2 g in 50 mL: 25 mL per g;
// 1 g in 100 mL: 100 mL per g). Found with the strength as key, checked, repaired to the most
// common ratio, silent on a dose of 0, and not learned when the kind is left out.
TEST(Constraints, RatioRuleIsFoundCheckedAndRepaired) {
  RuleTable rx;
  rx.name = "rx";
  rx.columns = {"drug", "strength", "dose", "volume"};
  rx.types = {ColumnType::kCategorical, ColumnType::kCategorical, ColumnType::kText, ColumnType::kText};
  rx.item = 0;
  for (int p = 0; p < 20; ++p)
    for (int r = 1; r <= 3; ++r) {
      bool bag = p < 10;
      rx.rows.push_back({"A", bag ? "2 g / 50 mL" : "1 g / 100 mL", std::to_string(r), std::to_string(r * (bag ? 25 : 100))});
      rx.patients.push_back(p);
    }
  ConstraintSchema schema = ConstraintSchema::learn({rx}, test_options());
  const TableConstraints* t = schema.find("rx");
  const ConstraintRule* ratio = find_rule(*t, "rx:ratio:volume:dose");
  ASSERT_NE(ratio, nullptr);
  EXPECT_EQ(ratio->key, "strength");
  EXPECT_EQ(ratio->ratios.at("2 g / 50 mL"), std::vector<double>{25.0});
  EXPECT_EQ(ratio->ratios.at("1 g / 100 mL"), std::vector<double>{100.0});
  RowPairs good = {{"drug", "A"}, {"strength", "2 g / 50 mL"}, {"dose", "2"}, {"volume", "50"}};
  EXPECT_TRUE(t->violations(good).empty());
  RowPairs bad = {{"drug", "A"}, {"strength", "2 g / 50 mL"}, {"dose", "2"}, {"volume", "120"}};
  ASSERT_EQ(t->violations(bad).size(), 1u) << t->rules[t->violations(bad).back()].id;
  t->repair(bad);
  EXPECT_EQ(bad.back(), (std::pair<std::string, std::string>{"volume", "50"}));
  RowPairs zero = {{"drug", "A"}, {"strength", "2 g / 50 mL"}, {"dose", "0"}, {"volume", "7"}};
  EXPECT_TRUE(t->violations(zero).empty());
  ConstraintOptions without = test_options();
  without.kinds.erase("ratio");
  EXPECT_EQ(find_rule(*ConstraintSchema::learn({rx}, without).find("rx"), "rx:ratio:volume:dose"), nullptr);
}

// Decoding: once the item is written, the unit column takes only the item's unit, and the
// number takes the value the text column already holds.
TEST(Constraints, GrammarDecodesThroughTheRules) {
  Vocab vocab;
  uint16_t labs = vocab.add("labs", TokenKind::kTable);
  uint16_t item = vocab.add("item", TokenKind::kColumn), value = vocab.add("value", TokenKind::kColumn);
  uint16_t valuenum = vocab.add("valuenum", TokenKind::kColumn), unit = vocab.add("unit", TokenKind::kColumn);
  uint16_t alt = vocab.add("ALT", TokenKind::kValue), iul = vocab.add("IU/L", TokenKind::kValue);
  uint16_t sec = vocab.add("sec", TokenKind::kValue);
  vocab.add("PTT", TokenKind::kValue);
  vocab.add("CRP", TokenKind::kValue);
  vocab.add("mg/L", TokenKind::kValue);
  nlohmann::json columns = nlohmann::json::parse(R"({"tables": [{"name": "labs", "item_column": "item", "columns": [
      {"name": "item", "type": "categorical", "null_rate": 0, "categories": {"ALT": 30, "PTT": 30, "CRP": 30}},
      {"name": "value", "type": "text"},
      {"name": "valuenum", "type": "numeric", "min": 0, "max": 200},
      {"name": "unit", "type": "categorical", "categories": {"IU/L": 30, "sec": 30, "mg/L": 29}}]}]})");
  ConstraintSchema schema = ConstraintSchema::learn({hand_made_labs()}, test_options());
  auto b = [](char c) { return Vocab::byte_id(static_cast<unsigned char>(c)); };
  // The model's favourites: ALT, value "6", valuenum 150, unit sec.
  std::vector<std::vector<uint16_t>> wanted = {{labs}, {item}, {alt}, {value}, {b('6')}, {valuenum},
                                               {b('1'), b('6')}, {b('5'), b('6')}, {b('0'), unit}, {unit},
                                               {sec, iul}, {kSepId}};
  std::vector<float> scores(wanted.size() * vocab.size(), 0.0f);
  for (size_t s = 0; s < wanted.size(); ++s)
    for (size_t r = 0; r < wanted[s].size(); ++r) scores[s * vocab.size() + wanted[s][r]] = 10.0f - float(r);
  std::vector<uint16_t> tokens(wanted.size());
  std::vector<uint8_t> types(wanted.size());
  EventGrammar plain(vocab, columns);
  plain.decode(scores.data(), wanted.size(), tokens.data(), types.data());
  DecodedEvent before = vocab.decode_event(tokens.data(), types.data(), tokens.size());
  ASSERT_TRUE(before.ok) << before.error;
  EXPECT_EQ(before.pairs, (RowPairs{{"item", "ALT"}, {"value", "6"}, {"valuenum", "150"}, {"unit", "sec"}}));
  EventGrammar ruled(vocab, columns, 4, &schema);
  ruled.decode(scores.data(), wanted.size(), tokens.data(), types.data());
  DecodedEvent after = vocab.decode_event(tokens.data(), types.data(), tokens.size());
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.pairs, (RowPairs{{"item", "ALT"}, {"value", "6"}, {"valuenum", "6"}, {"unit", "IU/L"}}));
  EXPECT_TRUE(schema.find("labs")->violations(after.pairs).empty());
}

// A determined_by rule whose source is written after its column (prescriptions write drug_type
// before the strength that determines it): the decoder takes only a strength that maps to the
// type already written, where the model prefers one of the drug's other strengths.
TEST(Constraints, GrammarKeepsALaterSourceInLineWithTheColumnItDetermines) {
  RuleTable rx;
  rx.name = "rx";
  rx.columns = {"type", "drug", "strength"};
  rx.types = {ColumnType::kCategorical, ColumnType::kCategorical, ColumnType::kCategorical};
  rx.item = 1;
  for (int p = 0; p < 20; ++p)
    for (int r = 0; r < 3; ++r) {  // 1 g and 3 g are MAIN, 2 g is BASE: MAIN does not name a strength
      std::string strength = p < 8 ? "1 g" : p < 14 ? "3 g" : "2 g";
      rx.rows.push_back({strength == "2 g" ? "BASE" : "MAIN", "A", strength});
      rx.patients.push_back(p);
    }
  ConstraintSchema schema = ConstraintSchema::learn({rx}, test_options());
  ASSERT_NE(find_rule(*schema.find("rx"), "rx:determined_by:type:strength"), nullptr);
  ASSERT_EQ(find_rule(*schema.find("rx"), "rx:determined_by:strength:type"), nullptr);
  Vocab vocab;
  uint16_t table = vocab.add("rx", TokenKind::kTable);
  uint16_t type = vocab.add("type", TokenKind::kColumn), drug = vocab.add("drug", TokenKind::kColumn);
  uint16_t strength = vocab.add("strength", TokenKind::kColumn);
  uint16_t base = vocab.add("BASE", TokenKind::kValue), a = vocab.add("A", TokenKind::kValue);
  uint16_t one = vocab.add("1 g", TokenKind::kValue), two = vocab.add("2 g", TokenKind::kValue);
  vocab.add("MAIN", TokenKind::kValue);
  vocab.add("3 g", TokenKind::kValue);
  nlohmann::json columns = nlohmann::json::parse(R"({"tables": [{"name": "rx", "item_column": "drug", "columns": [
      {"name": "type", "type": "categorical", "categories": {"MAIN": 42, "BASE": 18}},
      {"name": "drug", "type": "categorical", "categories": {"A": 60}},
      {"name": "strength", "type": "categorical", "categories": {"1 g": 24, "3 g": 18, "2 g": 18}}]}]})");
  std::vector<std::vector<uint16_t>> wanted = {{table}, {type}, {base}, {drug}, {a}, {strength}, {one, two}, {kSepId}};
  std::vector<float> scores(wanted.size() * vocab.size(), 0.0f);
  for (size_t s = 0; s < wanted.size(); ++s)
    for (size_t r = 0; r < wanted[s].size(); ++r) scores[s * vocab.size() + wanted[s][r]] = 10.0f - float(r);
  std::vector<uint16_t> tokens(wanted.size());
  std::vector<uint8_t> types(wanted.size());
  EventGrammar ruled(vocab, columns, 4, &schema);
  ruled.decode(scores.data(), wanted.size(), tokens.data(), types.data());
  DecodedEvent event = vocab.decode_event(tokens.data(), types.data(), tokens.size());
  ASSERT_TRUE(event.ok) << event.error;
  EXPECT_EQ(event.pairs, (RowPairs{{"type", "BASE"}, {"drug", "A"}, {"strength", "2 g"}}));
  EXPECT_TRUE(schema.find("rx")->violations(event.pairs).empty());
  // Without the rules the model's favourite, 1 g, is taken, and it breaks the rule.
  EventGrammar plain(vocab, columns);
  plain.decode(scores.data(), wanted.size(), tokens.data(), types.data());
  DecodedEvent free = vocab.decode_event(tokens.data(), types.data(), tokens.size());
  ASSERT_TRUE(free.ok) << free.error;
  EXPECT_EQ(free.pairs.back().second, "1 g");
  EXPECT_FALSE(schema.find("rx")->violations(free.pairs).empty());
}

// The bundled demos: prepare finds rules in every table kind it should, the train rows satisfy
// their own rules (up to the rows held out by k and by the 0.99 share), and the real test rows
// score a noise floor below that.
class ConstraintsReal : public ::testing::TestWithParam<const char*> {};

TEST_P(ConstraintsReal, TrainRowsSatisfyTheirRulesAndTestRowsGiveTheNoiseFloor) {
  std::string dataset = GetParam();
  auto work = test::temp_dir("constraints_" + dataset);
  nlohmann::json summary = prepare(load_config(test::source_dir() / "configs" / (dataset + ".toml")), work);
  ASSERT_TRUE(std::filesystem::exists(work / "dataset" / "constraints.json"));
  int64_t rules = 0, dependencies = 0;
  for (const auto& [table, kinds] : summary.at("constraints").at("rules_by_table").items())
    for (const auto& [kind, n] : kinds.items()) {
      rules += n.get<int64_t>();
      if (kind == "determined_by" || kind == "same_value") dependencies += n.get<int64_t>();
    }
  EXPECT_GT(rules, 0);
  EXPECT_GT(dependencies, 0);
  ConstraintSchema schema = ConstraintSchema::load((work / "dataset" / "constraints.json").string());
  eval::StringPool pool;
  auto train = eval::load_database(work / "real" / "train", pool, {.show_progress = false});
  auto test_db = eval::load_database(work / "real" / "test", pool, {.show_progress = false});
  EXPECT_EQ(eval::rules_for_evaluation(work / "real", train, pool).to_json(), schema.to_json());
  // Learned again from the loaded train database (what evaluate does without constraints.json): the same rules.
  auto relearned = eval::rules_for_evaluation(work / "no_such_folder" / "real", train, pool).to_json();
  auto prepared = schema.to_json();
  prepared["options"] = relearned["options"];
  EXPECT_EQ(relearned, prepared);
  nlohmann::json on_train = eval::evaluate_rules(schema, train, pool);
  nlohmann::json on_test = eval::evaluate_rules(schema, test_db, pool);
  // Every found rule holds in at least min_share (0.99) of the train rows it was measured on;
  // over all rules together the train rows may break a few more.
  for (const auto& t : schema.tables())
    for (const auto& r : t.rules)
      if (r.kind == RuleKind::kDeterminedBy || r.kind == RuleKind::kSameValue) {
        EXPECT_GE(r.share, 0.99) << r.id;
      }
  EXPECT_EQ(on_train["by_kind"]["item_range"]["rows_breaking"], 0);  // ranges are the train ranges
  // The rest: (item, value) pairs held by fewer than k patients are not listed (eICU demo: 0.88 of the train rows satisfy every rule).
  EXPECT_GT(on_train["share_satisfying_all"].get<double>(), 0.85);
  EXPECT_LE(on_test["share_satisfying_all"].get<double>(), on_train["share_satisfying_all"].get<double>());
  EXPECT_GT(on_test["share_satisfying_all"].get<double>(), 0.5);
  std::cout << dataset << ": rules by table " << summary["constraints"]["rules_by_table"].dump() << "\n  train "
            << on_train["share_satisfying_all"] << " test (noise floor) " << on_test["share_satisfying_all"] << " "
            << on_test["by_kind"].dump() << "\n";
}

// Decoding random scores through the real schema: the item-conditioned kinds and the dependencies
// between columns hold in every decoded row, whatever the model prefers. (A ratio into a text column
// is left to the editor: the decoder does not spell text to a number.)
TEST_P(ConstraintsReal, RandomScoresDecodeThroughTheRulesIntoRowsThatKeepThem) {
  std::string dataset = GetParam();
  auto work = test::temp_dir("constraints_decode_" + dataset);
  prepare(load_config(test::source_dir() / "configs" / (dataset + ".toml")), work);
  ConstraintSchema schema = ConstraintSchema::load((work / "dataset" / "constraints.json").string());
  Dataset data = Dataset::load(work / "dataset");
  EventGrammar grammar(data.vocab, data.columns, data.decimals(), &schema);
  const size_t slots = static_cast<size_t>(data.max_tokens_per_event()), vocab = data.vocab.size();
  std::mt19937 rng(7);
  std::normal_distribution<float> noise;
  std::vector<float> scores(slots * vocab);
  std::vector<uint16_t> tokens(slots);
  std::vector<uint8_t> types(slots);
  std::map<std::string, int> broken;
  int events = 0;
  for (int e = 0; e < 1000; ++e) {
    for (float& x : scores) x = noise(rng);
    grammar.decode(scores.data(), slots, tokens.data(), types.data());
    DecodedEvent event = data.vocab.decode_event(tokens.data(), types.data(), slots);
    ASSERT_TRUE(event.ok) << event.error;
    const TableConstraints* t = schema.find(event.table);
    if (!t) continue;
    ++events;
    for (size_t i : t->violations(event.pairs)) {
      const ConstraintRule& r = t->rules[i];
      auto column = std::find(t->columns.begin(), t->columns.end(), r.column) - t->columns.begin();
      bool text_ratio = r.kind == RuleKind::kRatio && data.columns["tables"].size() > 0 &&
                        [&] {
                          for (const auto& jt : data.columns["tables"])
                            if (jt["name"] == event.table) return jt["columns"][column]["type"] != "numeric";
                          return false;
                        }();
      if (!text_ratio) ++broken[r.id];
    }
  }
  EXPECT_GT(events, 700);
  // A number pinned by same_value that lies outside its item's range is not pinned (the editor
  // repairs or rejects it): a few rows in a thousand. Every other rule holds in every row.
  int same_value = 0;
  for (auto it = broken.begin(); it != broken.end();)
    if (it->first.find(":same_value:") != std::string::npos) same_value += it->second, it = broken.erase(it);
    else ++it;
  EXPECT_LT(same_value, events / 100);
  // Rarely the slots left cannot hold any item the rules allow, and the item is then chosen by the
  // number ranges alone (one event in 1,000 on the eICU demo).
  int others = 0;
  for (const auto& [id, n] : broken) others += n;
  EXPECT_LE(others, events / 500) << nlohmann::json(broken).dump();
  std::cout << dataset << ": " << events << " decoded events; rule breaks " << nlohmann::json(broken).dump()
            << ", same_value " << same_value << "\n";
}

INSTANTIATE_TEST_SUITE_P(Demos, ConstraintsReal, ::testing::Values("mimic-iv-demo", "eicu-demo", "mimic-iii-demo"));

}  // namespace
}  // namespace rawmed
