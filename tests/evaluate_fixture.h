#pragma once
// A tiny hand-made Database folder for the evaluation tests: a "labs" table (item with a
// dictionary, numeric value, categorical flag; hourly draws) and a "meds" table (drug item, amount;
// insulin mostly in stays with high glucose), datetime times, 12 h window.
#include "common/fs.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace rawmed::testing {

struct FixtureRow {
  int table;   // 0 labs, 1 meds
  int stay;    // index into cohort
  int minute;  // since intime
  std::vector<std::string> values;  // modelled values: labs {itemid, valuenum, flag}; meds {drug, amount}
};

struct Fixture {
  DbSchema schema;
  std::vector<std::string> stay_ids;
  std::vector<int64_t> intimes;  // seconds
  std::vector<FixtureRow> rows;
};

inline DbSchema fixture_schema() {
  DbSchema s;
  s.dataset = "fixture";
  s.window_hours = 12;
  s.time_kind = TimeKind::kDatetime;
  DbTable labs;
  labs.name = "labs";
  labs.file = "labs.csv.gz";
  labs.columns = {"row_id", "stay_id", "charttime", "itemid", "valuenum", "flag"};
  labs.link_column = "stay_id";
  labs.link_cohort_key = "stay_id";
  labs.time_column = "charttime";
  labs.item_column = "itemid";
  labs.dropped = {"row_id"};
  labs.types = {{"itemid", ColumnType::kCategorical}, {"valuenum", ColumnType::kNumeric}, {"flag", ColumnType::kCategorical}};
  labs.dictionary_column = "itemid";
  labs.dictionary_labels = {{"1", "Creatinine"}, {"2", "Sodium"}, {"3", "Glucose"}};
  DbTable meds;
  meds.name = "meds";
  meds.file = "meds.csv.gz";
  meds.columns = {"stay_id", "starttime", "drug", "amount"};
  meds.link_column = "stay_id";
  meds.link_cohort_key = "stay_id";
  meds.time_column = "starttime";
  meds.item_column = "drug";
  meds.types = {{"drug", ColumnType::kCategorical}, {"amount", ColumnType::kNumeric}};
  s.tables = {labs, meds};
  return s;
}

// `stays` stays with ids first_id, first_id+1, ...; same seed, same data.
inline Fixture make_fixture(int stays, uint64_t seed, int first_id = 1000) {
  Fixture f;
  f.schema = fixture_schema();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> unit(0, 1);
  int64_t base = *parse_datetime("2150-01-01 00:00:00");
  for (int s = 0; s < stays; ++s) {
    f.stay_ids.push_back(std::to_string(first_id + s));
    f.intimes.push_back(base + 86400LL * s + 37 * s);
    bool diabetic = unit(rng) < 0.4;
    int draws = 4 + static_cast<int>(unit(rng) * 8);  // hourly lab rounds
    for (int d = 0; d < draws; ++d) {
      int minute = 60 * d + static_cast<int>(unit(rng) * 5);
      double cr = std::round((1.0 + 0.3 * normal(rng)) * 100) / 100;
      double na = std::round(140 + 3 * normal(rng));
      double glu = std::round((diabetic ? 220 : 110) + 25 * normal(rng));
      f.rows.push_back({0, s, minute, {"1", fmt::format("{}", cr), cr > 1.3 ? "abnormal" : ""}});
      f.rows.push_back({0, s, minute, {"2", fmt::format("{}", na), na > 145 ? "abnormal" : ""}});
      f.rows.push_back({0, s, minute, {"3", fmt::format("{}", glu), glu > 180 ? "abnormal" : ""}});
    }
    int meds = 1 + static_cast<int>(unit(rng) * 4);
    for (int m = 0; m < meds; ++m) {
      int minute = static_cast<int>(unit(rng) * 700);
      std::string drug = diabetic && unit(rng) < 0.8 ? "insulin" : unit(rng) < 0.5 ? "heparin" : "propofol";
      double amount = drug == "insulin" ? 2 + static_cast<int>(unit(rng) * 8) : drug == "heparin" ? 5000 : 50;
      f.rows.push_back({1, s, minute, {drug, fmt::format("{}", amount)}});
    }
  }
  return f;
}

inline void write_fixture(const Fixture& f, const fs::path& dir) {
  fs::create_directories(dir);
  write_json_atomic(dir / "schema.json", f.schema.to_json());
  {
    CsvWriter w((dir / kCohortFile).string());
    w.write_row(kCohortColumns);
    for (size_t s = 0; s < f.stay_ids.size(); ++s)
      w.write_row(std::vector<std::string>{f.stay_ids[s], "p" + f.stay_ids[s], "a" + f.stay_ids[s],
                                           format_datetime(f.intimes[s]), format_datetime(f.intimes[s] + 86400),
                                           "65", s % 2 ? "F" : "M"});
    w.close();
  }
  for (int t = 0; t < 2; ++t) {
    CsvWriter w((dir / f.schema.tables[t].file).string());
    w.write_row(f.schema.tables[t].columns);
    int row_id = 0;
    for (const auto& r : f.rows) {
      if (r.table != t) continue;
      std::string time = format_datetime(f.intimes[r.stay] + 60LL * r.minute);
      if (t == 0)
        w.write_row(std::vector<std::string>{std::to_string(++row_id), f.stay_ids[r.stay], time, r.values[0], r.values[1],
                                             r.values[2]});
      else
        w.write_row(std::vector<std::string>{f.stay_ids[r.stay], time, r.values[0], r.values[1]});
    }
    w.close();
  }
}

// Writes WORK/real/{train,valid,test} from three fixtures of different seeds; returns WORK/real.
inline fs::path write_real_splits(const fs::path& work, int train_stays = 120, int holdout_stays = 40) {
  fs::path real = work / "real";
  write_fixture(make_fixture(train_stays, 1, 1000), real / "train");
  write_fixture(make_fixture(holdout_stays, 2, 5000), real / "valid");
  write_fixture(make_fixture(holdout_stays, 3, 7000), real / "test");
  return real;
}

inline fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("rawmed-{}-{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace rawmed::testing
