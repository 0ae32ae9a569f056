// The synthetic database writer: input schema, synthetic ids disjoint from real, codes mapped
// back from labels, times restored, and a folder the evaluator loads with the same schema.
#include "evaluate/database.h"
#include "generate/writer.h"
#include "common/csv.h"
#include "common/datetime.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace rawmed::generate {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("rawmed_gen_writer_" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::vector<std::string>> read_csv(const fs::path& file, std::vector<std::string>* header) {
  CsvReader csv(file.string());
  *header = csv.header();
  std::vector<std::vector<std::string>> rows;
  while (csv.next()) {
    rows.emplace_back();
    for (auto f : csv.fields()) rows.back().emplace_back(f);
  }
  return rows;
}

DbSchema mimic_like_schema() {
  DbSchema schema;
  schema.dataset = "unit";
  schema.window_hours = 12;
  schema.time_kind = TimeKind::kDatetime;
  DbTable lab;
  lab.name = "labevents";
  lab.file = "labevents.csv.gz";
  lab.columns = {"labevent_id", "subject_id", "hadm_id", "itemid", "charttime", "storetime", "valuenum", "valueuom"};
  lab.link_column = "hadm_id";
  lab.link_cohort_key = "admission_id";
  lab.time_column = "charttime";
  lab.item_column = "itemid";
  lab.dropped = {"labevent_id", "subject_id", "storetime"};
  lab.types = {{"itemid", ColumnType::kCategorical}, {"valuenum", ColumnType::kNumeric},
               {"valueuom", ColumnType::kCategorical}};
  lab.dictionary_column = "itemid";
  lab.dictionary_labels = {{"50912", "Creatinine"}, {"52024", "Creatinine"}, {"50983", "Sodium"}};
  DbTable input;
  input.name = "inputevents";
  input.file = "inputevents.csv.gz";
  input.columns = {"subject_id", "hadm_id", "stay_id", "starttime", "itemid", "amount"};
  input.link_column = "stay_id";
  input.link_cohort_key = "stay_id";
  input.time_column = "starttime";
  input.item_column = "itemid";
  input.dropped = {"subject_id", "hadm_id"};
  input.types = {{"itemid", ColumnType::kCategorical}, {"amount", ColumnType::kNumeric}};
  schema.tables = {lab, input};
  return schema;
}

GenEvent event(int32_t minutes, std::string table, std::vector<std::pair<std::string, std::string>> pairs) {
  GenEvent e;
  e.minutes = minutes;
  e.event.table = std::move(table);
  e.event.pairs = std::move(pairs);
  e.event.ok = true;
  return e;
}

TEST(GenerateWriter, IdsNeverEqualRealOnes) {
  IdMinter numeric({"30000001", "39999999", "5"});
  EXPECT_EQ(numeric.id(0), "100000001");
  EXPECT_EQ(numeric.id(41), "100000042");
  IdMinter strings({"002-34851", "S1", "S22x", "SS"});
  for (uint64_t i = 0; i < 100; ++i) {
    std::string id = strings.id(i);
    EXPECT_NE(id, "S1");
    EXPECT_EQ(id.rfind("SS", 0), 0u) << id;  // "S<digits>" is taken by a real id, so the prefix grows
  }
  IdMinter empty({});
  EXPECT_EQ(empty.id(0), "11");
}

TEST(GenerateWriter, SharedLabelMapsToMostFrequentTrainCode) {
  std::map<std::string, std::string> labels = {{"50912", "Creatinine"}, {"52024", "Creatinine"}, {"50983", "Sodium"}};
  auto inverse = invert_dictionary(labels, {{"52024", 7}, {"50912", 3}});
  EXPECT_EQ(inverse.at("Creatinine"), "52024");
  EXPECT_EQ(inverse.at("Sodium"), "50983");
  auto tie = invert_dictionary({{"100", "X"}, {"99", "X"}}, {});
  EXPECT_EQ(tie.at("X"), "99");  // ties: the smaller code, numerically
}

TEST(GenerateWriter, WritesInputSchemaWithSyntheticIds) {
  TempDir tmp;
  WriterSettings settings;
  settings.schema = mimic_like_schema();
  settings.stay_id_column = "stay_id";
  settings.patient_id_column = "subject_id";
  settings.admission_id_column = "hadm_id";
  settings.decimals = 4;
  settings.anchor_seconds = *parse_datetime("2100-01-01 00:00:00");
  settings.label_to_code["labevents"] = invert_dictionary(settings.schema.tables[0].dictionary_labels, {{"52024", 5}});

  std::vector<SyntheticStay> stays(2);
  stays[0] = {"100000001", "200000001", "300000001", "67", "F",
              {event(0, "labevents", {{"itemid", "Creatinine"}, {"valuenum", "1.20"}, {"valueuom", "mg/dL"}}),
               event(90, "inputevents", {{"itemid", "225798"}, {"amount", "500"}}),
               event(725, "labevents", {{"itemid", "Sodium"}, {"valuenum", "-0"}})}};
  stays[1] = {"100000002", "200000002", "300000002", "", "", {event(10, "labevents", {{"itemid", "unlabelled"}})}};
  auto rows = write_database(tmp.path, settings, stays);
  EXPECT_EQ(rows.at("labevents"), 3);
  EXPECT_EQ(rows.at("inputevents"), 1);

  std::vector<std::string> header;
  auto lab = read_csv(tmp.path / "labevents.csv.gz", &header);
  EXPECT_EQ(header, settings.schema.tables[0].columns);
  ASSERT_EQ(lab.size(), 3u);
  // labevent_id, subject_id, hadm_id, itemid, charttime, storetime, valuenum, valueuom
  EXPECT_EQ(lab[0], (std::vector<std::string>{"", "200000001", "300000001", "52024", "2100-01-01 00:00:00", "", "1.2",
                                              "mg/dL"}));
  EXPECT_EQ(lab[1][3], "50983");
  EXPECT_EQ(lab[1][4], "2100-01-01 12:05:00");
  EXPECT_EQ(lab[1][6], "0");
  EXPECT_EQ(lab[2][3], "unlabelled");  // a code without a label stays as is
  auto input = read_csv(tmp.path / "inputevents.csv.gz", &header);
  EXPECT_EQ(header, settings.schema.tables[1].columns);
  EXPECT_EQ(input[0], (std::vector<std::string>{"200000001", "300000001", "100000001", "2100-01-01 01:30:00",
                                                "225798", "500"}));
  auto cohort = read_csv(tmp.path / kCohortFile, &header);
  EXPECT_EQ(header, kCohortColumns);
  EXPECT_EQ(cohort[0], (std::vector<std::string>{"100000001", "200000001", "300000001", "2100-01-01 00:00:00",
                                                 "2100-01-01 12:00:00", "67", "F"}));
  DbSchema reread = DbSchema::load(tmp.path);
  EXPECT_EQ(reread.to_json(), settings.schema.to_json());

  // The evaluator reads it back: every row linked to its stay, at the minute it was generated.
  eval::StringPool pool;
  eval::Database db = eval::load_database(tmp.path, pool, {.show_progress = false});
  eval::check_same_schema(settings.schema, db.schema, tmp.path.string());
  ASSERT_EQ(db.stays.size(), 2u);
  ASSERT_EQ(db.total_rows(), 4u);
  int lab_index = db.table_index("labevents");
  EXPECT_EQ(db.tables[lab_index].broken_references, 0);
  EXPECT_EQ(db.tables[lab_index].minute[1], 725);
}

TEST(GenerateWriter, MinuteDatasetsKeepOffsets) {
  TempDir tmp;
  WriterSettings settings;
  settings.schema = mimic_like_schema();
  settings.schema.time_kind = TimeKind::kMinutes;
  settings.schema.tables.resize(1);
  settings.schema.tables[0].dictionary_column.clear();
  std::vector<SyntheticStay> stays(1);
  stays[0] = {"S1", "S1", "S1", "90", "Male", {event(30, "labevents", {{"itemid", "Creatinine"}})}};
  write_database(tmp.path, settings, stays);
  std::vector<std::string> header;
  auto lab = read_csv(tmp.path / "labevents.csv.gz", &header);
  EXPECT_EQ(lab[0][4], "30");
  EXPECT_EQ(lab[0][3], "Creatinine");
  auto cohort = read_csv(tmp.path / kCohortFile, &header);
  EXPECT_EQ(cohort[0][3], "0");
  EXPECT_EQ(cohort[0][4], "720");
}

}  // namespace
}  // namespace rawmed::generate
