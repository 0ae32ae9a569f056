#include "evaluate/baseline.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/schema.h"

#include <algorithm>
#include <random>
#include <unordered_map>

namespace rawmed::eval {

namespace {

struct RawTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

RawTable read_all(const fs::path& path) {
  CsvReader reader(path.string());
  RawTable t{reader.header(), {}};
  while (reader.next()) {
    std::vector<std::string> row;
    for (auto f : reader.fields()) row.emplace_back(f);
    t.rows.push_back(std::move(row));
  }
  return t;
}

size_t index_of(const RawTable& t, const std::string& name, const fs::path& path) {
  auto it = std::find(t.header.begin(), t.header.end(), name);
  if (it == t.header.end()) fail("{}: header has no column '{}'", path.string(), name);
  return static_cast<size_t>(it - t.header.begin());
}

}  // namespace

void write_independent_baseline(const fs::path& real, int64_t n, uint64_t seed, const fs::path& out) {
  if (n < 0) fail("baseline: --n must not be negative (got {})", n);
  DbSchema schema = DbSchema::load(real);
  RawTable cohort = read_all(real / kCohortFile);
  if (cohort.rows.empty()) fail("{}: no stays", (real / kCohortFile).string());
  if (n == 0) n = static_cast<int64_t>(cohort.rows.size());
  size_t c_stay = index_of(cohort, "stay_id", real / kCohortFile), c_adm = index_of(cohort, "admission_id", real / kCohortFile),
         c_patient = index_of(cohort, "patient_id", real / kCohortFile), c_in = index_of(cohort, "intime", real / kCohortFile);
  std::unordered_map<std::string, size_t> by_stay, by_adm;
  for (size_t s = 0; s < cohort.rows.size(); ++s) {
    by_stay.emplace(cohort.rows[s][c_stay], s);
    by_adm.emplace(cohort.rows[s][c_adm], s);
  }
  // Rows and per-stay row counts of every table.
  std::vector<RawTable> tables;
  std::vector<std::vector<int64_t>> counts(schema.tables.size(), std::vector<int64_t>(cohort.rows.size(), 0));
  for (size_t t = 0; t < schema.tables.size(); ++t) {
    const DbTable& spec = schema.tables[t];
    tables.push_back(read_all(real / spec.file));
    size_t c_link = index_of(tables[t], spec.link_column, real / spec.file);
    const auto& map = spec.link_cohort_key == "admission_id" ? by_adm : by_stay;
    for (const auto& row : tables[t].rows) {
      auto it = map.find(row[c_link]);
      if (it != map.end()) ++counts[t][it->second];
    }
  }
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick_stay(0, cohort.rows.size() - 1);
  const int window = std::max(1, schema.window_hours) * 60;
  std::uniform_int_distribution<int> pick_minute(0, window - 1);
  std::vector<size_t> source(n);
  for (auto& s : source) s = pick_stay(rng);

  AtomicDir dir(out);
  write_file_atomic(dir.path() / "schema.json", read_file(real / "schema.json"));
  {
    CsvWriter writer((dir.path() / kCohortFile).string());
    writer.write_row(cohort.header);
    for (int64_t i = 0; i < n; ++i) {
      auto row = cohort.rows[source[i]];
      std::string id = std::to_string(i + 1);
      row[c_stay] = row[c_adm] = row[c_patient] = id;
      writer.write_row(row);
    }
    writer.close();
  }
  Progress progress("baseline independent", static_cast<int64_t>(schema.tables.size()), "tables");
  for (size_t t = 0; t < schema.tables.size(); ++t) {
    const DbTable& spec = schema.tables[t];
    const RawTable& raw = tables[t];
    size_t c_link = index_of(raw, spec.link_column, real / spec.file), c_time = index_of(raw, spec.time_column, real / spec.file);
    std::vector<size_t> blank;
    for (const auto& name : spec.dropped)
      if (name != spec.link_column && name != spec.time_column) blank.push_back(index_of(raw, name, real / spec.file));
    CsvWriter writer((dir.path() / spec.file).string());
    writer.write_row(raw.header);
    if (!raw.rows.empty()) {
      std::uniform_int_distribution<size_t> pick_row(0, raw.rows.size() - 1);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<int> minutes(counts[t][source[i]]);
        for (auto& m : minutes) m = pick_minute(rng);
        std::sort(minutes.begin(), minutes.end());
        std::optional<int64_t> intime;
        if (schema.time_kind == TimeKind::kDatetime) {
          intime = parse_datetime(cohort.rows[source[i]][c_in]);
          if (!intime) fail("{}: cannot read intime '{}'", (real / kCohortFile).string(), cohort.rows[source[i]][c_in]);
        }
        for (int m : minutes) {
          auto row = raw.rows[pick_row(rng)];
          row[c_link] = std::to_string(i + 1);
          row[c_time] = intime ? format_datetime(*intime + 60LL * m) : std::to_string(m);
          for (size_t c : blank) row[c].clear();
          writer.write_row(row);
        }
      }
    }
    writer.close();
    progress.advance();
  }
  progress.finish();
  dir.commit();
  log_info("baseline: wrote {} stays to {}", n, out.string());
}

}  // namespace rawmed::eval
