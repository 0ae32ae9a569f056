#include "evaluate/database.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/csv.h"
#include "common/datetime.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace rawmed::eval {

int32_t StringPool::intern(std::string_view text) {
  if (auto it = ids_.find(text); it != ids_.end()) return it->second;
  int32_t id = static_cast<int32_t>(strings_.size());
  strings_.emplace_back(text);
  ids_.emplace(strings_.back(), id);
  return id;
}

int32_t StringPool::find(std::string_view text) const {
  auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

int Table::column_index(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

int Database::table_index(std::string_view name) const {
  for (size_t i = 0; i < tables.size(); ++i)
    if (tables[i].name() == name) return static_cast<int>(i);
  return -1;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(out);
}

// A time value in minutes on the dataset's own axis (epoch minutes or offset minutes).
bool parse_time_minutes(std::string_view s, TimeKind kind, double& out) {
  if (kind == TimeKind::kMinutes) return parse_number(s, out);
  auto seconds = parse_datetime(trim(s));
  if (!seconds) return false;
  out = static_cast<double>(*seconds) / 60.0;
  return true;
}

int require_column(const CsvReader& reader, const std::string& name) {
  int idx = reader.column_index(name);
  if (idx < 0) fail("{}: header has no column '{}'", reader.path(), name);
  return idx;
}

struct CohortIndex {
  std::vector<double> intime;  // minutes on the dataset's axis
  std::unordered_map<std::string, int32_t> by_stay, by_admission;
};

CohortIndex load_cohort(const fs::path& path, TimeKind kind, std::vector<Stay>& stays, CsvOptions csv) {
  CsvReader reader(path.string(), csv);
  int c_stay = require_column(reader, "stay_id"), c_patient = require_column(reader, "patient_id"),
      c_adm = require_column(reader, "admission_id"), c_in = require_column(reader, "intime"),
      c_out = require_column(reader, "outtime"), c_age = require_column(reader, "age"),
      c_gender = require_column(reader, "gender");
  CohortIndex index;
  while (reader.next()) {
    Stay stay;
    stay.stay_id = std::string(reader.field(c_stay));
    stay.patient_id = std::string(reader.field(c_patient));
    stay.admission_id = std::string(reader.field(c_adm));
    stay.gender = std::string(reader.field(c_gender));
    double age, in = 0, out;
    if (parse_number(reader.field(c_age), age)) stay.age = age;
    if (!reader.field(c_in).empty() && !parse_time_minutes(reader.field(c_in), kind, in))
      fail("{}:{}: cannot read intime '{}'", reader.path(), reader.line(), reader.field(c_in));
    if (parse_time_minutes(reader.field(c_out), kind, out)) stay.length_minutes = out - in;
    if (stay.stay_id.empty()) fail("{}:{}: empty stay_id", reader.path(), reader.line());
    int32_t s = static_cast<int32_t>(stays.size());
    if (!index.by_stay.emplace(stay.stay_id, s).second)
      fail("{}:{}: duplicate stay_id '{}'", reader.path(), reader.line(), stay.stay_id);
    if (!stay.admission_id.empty()) index.by_admission.emplace(stay.admission_id, s);
    index.intime.push_back(in);
    stays.push_back(std::move(stay));
  }
  return index;
}

Table load_table(const fs::path& dir, const DbTable& spec, TimeKind kind, const CohortIndex& cohort,
                 StringPool& pool, CsvOptions csv, bool show_progress) {
  Table table;
  table.schema = spec;
  fs::path path = dir / spec.file;
  if (!fs::exists(path)) fail("{}: table file missing (schema table '{}')", path.string(), spec.name);
  CsvReader reader(path.string(), csv);
  int c_link = require_column(reader, spec.link_column);
  int c_time = require_column(reader, spec.time_column);
  std::vector<int> c_cols;
  for (const auto& name : spec.modelled_columns()) {
    Column col;
    col.name = name;
    auto type = spec.types.find(name);
    if (type == spec.types.end()) fail("{}: schema.json has no type for column '{}.{}'", dir.string(), spec.name, name);
    col.type = type->second;
    if (name == spec.item_column) table.item = static_cast<int>(table.columns.size());
    table.columns.push_back(std::move(col));
    c_cols.push_back(require_column(reader, name));
  }
  const auto& link_map = spec.link_cohort_key == "admission_id" ? cohort.by_admission : cohort.by_stay;
  std::optional<Progress> progress;
  if (show_progress) progress.emplace("load " + dir.filename().string() + "/" + spec.name, 0, "rows");
  std::string key;
  while (reader.next()) {
    if (progress && (reader.record_index() & 4095) == 4095) progress->advance(4096);
    key.assign(trim(reader.field(c_link)));
    auto it = link_map.find(key);
    if (it == link_map.end()) {
      ++table.broken_references;
      continue;
    }
    double t;
    if (!parse_time_minutes(reader.field(c_time), kind, t)) {
      ++table.bad_times;
      continue;
    }
    int32_t s = it->second;
    table.stay.push_back(s);
    table.minute.push_back(static_cast<int32_t>(std::llround(t - cohort.intime[s])));
    for (size_t c = 0; c < table.columns.size(); ++c) {
      Column& col = table.columns[c];
      std::string_view field = reader.field(c_cols[c]);
      if (col.is_numeric()) {
        double v;
        if (parse_number(field, v)) {
          col.values.push_back(v);
        } else {
          col.values.push_back(kNaN);
          if (!trim(field).empty()) ++col.unparsed;
        }
      } else if (field.empty()) {
        col.ids.push_back(-1);
      } else {
        if (!spec.dictionary_column.empty() && col.name == spec.dictionary_column) {
          auto label = spec.dictionary_labels.find(std::string(trim(field)));
          if (label != spec.dictionary_labels.end()) field = label->second;
        }
        col.ids.push_back(pool.intern(field));
      }
    }
  }
  if (progress) {
    progress->advance((reader.record_index() + 1) & 4095);
    progress->finish();
  }
  return table;
}

}  // namespace

void check_same_schema(const DbSchema& reference, const DbSchema& other, const std::string& origin) {
  for (const auto& table : reference.tables) {
    const DbTable* t = other.find(table.name);
    if (!t) fail("{}: table '{}' is missing (the real data has it)", origin, table.name);
    for (const auto& [name, type] : table.types) {
      auto it = t->types.find(name);
      if (it == t->types.end()) fail("{}: table '{}' has no column '{}'", origin, table.name, name);
      if (it->second != type)
        fail("{}: column '{}.{}' is {} but {} in the real data", origin, table.name, name,
             column_type_name(it->second), column_type_name(type));
    }
  }
  if (other.time_kind != reference.time_kind) fail("{}: time_kind differs from the real data", origin);
}

Database load_database(const fs::path& dir, StringPool& pool, const LoadOptions& options) {
  if (!fs::is_directory(dir)) fail("{}: not a folder (expected a Database folder)", dir.string());
  Database db;
  db.dir = dir;
  if (fs::exists(dir / "schema.json")) {
    db.schema = DbSchema::load(dir);
    db.file_crc32.emplace_back("schema.json", file_crc32(dir / "schema.json"));
  } else if (options.fallback_schema) {
    db.schema = *options.fallback_schema;
  } else {
    fail("{}: no schema.json", (dir / "schema.json").string());
  }
  CsvOptions csv;
  csv.skip_malformed = options.skip_malformed;
  fs::path cohort_path = dir / kCohortFile;
  if (!fs::exists(cohort_path)) fail("{}: cohort file missing", cohort_path.string());
  CohortIndex cohort = load_cohort(cohort_path, db.schema.time_kind, db.stays, csv);
  db.file_crc32.emplace_back(kCohortFile, file_crc32(cohort_path));
  for (const auto& spec : db.schema.tables) {
    db.tables.push_back(load_table(dir, spec, db.schema.time_kind, cohort, pool, csv, options.show_progress));
    db.file_crc32.emplace_back(spec.file, file_crc32(dir / spec.file));
  }
  // Group rows by stay (counting sort on stay, then sort each stay by time).
  db.stay_offsets.assign(db.stays.size() + 1, 0);
  for (const auto& t : db.tables)
    for (int32_t s : t.stay) ++db.stay_offsets[s + 1];
  for (size_t s = 0; s < db.stays.size(); ++s) db.stay_offsets[s + 1] += db.stay_offsets[s];
  db.events.resize(db.stay_offsets.back());
  std::vector<int64_t> fill(db.stay_offsets.begin(), db.stay_offsets.end() - 1);
  for (size_t ti = 0; ti < db.tables.size(); ++ti) {
    const auto& t = db.tables[ti];
    for (size_t r = 0; r < t.rows(); ++r)
      db.events[fill[t.stay[r]]++] = {t.minute[r], static_cast<int32_t>(ti), static_cast<int32_t>(r)};
  }
  for (size_t s = 0; s < db.stays.size(); ++s)
    std::sort(db.events.begin() + db.stay_offsets[s], db.events.begin() + db.stay_offsets[s + 1],
              [](const EventRef& a, const EventRef& b) {
                return std::tie(a.minute, a.table, a.row) < std::tie(b.minute, b.table, b.row);
              });
  return db;
}

}  // namespace rawmed::eval
