#pragma once
// SQLite: a table or query streamed as CSV (the same conventions as CsvWriter: null and empty text
// as an empty field), and a small connection wrapper for writing.
#include "ingest/byte_source.h"
#include "ingest/db_location.h"

#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace rawmed {

class CsvReader;

class SqliteDb {
 public:
  // Opens an existing file (create = false: a missing file is an error naming it).
  SqliteDb(const std::string& path, const std::string& display, bool create);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  void exec(const std::string& sql);
  std::vector<std::vector<std::string>> query(const std::string& sql);
  // Inserts the remaining rows of `reader` (columns in the table's order) into `table_sql`.
  void insert_csv(const std::string& table_sql, CsvReader& reader);
  sqlite3* raw() const { return db_; }
  const std::string& display() const { return display_; }
  [[noreturn]] void fail_with_message(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string display_;
};

std::unique_ptr<ByteSource> open_sqlite_csv_source(const DbLocation& location);

// Appends one field as CsvWriter writes it (quoted when it holds a comma, quote, CR or LF).
void append_csv_field(std::string& out, const char* data, size_t size);

}  // namespace rawmed
