#pragma once
// Where a table lives when it is not a CSV file: a PostgreSQL or SQLite database
// (docs/formats/databases.md). A location string is
//   postgresql://USER@HOST[:PORT]/DB[?libpq parameters][&schema=NAME]  (a whole database or schema)
//   sqlite:PATH/TO.db                                                 (SQLite file)
// optionally followed by "#" and the COPY target: "schema.table" or "(SELECT ...)" for a query.
// Passwords never appear in a location: libpq reads PGPASSWORD or ~/.pgpass; a URL carrying one
// is an error.
#include <string>
#include <string_view>

namespace rawmed {

enum class DbKind { kPostgres, kSqlite };

struct DbLocation {
  DbKind kind = DbKind::kPostgres;
  std::string connect;  // libpq URI (rawmed's own parameters removed) or the SQLite file path
  std::string display;  // for messages: the location as given (never holds a password)
  std::string schema;   // ?schema=NAME (PostgreSQL output/evaluate), empty when absent
  std::string target;   // after '#': "schema.table", "table" or "(query)"; empty when absent
};

// True when `text` starts with postgresql://, postgres:// or sqlite:.
bool is_database_location(std::string_view text);

// Parses a location; errors name the location (without a password) and what is wrong.
DbLocation parse_database_location(std::string_view text);

// `base` (a location without '#') joined with a table name or a parenthesised query.
std::string table_location(std::string_view base, std::string_view table_or_query);

// Checks a `schema.table` or `table` name: letters, digits and '_' only in each part, so that it
// can be quoted as SQL identifiers. Errors name `context`.
void check_table_identifier(std::string_view name, std::string_view context);

// "schema"."table" (PostgreSQL) or "table" / "schema"."table" (SQLite): each part double-quoted.
std::string quote_table_identifier(std::string_view name);
std::string quote_identifier(std::string_view name);

}  // namespace rawmed
