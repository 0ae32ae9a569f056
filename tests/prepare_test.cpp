// prepare on the bundled real demo data: cohort counts derived independently, exact round trip,
// stable order, the k-patient vocabulary rule, output schema.
#include "common/error.h"
#include "common/fs.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/prepare.h"
#include "ingest/schema.h"
#include "test_util.h"
#include "text/dataset.h"
#include "text/grammar.h"
#include "text/serialize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace rawmed {
namespace {

struct Prepared {
  std::filesystem::path work;
  nlohmann::json summary;
};

// Each demo is prepared once per test binary run.
const Prepared& prepared(const std::string& name) {
  static std::map<std::string, Prepared> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Prepared p;
  p.work = test::temp_dir("prepare_" + name);
  p.summary = prepare(load_config(test::source_dir() / "configs" / (name + ".toml")), p.work);
  return cache.emplace(name, p).first->second;
}

std::filesystem::path data(const std::string& path) { return test::source_dir() / "data" / path; }

// Reads a CSV into rows of name -> value.
std::vector<std::map<std::string, std::string>> read_rows(const std::filesystem::path& path) {
  CsvReader csv(path.string());
  std::vector<std::map<std::string, std::string>> rows;
  while (csv.next()) {
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < csv.header().size(); ++i) row[csv.header()[i]] = std::string(csv.field(i));
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST(PrepareMimicIv, CohortMatchesAnIndependentDerivation) {
  // The cohort rules of docs/method.md, written out plainly: adult, stay >= 12 h, first stay per admission by
  // intime, events in [intime, intime + 12 h], more than 5 events.
  std::map<std::string, std::pair<double, double>> anchor;  // subject -> (anchor_age, anchor_year)
  for (auto& r : read_rows(data("mimic-iv-demo/hosp/patients.csv.gz")))
    anchor[r["subject_id"]] = {std::stod(r["anchor_age"]), std::stod(r["anchor_year"])};
  struct Stay {
    std::string stay, subject;
    int64_t intime;
  };
  std::map<std::string, Stay> first_by_admission;
  for (auto& r : read_rows(data("mimic-iv-demo/icu/icustays.csv.gz"))) {
    int64_t in = *parse_datetime(r["intime"]), out = *parse_datetime(r["outtime"]);
    int year = std::stoi(r["intime"].substr(0, 4));
    double age = anchor[r["subject_id"]].first + year - anchor[r["subject_id"]].second;
    if (out - in < 12 * 3600 || age < 18) continue;
    auto [it, inserted] = first_by_admission.emplace(r["hadm_id"], Stay{r["stay_id"], r["subject_id"], in});
    if (!inserted && in < it->second.intime) it->second = Stay{r["stay_id"], r["subject_id"], in};
  }
  std::map<std::string, const Stay*> by_stay;
  for (auto& [hadm, s] : first_by_admission) by_stay[s.stay] = &s;
  std::map<std::string, std::map<std::string, int>> events;  // table -> stay -> count
  auto count = [&](const std::string& table, const std::string& file, const std::string& key, bool by_admission,
                   const std::string& time) {
    for (auto& r : read_rows(data(file))) {
      const Stay* s = nullptr;
      if (by_admission) {
        auto it = first_by_admission.find(r[key]);
        if (it != first_by_admission.end()) s = &it->second;
      } else {
        auto it = by_stay.find(r[key]);
        if (it != by_stay.end()) s = it->second;
      }
      if (!s || r[time].empty()) continue;
      int64_t dt = *parse_datetime(r[time]) - s->intime;
      if (dt >= 0 && dt <= 12 * 3600) ++events[table][s->stay];
    }
  };
  count("labevents", "mimic-iv-demo/hosp/labevents.csv.gz", "hadm_id", true, "charttime");
  count("prescriptions", "mimic-iv-demo/hosp/prescriptions.csv.gz", "hadm_id", true, "starttime");
  count("inputevents", "mimic-iv-demo/icu/inputevents.csv.gz", "stay_id", false, "starttime");
  std::set<std::string> stays, patients;
  std::map<std::string, int> per_table;
  for (auto& [stay, s] : by_stay) {
    int total = events["labevents"][stay] + events["prescriptions"][stay] + events["inputevents"][stay];
    if (total <= 5) continue;
    stays.insert(stay);
    patients.insert(s->subject);
    for (const char* t : {"labevents", "prescriptions", "inputevents"}) per_table[t] += events[t][stay];
  }
  const auto& summary = prepared("mimic-iv-demo").summary;
  EXPECT_EQ(summary["stays"], stays.size());
  EXPECT_EQ(summary["patients"], patients.size());
  for (const char* t : {"labevents", "prescriptions", "inputevents"}) EXPECT_EQ(summary["events_per_table"][t], per_table[t]) << t;
  // The figures of docs/method.md, section 1, derived independently of this code.
  EXPECT_EQ(stays.size(), 125u);
  EXPECT_EQ(per_table["labevents"], 8906);
}

TEST(PrepareEicu, CohortMatchesAnIndependentDerivation) {
  struct Stay {
    std::string stay, patient;
    double visit;
  };
  std::map<std::string, Stay> first_by_hospital_stay;
  for (auto& r : read_rows(data("eicu-demo/patient.csv.gz"))) {
    double age = r["age"] == "> 89" ? 90 : (r["age"].empty() ? NAN : std::stod(r["age"]));
    if (!(age >= 18) || std::stod(r["unitdischargeoffset"]) < 720) continue;
    Stay s{r["patientunitstayid"], r["uniquepid"], std::stod(r["unitvisitnumber"])};
    auto [it, inserted] = first_by_hospital_stay.emplace(r["patienthealthsystemstayid"], s);
    if (!inserted && s.visit < it->second.visit) it->second = s;
  }
  std::map<std::string, std::string> patient_of;
  for (auto& [h, s] : first_by_hospital_stay) patient_of[s.stay] = s.patient;
  std::map<std::string, int> per_stay;
  for (auto [file, time] : {std::pair{"medication", "drugstartoffset"}, {"infusiondrug", "infusionoffset"},
                            {"intakeOutput", "intakeoutputoffset"}})
    for (auto& r : read_rows(data(std::string("eicu-demo/") + file + ".csv.gz"))) {
      if (!patient_of.count(r["patientunitstayid"]) || r[time].empty()) continue;
      double t = std::stod(r[time]);
      if (t >= 0 && t <= 720) ++per_stay[r["patientunitstayid"]];
    }
  std::set<std::string> stays, patients;
  int events = 0;
  for (auto& [stay, n] : per_stay)
    if (n > 5) stays.insert(stay), patients.insert(patient_of[stay]), events += n;
  const auto& summary = prepared("eicu-demo").summary;
  EXPECT_EQ(summary["stays"], stays.size());
  EXPECT_EQ(summary["patients"], patients.size());
  EXPECT_EQ(summary["events"], events);
  EXPECT_EQ(stays.size(), 1432u);  // docs/method.md, section 1
  EXPECT_EQ(events, 34248);
}

TEST(Prepare, RoundTripIsExactOnAllThreeDemos) {
  for (const char* name : {"mimic-iv-demo", "eicu-demo", "mimic-iii-demo"}) {
    const auto& summary = prepared(name).summary;
    EXPECT_EQ(summary["roundtrip_exact_rate_by_split"]["train"], 1.0) << name;
    EXPECT_EQ(summary["roundtrip_exact_rate"], 1.0) << name;
    EXPECT_GT(summary["events"].get<int>(), 5000) << name;
  }
}

// Decodes every event of the dataset and matches it, as a multiset, against the rows of the real
// split files (read back from CSV, mapped through the schema): the dataset holds exactly the real
// window rows, nothing lost, nothing invented.
TEST(PrepareMimicIv, DecodedEventsEqualTheRealSplitRows) {
  const auto& work = prepared("mimic-iv-demo").work;
  Dataset d = Dataset::load(work / "dataset");
  using Event = std::pair<std::string, std::vector<std::pair<std::string, std::string>>>;
  std::multiset<Event> decoded, expected;
  int64_t truncated = 0;
  for (size_t e = 0; e < d.num_events(); ++e) {
    if (d.event_split(e) != kTrain) continue;
    DecodedEvent event = d.decode(e);
    ASSERT_TRUE(event.ok) << event.error;
    decoded.insert({event.table, event.pairs});
  }
  DbSchema schema = DbSchema::load(work / "real" / "train");
  for (const auto& table : schema.tables) {
    for (auto& row : read_rows(work / "real" / "train" / table.file)) {
      Event event{table.name, {}};
      for (const auto& column : table.modelled_columns()) {
        std::string value = row[column];
        if (value.empty()) continue;
        if (column == table.dictionary_column && table.dictionary_labels.count(value))
          value = table.dictionary_labels.at(value);
        event.second.emplace_back(column, value);
      }
      expected.insert(event);
    }
  }
  // Events cut by the 128-token cap keep a prefix of their pairs: compare those by prefix.
  std::multiset<Event> missing;
  std::set_difference(expected.begin(), expected.end(), decoded.begin(), decoded.end(),
                      std::inserter(missing, missing.begin()));
  for (const auto& m : missing) {
    bool prefix_found = false;
    for (const auto& dcd : decoded)
      if (dcd.first == m.first && dcd.second.size() < m.second.size() &&
          std::equal(dcd.second.begin(), dcd.second.end(), m.second.begin()))
        prefix_found = true;
    EXPECT_TRUE(prefix_found) << "row not in the dataset: " << m.first;
    ++truncated;
  }
  EXPECT_EQ(decoded.size(), expected.size());
  EXPECT_LE(truncated, prepared("mimic-iv-demo").summary["truncated_events"].get<int64_t>());
}

TEST(Prepare, EventsOfAStayAreInTimeThenTableOrder) {
  Dataset d = Dataset::load(prepared("eicu-demo").work / "dataset");
  for (size_t s = 0; s < d.num_stays(); ++s)
    for (uint64_t e = d.stay_offsets[s] + 1; e < d.stay_offsets[s + 1]; ++e) {
      ASSERT_LE(d.event_minutes[e - 1], d.event_minutes[e]);
      if (d.event_minutes[e - 1] == d.event_minutes[e]) ASSERT_LE(d.event_tables[e - 1], d.event_tables[e]);
    }
}

TEST(Prepare, SameConfigGivesByteIdenticalDataset) {
  auto again = test::temp_dir("prepare_again");
  prepare(load_config(test::source_dir() / "configs" / "mimic-iii-demo.toml"), again);
  const auto& first = prepared("mimic-iii-demo").work;
  for (const char* f : {"tokens.bin", "dpe.bin", "event_minutes.bin", "vocab.json", "columns.json", "stays.csv"})
    EXPECT_EQ(read_file(first / "dataset" / f), read_file(again / "dataset" / f)) << f;
}

TEST(Prepare, ValueTokensAndCategoryCountsComeFromKTrainPatients) {
  const auto& work = prepared("mimic-iv-demo").work;
  Dataset d = Dataset::load(work / "dataset");
  const int k = d.manifest["min_patients_for_token"];
  std::map<std::string, std::set<std::string>> patients_of_value, patients_of_column_value;
  std::map<std::string, std::string> patient_of_stay;
  for (auto& r : read_rows(work / "real" / "train" / kCohortFile)) patient_of_stay[r["admission_id"]] = r["patient_id"];
  std::map<std::string, std::string> patient_of_stay_id;
  for (auto& r : read_rows(work / "real" / "train" / kCohortFile)) patient_of_stay_id[r["stay_id"]] = r["patient_id"];
  DbSchema schema = DbSchema::load(work / "real" / "train");
  for (const auto& table : schema.tables)
    for (auto& row : read_rows(work / "real" / "train" / table.file)) {
      const auto& index = table.link_cohort_key == "stay_id" ? patient_of_stay_id : patient_of_stay;
      std::string patient = index.at(row[table.link_column]);
      for (const auto& column : table.modelled_columns()) {
        std::string value = row[column];
        if (column == table.dictionary_column && table.dictionary_labels.count(value))
          value = table.dictionary_labels.at(value);
        patients_of_value[value].insert(patient);
        patients_of_column_value[table.name + '/' + column + '/' + value].insert(patient);
      }
    }
  // columns.json's per-value patient counts (the generator's k rule) equal the ones derived here.
  auto columns = read_json(work / "dataset" / "columns.json");
  int checked = 0;
  for (const auto& t : columns["tables"])
    for (const auto& c : t["columns"]) {
      if (!c.contains("category_patients")) continue;
      EXPECT_EQ(c["category_patients"].size(), c["categories"].size()) << c["name"];
      for (auto& [value, n] : c["category_patients"].items()) {
        auto key = t["name"].get<std::string>() + '/' + c["name"].get<std::string>() + '/' + value;
        EXPECT_EQ(n.get<size_t>(), patients_of_column_value[key].size()) << key;
        EXPECT_LE(n.get<int64_t>(), c["categories"][value].get<int64_t>()) << key;
        ++checked;
      }
    }
  EXPECT_GT(checked, 100);
  int value_tokens = 0;
  for (size_t id = 0; id < d.vocab.size(); ++id) {
    const Token& t = d.vocab.token(static_cast<uint16_t>(id));
    if (t.kind != TokenKind::kValue) continue;
    ++value_tokens;
    EXPECT_GE(static_cast<int>(patients_of_value[t.text].size()), k) << t.text;
  }
  EXPECT_GT(value_tokens, 100);
}

TEST(Prepare, RealSplitsKeepTheInputSchemaAndAreDisjointByPatient) {
  const auto& work = prepared("mimic-iv-demo").work;
  std::map<std::string, std::string> split_of_patient;
  for (const char* split : {"train", "valid", "test"}) {
    for (auto& r : read_rows(work / "real" / split / kCohortFile)) {
      auto [it, inserted] = split_of_patient.emplace(r["patient_id"], split);
      EXPECT_TRUE(inserted || it->second == split) << "patient in two splits: " << r["patient_id"];
    }
    CsvReader labs((work / "real" / split / "labevents.csv.gz").string());
    CsvReader input(data("mimic-iv-demo/hosp/labevents.csv.gz").string());
    EXPECT_EQ(labs.header(), input.header());
  }
  const auto& splits = prepared("mimic-iv-demo").summary["splits"];
  EXPECT_EQ(splits["train"].get<int>() + splits["valid"].get<int>() + splits["test"].get<int>(), 125);
  EXPECT_GT(splits["train"].get<int>(), 90);
}

// A tiny minute-offset dataset written here, to test errors and malformed rows.
struct TinyDataset {
  std::filesystem::path dir;
  explicit TinyDataset(const std::string& name, const std::string& events_csv, const std::string& extra = "") {
    dir = test::temp_dir(name);
    test::write_text(dir / "stays.csv", "stay,patient,hosp,age,out,sex\n1,p1,h1,50,900,F\n2,p2,h2,70,900,M\n");
    test::write_text(dir / "events.csv", events_csv);
    test::write_text(dir / "spec.toml", "[dataset]\nname = \"tiny\"\ntime_kind = \"minutes\"\nmin_events = 1\n" + extra +
                                            "[cohort]\nstays = \"stays.csv\"\nstay_id = \"stay\"\npatient_id = "
                                            "\"patient\"\nadmission_id = \"hosp\"\nouttime = \"out\"\nage = "
                                            "\"age\"\ngender = \"sex\"\n[[tables]]\nname = \"ev\"\nfile = "
                                            "\"events.csv\"\nlink = \"stay\"\ntime = \"t\"\n");
  }
  std::string error() {
    try {
      prepare(load_config(dir / "spec.toml"), dir / "work");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST(PrepareErrors, MalformedRowNamesFileAndLine) {
  TinyDataset tiny("malformed", "stay,t,drug\n1,10,a\n1,20,\"b\n2,30,c,extra\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("events.csv:3"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(tiny.dir / "work" / "dataset"));
}

TEST(PrepareErrors, MalformedRowsAreSkippedAndCountedWhenConfigured) {
  TinyDataset tiny("skipped", "stay,t,drug\n1,10,a\n1,20,b,extra\n2,30,c\n", "skip_malformed_rows = true\n");
  EXPECT_EQ(tiny.error(), "");
  auto summary = read_json(tiny.dir / "work" / "prepare.json");
  EXPECT_EQ(summary["tables"]["ev"]["rows_skipped_malformed"], 1);
  EXPECT_EQ(summary["events"], 2);
}

TEST(PrepareErrors, UnparsableTimeNamesTheField) {
  TinyDataset tiny("badtime", "stay,t,drug\n1,10,a\n1,soon,b\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("events.csv:3"), std::string::npos) << error;
  EXPECT_NE(error.find("'t'"), std::string::npos) << error;
}

TEST(PrepareErrors, UnknownColumnNamesTheConfigKey) {
  TinyDataset tiny("badcolumn", "stay,t,drug\n1,10,a\n");
  test::write_text(tiny.dir / "spec.toml", read_file(tiny.dir / "spec.toml") + "drop = [\"dose\"]\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("'dose'"), std::string::npos) << error;
  EXPECT_NE(error.find("tables.ev.drop"), std::string::npos) << error;
}

TEST(ConfigErrors, UnknownKeyMissingFileAndBadType) {
  auto dir = test::temp_dir("config_errors");
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    test::write_text(dir / "c.toml", text);
    try {
      load_config(dir / "c.toml");
      ADD_FAILURE() << "no error for: " << needle;
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find(needle), std::string::npos) << message;
      EXPECT_NE(message.find("c.toml"), std::string::npos) << message;
    }
  };
  std::string base = read_file(test::source_dir() / "configs" / "mimic-iv-demo.toml");
  auto root = "root = \"" + (test::source_dir() / "data" / "mimic-iv-demo").string() + "\"";
  base.replace(base.find("root = \"../data/mimic-iv-demo\""), std::string("root = \"../data/mimic-iv-demo\"").size(), root);
  test::write_text(dir / "ok.toml", base);
  EXPECT_NO_THROW(load_config(dir / "ok.toml"));
  expect_error(base + "\n[codec2]\n", "unknown key 'codec2'");
  std::string typo = base;
  typo.replace(typo.find("window_hours"), 12, "window_hourz");
  expect_error(typo, "dataset.window_hourz");
  std::string bad_type = base;
  bad_type.replace(bad_type.find("window_hours = 12"), 17, "window_hours = \"12\"");
  expect_error(bad_type, "dataset.window_hours");
  std::string missing = base;
  missing.replace(missing.find("hosp/labevents.csv.gz"), 21, "hosp/labevent.csv.gz");
  expect_error(missing, "file not found");
  expect_error("[dataset\nname=1", "TOML syntax error");
  expect_error(base + "\n[[tables]]\nname = \"x\"\nfile = \"hosp/labevents.csv.gz\"\nlink = \"hadm_id\"\ntime = "
                      "\"charttime\"\ntypes = { valuenum = \"float\" }\n",
               "tables.x.types.valuenum");
}

// The codec decodes through EventGrammar: it must not block a real event. Scores that point at
// each real event's own tokens decode back to exactly those tokens and types, for every train
// event of every demo (so the grammar's column order, number rules and known categorical values
// match how prepare serializes; categories come from the train split). Two exceptions, which
// generation's editor rejects anyway: raw text in a numeric column (eICU has drugrate "ERROR";
// unparsable_number), which must be rare, and an event whose required item column was cut by
// the token cap (missing_item), at most prepare's count of cut events.
TEST(Prepare, GrammarAcceptsEveryRealEvent) {
  for (const char* name : {"mimic-iv-demo", "eicu-demo", "mimic-iii-demo"}) {
    Dataset d = Dataset::load(prepared(name).work / "dataset");
    EventGrammar grammar(d.vocab, d.columns, d.decimals());
    std::set<std::string> numeric;
    std::map<std::string, std::string> required_item;
    for (const auto& t : d.columns["tables"])
      for (const auto& c : t["columns"]) {
        std::string table = t["name"], column = c["name"];
        if (c["type"] == "numeric") numeric.insert(table + "." + column);
        if (column == t.value("item_column", "") && item_column_required(c)) required_item[table] = column;
      }
    int64_t text_in_numeric = 0, item_cut = 0;
    const size_t slots = static_cast<size_t>(d.max_tokens_per_event()), v = d.vocab.size();
    std::vector<float> scores(slots * v, 0.0f);
    std::vector<uint16_t> tokens(slots);
    std::vector<uint8_t> types(slots);
    for (size_t e = 0; e < d.num_events(); ++e) {
      if (d.event_split(e) != kTrain) continue;
      size_t len = d.event_length(e), off = d.event_offsets[e];
      DecodedEvent event = d.decode(e);
      bool has_text = false;
      for (const auto& [column, value] : event.pairs)
        has_text = has_text || (numeric.count(event.table + "." + column) && !is_canonical_number(value, 15));
      if (has_text) {
        ++text_in_numeric;
        continue;
      }
      auto item = required_item.find(event.table);
      if (item != required_item.end() &&
          std::none_of(event.pairs.begin(), event.pairs.end(), [&](const auto& p) { return p.first == item->second; })) {
        ++item_cut;
        continue;
      }
      auto point_at_event = [&](float score) {
        for (size_t s = 0; s < slots; ++s) scores[s * v + (s < len ? d.tokens[off + s] : kPadId)] = score;
      };
      point_at_event(1.0f);
      grammar.decode(scores.data(), slots, tokens.data(), types.data());
      point_at_event(0.0f);
      for (size_t s = 0; s < slots; ++s) {
        ASSERT_EQ(tokens[s], s < len ? d.tokens[off + s] : kPadId) << name << " event " << e << " slot " << s;
        ASSERT_EQ(types[s], s < len ? d.types[off + s] : kTypePad) << name << " event " << e << " slot " << s;
      }
    }
    EXPECT_LT(text_in_numeric, static_cast<int64_t>(d.num_events() / 1000) + 1) << name;
    EXPECT_LE(item_cut, prepared(name).summary["truncated_events"].get<int64_t>()) << name;
  }
}

}  // namespace
}  // namespace rawmed
