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
#include <map>
#include <string>
#include <vector>

namespace rawmed {

enum class SqlType { kBigint, kNumeric, kTimestamp, kText };

// The narrowest type holding every non-empty value of each column of a CSV table.
std::vector<SqlType> infer_sql_types(const std::string& csv_location);
const char* postgres_type_name(SqlType type);
const char* sqlite_type_name(SqlType type);

// PostgreSQL column types of the source tables, by output table name and column
// (format_type, e.g. "double precision"), used where they hold every written value.
using SourceColumnTypes = std::map<std::string, std::map<std::string, std::string>>;

// The declared types of the tables a config reads from PostgreSQL (`table`, not `query`); empty
// for files, SQLite and queries.
struct DatasetSpec;
SourceColumnTypes source_column_types(const DatasetSpec& spec);

// The source type when it takes every value of a column inferred as `inferred` (`seen`: the
// column has a value): an empty column takes any type; otherwise only types that hold any value
// of the inferred kind (no integer narrower than bigint, no varchar(n)).
bool source_type_fits(SqlType inferred, bool seen, const std::string& source_type);

class PgConnection;
class SqliteDb;
// Loads a CSV file into a new table `name` ("table" or "schema.table") of an open database.
// `source_types`: column -> PostgreSQL type of the source, used where source_type_fits.
void create_and_load(PgConnection& connection, const std::string& name, const std::filesystem::path& csv,
                     const std::map<std::string, std::string>& source_types = {});
void create_and_load(SqliteDb& db, const std::string& name, const std::filesystem::path& csv);

// Publishes every *.csv.gz and *.json file of `folder` to the database at `location`, atomically.
// PostgreSQL output takes the source's column types from `source_types` where they fit.
void publish_database_folder(const std::filesystem::path& folder, const std::string& location,
                             const SourceColumnTypes& source_types = {});

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
