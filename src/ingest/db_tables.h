#pragma once
// Database folders (docs/file-formats.md) inside a database: each <table>.csv.gz becomes a table
// with the CSV's column names and SQL types inferred from its values, and each .json file becomes
// a row of a `_rawmed` (name, content) table. Used by `generate --out URL` and
// `evaluate --real/--synthetic URL` (docs/formats/databases.md).
//
// PostgreSQL: the folder is one schema (?schema=NAME, default "synthetic"). The release loads a
// staging schema inside one transaction and renames it over the target at commit, so a failure
// (or a server killed mid-load) leaves the previous release untouched.
// SQLite: the folder is one file, built as FILE.tmp-<pid> and renamed over FILE.
#include <filesystem>
#include <string>
#include <vector>

namespace rawmed {

enum class SqlType { kBigint, kNumeric, kTimestamp, kText };

// The narrowest type holding every non-empty value of each column of a CSV table.
std::vector<SqlType> infer_sql_types(const std::string& csv_location);
const char* postgres_type_name(SqlType type);
const char* sqlite_type_name(SqlType type);

class PgConnection;
class SqliteDb;
// Loads a CSV file into a new table `name` ("table" or "schema.table") of an open database.
void create_and_load(PgConnection& connection, const std::string& name, const std::filesystem::path& csv);
void create_and_load(SqliteDb& db, const std::string& name, const std::filesystem::path& csv);

// Publishes every *.csv.gz and *.json file of `folder` to the database at `location`, atomically.
void publish_database_folder(const std::filesystem::path& folder, const std::string& location);

// Writes the tables and `_rawmed` files found at `location` into `folder` (created; must not exist).
void fetch_database_folder(const std::string& location, const std::filesystem::path& folder);

// Real splits (train, valid, test) at split_location(location, split): published from, or fetched
// into, the split subfolders of `folder` (WORK/real). valid is optional on fetch.
void publish_real_splits(const std::filesystem::path& folder, const std::string& location);
void fetch_real_splits(const std::string& location, const std::filesystem::path& folder);

// The location of one split of real splits held in a database: PostgreSQL schema NAME_<split>,
// SQLite file STEM_<split>.db beside FILE.
std::string split_location(const std::string& location, const std::string& split);

}  // namespace rawmed
