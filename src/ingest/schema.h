#pragma once
// schema.json of a database folder (docs/file-formats.md, "Database folder"): how to read the
// per-table CSV files of real splits and synthetic output alike.
#include "common/config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rawmed {

struct DbTable {
  std::string name, file;
  std::vector<std::string> columns;  // file order
  std::string link_column, link_cohort_key;  // cohort_key: "stay_id" | "admission_id"
  std::string time_column;
  std::string item_column;           // empty when none
  std::vector<std::string> dropped;
  std::map<std::string, ColumnType> types;  // every modelled column
  std::string dictionary_column;     // empty when none
  std::map<std::string, std::string> dictionary_labels;  // code -> label

  // Modelled columns in file order (not dropped, not link, not time).
  std::vector<std::string> modelled_columns() const;
};

struct DbSchema {
  std::string dataset;
  int window_hours = 12;
  TimeKind time_kind = TimeKind::kDatetime;
  std::vector<DbTable> tables;

  const DbTable* find(const std::string& name) const;
  nlohmann::json to_json() const;
  static DbSchema from_json(const nlohmann::json& json, const std::string& origin);
  static DbSchema load(const std::filesystem::path& db_dir);  // reads db_dir/schema.json
};

// The cohort file of a database folder.
inline constexpr const char* kCohortFile = "cohort.csv.gz";
inline const std::vector<std::string> kCohortColumns = {"stay_id", "patient_id", "admission_id", "intime",
                                                        "outtime", "age", "gender"};

}  // namespace rawmed
