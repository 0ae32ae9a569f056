#pragma once
// The dataset spec (TOML): which tables, how they link to ICU stays, cohort rules, and the
// per-stage sections [codec], [temporal], [generate], [evaluate] that each stage reads itself.
// Unknown keys, missing files and bad types stop with an error naming the file and key.
#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rawmed {

enum class TimeKind { kDatetime, kMinutes };
enum class ColumnType { kNumeric, kCategorical, kText };
const char* column_type_name(ColumnType type);
std::optional<ColumnType> parse_column_type(std::string_view name);

struct DictionarySpec {
  std::string column;   // the event-table column holding codes (e.g. itemid)
  std::filesystem::path file;
  std::string key;      // code column in the dictionary file
  std::string label;    // label column in the dictionary file
};

struct TableSpec {
  std::string name;                  // serialized table name and output file stem
  std::filesystem::path file;        // absolute
  std::string link_column;           // column that links a row to a stay
  std::string link_to = "stay_id";   // cohort key: "stay_id" or "admission_id"
  std::string time_column;
  std::vector<std::string> drop;     // identifier and store-time columns not modelled
  std::string item_column;           // may be empty
  std::optional<DictionarySpec> dictionary;
  std::map<std::string, ColumnType> types;  // overrides of the inferred types
};

struct CohortSpec {
  std::filesystem::path stays_file;  // one row per ICU stay
  std::string stay_id, patient_id, admission_id, intime, outtime;  // intime empty: offsets (0)
  std::string stay_order;            // column that orders stays in an admission (default intime)
  // Patients / age / gender: where to find them.
  std::filesystem::path patients_file;  // optional, joined on patient_id
  std::string patients_key;
  std::string gender;
  std::string age_kind = "column";     // "column" | "anchor" (MIMIC-IV) | "dob" (MIMIC-III)
  std::string age;                     // column (stays or patients table) for kind=column
  std::string anchor_age, anchor_year; // kind=anchor
  std::string dob;                     // kind=dob
  std::string age_over_89_value = "> 89";  // eICU text, read as 90
};

struct DatasetSpec {
  std::string name;
  TimeKind time_kind = TimeKind::kDatetime;
  int window_hours = 12;
  int max_tokens_per_event = 128;
  int max_events_per_stay = 0;       // 0: 95th percentile of train events per stay
  uint64_t split_seed = 0;
  int min_patients_for_token = 5;    // k: rarer strings are spelled in smaller pieces
  int decimals = 4;
  bool skip_malformed_rows = false;
  double min_age = 18;
  int min_events = 6;                // "more than 5 events in the window"
  bool first_stay_per_admission = true;
  bool require_full_window = true;   // stay lasts at least the window
  CohortSpec cohort;
  std::vector<TableSpec> tables;
};

struct Config {
  std::filesystem::path path;        // the TOML file
  toml::table root;
  DatasetSpec dataset;
};

// Parses and checks the whole file (dataset part; stage sections are checked by their stages
// through check_keys). Relative paths resolve against the config file's folder.
Config load_config(const std::filesystem::path& path);

// The [name] table of the config, or an empty table.
const toml::table& config_section(const Config& config, std::string_view name);

// Errors "FILE: unknown key 'CONTEXT.KEY' (known: ...)" for any key not in `known`.
void check_keys(const toml::table& table, std::initializer_list<std::string_view> known, std::string_view context,
                const std::filesystem::path& file);
void check_keys(const toml::table& table, const std::vector<std::string_view>& known, std::string_view context,
                const std::filesystem::path& file);

// Typed lookups with defaults; a value of the wrong type errors naming file and key.
int64_t get_int(const toml::table& table, std::string_view key, int64_t fallback, std::string_view context,
                const std::filesystem::path& file);
double get_double(const toml::table& table, std::string_view key, double fallback, std::string_view context,
                  const std::filesystem::path& file);
bool get_bool(const toml::table& table, std::string_view key, bool fallback, std::string_view context,
              const std::filesystem::path& file);
std::string get_string(const toml::table& table, std::string_view key, std::string fallback,
                       std::string_view context, const std::filesystem::path& file);

}  // namespace rawmed
