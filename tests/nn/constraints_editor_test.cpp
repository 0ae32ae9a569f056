// The editor with a constraint schema: a dependent column is repaired from its source, a broken
// rule that cannot be repaired rejects the stay, a rule switched off is not enforced, and the
// counts by rule kind add up.
#include "common/error.h"
#include "generate/validate.h"

#include "../constraints_fixture.h"

#include <gtest/gtest.h>

namespace rawmed::generate {
namespace {

// labs: 10 patients per item, 3 rows each; ALT always in IU/L, PTT in sec (5 patients) or s (5
// patients): ALT has one listed unit, PTT two, and the unit names the item; value = valuenum.
RuleTable labs() {
  return test::hand_made_labs({"ALT", "PTT"}, [](const std::string& item, int p, int r) {
    std::string number = std::to_string(10 + p + r);
    return std::array<std::string, 3>{number, number, item == "ALT" ? "IU/L" : p < 5 ? "sec" : "s"};
  });
}

nlohmann::json columns() {
  return nlohmann::json::parse(R"({"tables":[{"name":"labs","item_column":"item","columns":[
    {"name":"item","type":"categorical","categories":{"ALT":30,"PTT":30},"null_rate":0},
    {"name":"value","type":"text","categories":{}},
    {"name":"valuenum","type":"numeric","min":0,"max":100},
    {"name":"unit","type":"categorical","categories":{"IU/L":30,"sec":15,"s":15,"K/uL":30}}]}]})");
}

ConstraintSchema schema(std::unordered_set<std::string> off = {}) {
  ConstraintOptions o;
  o.min_support = 10;
  o.off = std::move(off);
  return ConstraintSchema::learn({labs()}, o);
}

GenEvent lab(std::vector<std::pair<std::string, std::string>> pairs) {
  GenEvent e;
  e.event.table = "labs";
  e.event.pairs = std::move(pairs);
  e.event.ok = true;
  return e;
}

StayVerdict check(const ConstraintSchema* constraints, std::vector<GenEvent>& stay) {
  ValidationRules rules = ValidationRules::from_columns_json(columns(), RuleOptions{});
  rules.set_constraints(constraints);
  return rules.check_stay(stay);
}

TEST(ConstraintsEditor, DependentColumnsAreRepairedFromTheirSource) {
  ConstraintSchema rules = schema();
  // ALT in sec with value 7 and valuenum 15: the unit (ALT has one) and the text value follow the item and the number.
  std::vector<GenEvent> stay = {lab({{"item", "ALT"}, {"value", "7"}, {"valuenum", "15"}, {"unit", "sec"}})};
  StayVerdict v = check(&rules, stay);
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(stay[0].event.pairs, (RowPairs{{"item", "ALT"}, {"value", "15"}, {"valuenum", "15"}, {"unit", "IU/L"}}));
  EXPECT_EQ(v.rule_violations["item_values"], 1);
  EXPECT_EQ(v.rule_violations["determined_by"], 1);  // item <- unit: sec names PTT
  EXPECT_EQ(v.rule_violations["same_value"], 1);
  EXPECT_EQ(v.rule_repairs["item_values"], 1);  // then item <- unit holds
  EXPECT_EQ(v.rule_repairs["determined_by"], 0);
  EXPECT_EQ(v.rule_repairs["same_value"], 1);
  // Without the schema the same event passes unchanged: every column is valid on its own.
  std::vector<GenEvent> unchecked = {lab({{"item", "ALT"}, {"value", "7"}, {"valuenum", "15"}, {"unit", "sec"}})};
  EXPECT_TRUE(check(nullptr, unchecked).ok);
  EXPECT_EQ(unchecked[0].event.pairs[3].second, "sec");
}

TEST(ConstraintsEditor, AnUnrepairableRuleRejectsTheStayAndASwitchedOffRuleDoesNot) {
  // K/uL was never seen with PTT, which has two units held by as many rows: item_values sets the
  // one most train rows hold, the tie going to the smaller ("s" before "sec").
  ConstraintSchema rules = schema({"labs:determined_by:item:unit"});
  EXPECT_EQ(rules.switched_off, std::vector<std::string>{"labs:determined_by:item:unit"});
  std::vector<GenEvent> stay = {lab({{"item", "PTT"}, {"valuenum", "15"}, {"unit", "K/uL"}})};
  StayVerdict v = check(&rules, stay);
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(stay[0].event.pairs[2].second, "s");
  EXPECT_EQ(v.rule_repairs["item_values"], 1);
  // Out of the item's range (ALT: 10..21): not repairable, the stay is rejected.
  std::vector<GenEvent> high = {lab({{"item", "ALT"}, {"valuenum", "50"}, {"unit", "IU/L"}})};
  StayVerdict h = check(&rules, high);
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.reason, Failure::kRuleViolation);
  EXPECT_EQ(h.rule_kind, "item_range");
  EXPECT_NE(h.detail.find("labs:item_range:valuenum:item"), std::string::npos) << h.detail;
  // Every unit rule switched off: the same event passes.
  ConstraintSchema loose = schema({"labs:determined_by:item:unit", "labs:item_values:unit:item"});
  std::vector<GenEvent> again = {lab({{"item", "PTT"}, {"valuenum", "15"}, {"unit", "K/uL"}})};
  StayVerdict w = check(&loose, again);
  EXPECT_TRUE(w.ok) << w.detail;
  EXPECT_EQ(again[0].event.pairs[2].second, "K/uL");
}

}  // namespace
}  // namespace rawmed::generate
