// The editor: hand-made decoded events, each bad one rejected for the right reason.
#include "generate/validate.h"

#include <gtest/gtest.h>

namespace rawmed::generate {
namespace {

nlohmann::json lab_columns() {
  return nlohmann::json::parse(R"({"tables":[{"name":"labevents","item_column":"itemid","columns":[
    {"name":"itemid","type":"categorical","categories":{"Creatinine":50,"Sodium":40,"Rare test":2,"50912":9},"null_rate":0},
    {"name":"valuenum","type":"numeric","min":0.1,"max":200,"item_ranges":{"Creatinine":[0.3,8.1],"Sodium":[120,160]}},
    {"name":"valueuom","type":"categorical","categories":{"mg/dL":50,"mEq/L":40,"mmol/L":1}},
    {"name":"comments","type":"text","categories":{"hemolyzed":10,"call Dr. X at 555":1}}]}]})");
}

ValidationRules rules(int min_events = 1, const nlohmann::json& columns = lab_columns()) {
  RuleOptions options;
  options.window_minutes = 720;
  options.min_patients = 5;
  options.max_edit_distance = 0.25;
  options.min_events = min_events;
  return ValidationRules::from_columns_json(columns, options);
}

GenEvent lab(int32_t minutes, std::vector<std::pair<std::string, std::string>> pairs, std::string table = "labevents") {
  GenEvent e;
  e.minutes = minutes;
  e.event.table = std::move(table);
  e.event.pairs = std::move(pairs);
  e.event.ok = true;
  return e;
}

GenEvent creatinine(int32_t minutes, std::string value = "1.2") {
  return lab(minutes, {{"itemid", "Creatinine"}, {"valuenum", std::move(value)}, {"valueuom", "mg/dL"}});
}

Failure verdict_of(std::vector<GenEvent> events, int min_events = 1, const nlohmann::json& columns = lab_columns()) {
  StayVerdict v = rules(min_events, columns).check_stay(events);
  EXPECT_EQ(v.ok, v.reason == Failure::kNone) << v.detail;
  return v.reason;
}

TEST(GenerateValidate, ValidStayPasses) {
  std::vector<GenEvent> stay = {creatinine(0), creatinine(0, "8.1"), creatinine(30, "0.3"),
                                lab(720, {{"itemid", "Sodium"}, {"valuenum", "140"}, {"comments", "free text, ok"}})};
  StayVerdict v = rules().check_stay(stay);
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.repaired_values, 0);
}

TEST(GenerateValidate, EachBadEventIsRejectedForItsReason) {
  EXPECT_EQ(verdict_of({creatinine(0), lab(10, {{"itemid", "Creatinine"}}, "chartevents")}), Failure::kUnknownTable);
  EXPECT_EQ(verdict_of({creatinine(0), lab(10, {{"itemid", "Creatinine"}, {"flag", "abnormal"}})}),
            Failure::kUnknownColumn);
  for (const char* bad : {"1.2.3", "nan", "inf", "1e5", "abc", "1.", ".5", "-", " 1"})
    EXPECT_EQ(verdict_of({creatinine(0, bad)}), Failure::kUnparsableNumber) << bad;
  EXPECT_EQ(verdict_of({creatinine(0, "500")}), Failure::kOutOfRange);
  EXPECT_EQ(verdict_of({creatinine(0, "0.05")}), Failure::kOutOfRange);
  EXPECT_EQ(verdict_of({creatinine(0, "20")}), Failure::kOutOfItemRange);   // in column range, not in item range
  EXPECT_EQ(verdict_of({creatinine(0, "-1")}), Failure::kOutOfRange);
  EXPECT_EQ(verdict_of({creatinine(60), creatinine(50)}), Failure::kTimeDecreasing);
  EXPECT_EQ(verdict_of({creatinine(-10)}), Failure::kTimeOutsideWindow);
  EXPECT_EQ(verdict_of({creatinine(0), creatinine(730)}), Failure::kTimeOutsideWindow);
  EXPECT_EQ(verdict_of({creatinine(0), creatinine(10)}, 3), Failure::kTooFewEvents);
  EXPECT_EQ(verdict_of({lab(0, {{"valuenum", "1"}})}), Failure::kMissingItem);
  // An item column that some train rows leave empty (eICU medication.drugname) is optional.
  auto optional_item = lab_columns();
  optional_item["tables"][0]["columns"][0]["null_rate"] = 0.37;
  EXPECT_EQ(verdict_of({lab(0, {{"valuenum", "1"}})}, 1, optional_item), Failure::kNone);
  EXPECT_EQ(verdict_of({lab(0, {{"itemid", "Sodium"}, {"valuenum", "140"}, {"valuenum", "141"}})}),
            Failure::kDuplicateColumn);
  EXPECT_EQ(verdict_of({lab(0, {{"itemid", "Sodium"}, {"valueuom", ""}})}), Failure::kEmptyValue);
  EXPECT_EQ(verdict_of({lab(0, {{"itemid", "Glucose"}})}), Failure::kUnknownCategory);
  // A numeric item that never had a value in this column in training.
  EXPECT_EQ(verdict_of({lab(0, {{"itemid", "50912"}, {"valuenum", "1"}})}), Failure::kOutOfItemRange);
  GenEvent broken = creatinine(0);
  broken.event.ok = false;
  broken.event.error = "event does not end with SEP";
  EXPECT_EQ(verdict_of({broken}), Failure::kSyntax);
}

TEST(GenerateValidate, RejectionNamesTheEvent) {
  std::vector<GenEvent> stay = {creatinine(0), creatinine(10), creatinine(20, "300")};
  StayVerdict v = rules().check_stay(stay);
  ASSERT_FALSE(v.ok);
  EXPECT_NE(v.detail.find("event 2"), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find("valuenum"), std::string::npos) << v.detail;
}

TEST(GenerateValidate, CategoricalRepairToCloseFrequentValue) {
  std::vector<GenEvent> stay = {lab(0, {{"itemid", "Creatinin"}, {"valuenum", "1.0"}, {"valueuom", "mg/dl"}})};
  StayVerdict v = rules().check_stay(stay);
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.repaired_values, 2);
  EXPECT_EQ(stay[0].event.pairs[0].second, "Creatinine");
  EXPECT_EQ(stay[0].event.pairs[2].second, "mg/dL");
  // The repaired item is the one whose range is checked.
  std::vector<GenEvent> out_of_item = {lab(0, {{"itemid", "Creatinin"}, {"valuenum", "20"}})};
  EXPECT_EQ(rules().check_stay(out_of_item).reason, Failure::kOutOfItemRange);
  // Codes are never repaired to a neighbouring code.
  EXPECT_EQ(verdict_of({lab(0, {{"itemid", "50913"}})}), Failure::kUnknownCategory);
  // Too far from every allowed value.
  EXPECT_EQ(verdict_of({lab(0, {{"itemid", "Creat"}})}), Failure::kUnknownCategory);
}

TEST(GenerateValidate, EventsWithARareItemAreRemoved) {
  std::vector<GenEvent> stay = {creatinine(0), lab(10, {{"itemid", "Rare test"}, {"valuenum", "1"}}), creatinine(20)};
  StayVerdict v = rules(2).check_stay(stay);
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.suppressed_events, 1);
  ASSERT_EQ(stay.size(), 2u);
  EXPECT_EQ(stay[1].minutes, 20);
  // Removal counts against the minimum number of events.
  std::vector<GenEvent> short_stay = {creatinine(0), lab(10, {{"itemid", "Rare test"}})};
  EXPECT_EQ(rules(2).check_stay(short_stay).reason, Failure::kTooFewEvents);
}

TEST(GenerateValidate, RareValuesOutsideTheItemColumnAreRemoved) {
  std::vector<GenEvent> stay = {lab(0, {{"itemid", "Sodium"}, {"valueuom", "mmol/L"}, {"comments", "call Dr. X at 555"},
                                        {"valuenum", "140"}}),
                                lab(5, {{"itemid", "Sodium"}, {"comments", "new text"}})};
  StayVerdict v = rules().check_stay(stay);
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.suppressed_values, 2);
  ASSERT_EQ(stay[0].event.pairs.size(), 2u);
  EXPECT_EQ(stay[0].event.pairs[1], (std::pair<std::string, std::string>{"valuenum", "140"}));
  EXPECT_EQ(stay[1].event.pairs[1].second, "new text");  // text never seen in training is not a copy
  // The item's range is still checked after removals.
  std::vector<GenEvent> bad = {lab(0, {{"valueuom", "mmol/L"}, {"itemid", "Sodium"}, {"valuenum", "100"}})};
  EXPECT_EQ(rules().check_stay(bad).reason, Failure::kOutOfItemRange);
}

TEST(GenerateValidate, DropEventModeKeepsTheStay) {
  RuleOptions options;
  options.drop_invalid_events = true;
  options.min_events = 2;
  auto lenient = ValidationRules::from_columns_json(lab_columns(), options);
  std::vector<GenEvent> stay = {creatinine(0),  creatinine(30, "1e9"), creatinine(50),
                                creatinine(20), creatinine(800),       creatinine(60)};
  StayVerdict v = lenient.check_stay(stay);
  ASSERT_TRUE(v.ok) << v.detail;
  ASSERT_EQ(stay.size(), 3u);  // 0, 50, 60: a dropped event's time does not count as "previous"
  EXPECT_EQ(stay[1].minutes, 50);
  EXPECT_EQ(stay[2].minutes, 60);
  EXPECT_EQ(v.dropped_invalid_events.at("unparsable_number"), 1);
  EXPECT_EQ(v.dropped_invalid_events.at("time_decreasing"), 1);
  EXPECT_EQ(v.dropped_invalid_events.at("time_outside_window"), 1);
  std::vector<GenEvent> mostly_bad = {creatinine(0), creatinine(10, "x")};
  EXPECT_EQ(lenient.check_stay(mostly_bad).reason, Failure::kTooFewEvents);
}

TEST(GenerateValidate, NoRepairWhenDistanceIsZero) {
  RuleOptions options;
  options.max_edit_distance = 0;
  auto strict = ValidationRules::from_columns_json(lab_columns(), options);
  std::vector<GenEvent> stay = {lab(0, {{"itemid", "Creatinin"}})};
  EXPECT_EQ(strict.check_stay(stay).reason, Failure::kUnknownCategory);
}

TEST(GenerateValidate, PatientCountsWinOverRowCounts) {
  auto columns = lab_columns();
  columns["tables"][0]["columns"][0]["category_patients"] = {{"Creatinine", 3}, {"Sodium", 40}};
  auto r = ValidationRules::from_columns_json(columns, RuleOptions{});
  std::vector<GenEvent> stay = {lab(0, {{"itemid", "Creatinine"}}), lab(0, {{"itemid", "Sodium"}})};
  StayVerdict v = r.check_stay(stay);
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.suppressed_events, 1);  // 50 rows but only 3 patients: the event goes
  ASSERT_EQ(stay.size(), 1u);
  EXPECT_EQ(stay[0].event.pairs[0].second, "Sodium");
}

TEST(GenerateValidate, BadColumnsFileNamesOrigin) {
  auto columns = nlohmann::json::parse(R"({"tables":[{"name":"x","columns":[{"name":"a","type":"blob"}]}]})");
  try {
    ValidationRules::from_columns_json(columns, RuleOptions{}, "W/columns.json");
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("W/columns.json"), std::string::npos);
  }
  EXPECT_ANY_THROW(ValidationRules::from_columns_json(nlohmann::json::object(), RuleOptions{}));
}

TEST(GenerateValidate, NumberAndDistanceHelpers) {
  double x = 0;
  EXPECT_TRUE(parse_plain_number("-12.50", &x));
  EXPECT_DOUBLE_EQ(x, -12.5);
  EXPECT_TRUE(parse_plain_number("0", &x));
  EXPECT_FALSE(parse_plain_number("", &x));
  EXPECT_FALSE(parse_plain_number("+1", &x));
  EXPECT_DOUBLE_EQ(normalized_edit_distance("abc", "abc"), 0.0);
  EXPECT_DOUBLE_EQ(normalized_edit_distance("kitten", "sitting"), 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(normalized_edit_distance("", "ab"), 1.0);
}

}  // namespace
}  // namespace rawmed::generate
