#pragma once
// A Database folder (docs/file-formats.md) loaded into memory for evaluation: the cohort, and per
// event table one row per CSV record with its stay, its minute since the stay's intime and its
// modelled columns as numbers (NaN = null) or interned strings (-1 = null).
//
// Real splits and synthetic data are loaded with one shared StringPool, so a string id means the
// same value in every database of one evaluation. Item columns with a dictionary hold the label
// (codes without a label keep the code), as the file format specifies.
//
// Usage:
//   rawmed::eval::StringPool pool;
//   auto train = rawmed::eval::load_database(dir / "train", pool);
//   auto syn = rawmed::eval::load_database(syn_dir, pool, {.fallback_schema = &train.schema});
//   for (size_t s = 0; s < syn.stays.size(); ++s)
//     for (const auto& e : syn.stay_events(s)) { const auto& t = syn.tables[e.table]; ... t.minute[e.row] ... }
#include "ingest/schema.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rawmed::eval {

// Interned strings shared by all databases of one evaluation. Not thread-safe for intern().
class StringPool {
 public:
  int32_t intern(std::string_view text);
  int32_t find(std::string_view text) const;  // -1 when never interned
  const std::string& str(int32_t id) const { return strings_[static_cast<size_t>(id)]; }
  size_t size() const { return strings_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
  std::vector<std::string> strings_;
};

struct Column {
  std::string name;
  ColumnType type = ColumnType::kCategorical;
  bool is_numeric() const { return type == ColumnType::kNumeric; }
  // Numeric columns: one value per row, NaN = null (or text that is not a number: counted in
  // `unparsed`). Empty for other columns.
  std::vector<double> values;
  // Categorical and text columns: one pool id per row, -1 = null. Empty for numeric columns.
  std::vector<int32_t> ids;
  int64_t unparsed = 0;

  bool is_null(size_t row) const { return is_numeric() ? std::isnan(values[row]) : ids[row] < 0; }
};

struct Table {
  DbTable schema;               // as in schema.json
  std::vector<int32_t> stay;    // per row: index into Database::stays
  std::vector<int32_t> minute;  // per row: minutes since the stay's intime
  std::vector<Column> columns;  // the modelled columns, file order (DbTable::modelled_columns)
  int item = -1;                // index in `columns` of the item column, -1 when none

  const std::string& name() const { return schema.name; }
  size_t rows() const { return stay.size(); }
  int column_index(std::string_view name) const;  // -1 when not modelled
  // Rows dropped on load (not in `rows()`): link value empty or not in the cohort, time empty or unparsable.
  int64_t broken_references = 0;
  int64_t bad_times = 0;
};

struct Stay {
  std::string stay_id, patient_id, admission_id;
  double age = NAN;
  std::string gender;
  double length_minutes = NAN;  // outtime - intime, NaN when unknown
};

// One row of one table, as an event of its stay.
struct EventRef {
  int32_t minute;
  int32_t table;
  int32_t row;
};

struct Database {
  std::filesystem::path dir;
  DbSchema schema;
  std::vector<Stay> stays;   // cohort file order
  std::vector<Table> tables; // schema order
  // All rows grouped by stay, each stay sorted by (minute, table, row): stay s is
  // events[stay_offsets[s] .. stay_offsets[s+1]).
  std::vector<int64_t> stay_offsets;
  std::vector<EventRef> events;
  // CRC-32 (file_crc32) of every file read, by file name.
  std::vector<std::pair<std::string, std::string>> file_crc32;

  std::span<const EventRef> stay_events(size_t s) const {
    return {events.data() + stay_offsets[s], events.data() + stay_offsets[s + 1]};
  }
  size_t total_rows() const { return events.size(); }
  int table_index(std::string_view name) const;  // -1 when absent
};

struct LoadOptions {
  // Used when the folder has no schema.json (output of another generator in the same schema).
  const DbSchema* fallback_schema = nullptr;
  bool skip_malformed = false;  // skip malformed CSV records instead of failing
  bool show_progress = true;
};

// Loads a Database folder. Errors (rawmed::Error) name the file and line: missing files, a
// header missing a schema column, a malformed record. A table file that is absent is an error
// unless the table has no rows anywhere (then it loads empty).
Database load_database(const std::filesystem::path& dir, StringPool& pool, const LoadOptions& options = {});

// Errors when `other` does not have the tables and modelled columns of `reference` (names and types).
void check_same_schema(const DbSchema& reference, const DbSchema& other, const std::string& other_origin);

}  // namespace rawmed::eval
