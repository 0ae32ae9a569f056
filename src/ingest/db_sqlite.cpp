#include "ingest/db_sqlite.h"

#include "common/error.h"
#include "common/csv.h"

#include <sqlite3.h>

#include <charconv>
#include <cstring>
#include <filesystem>

namespace rawmed {
namespace {

struct StatementGuard {
  sqlite3_stmt* statement = nullptr;
  ~StatementGuard() { sqlite3_finalize(statement); }
};

std::string select_sql(const std::string& target, const std::string& display) {
  if (!target.empty() && target.front() == '(') {
    if (target.back() != ')') fail("{}: a query target must be \"(SELECT ...)\"", display);
    return "SELECT * FROM " + target;
  }
  check_table_identifier(target, display);
  return "SELECT * FROM " + quote_table_identifier(target);
}

// SQLite's own text of a REAL is "6.0" for 6; the shortest text that reads back to the same
// double is what a CSV export of the number holds ("6", "0.1").
void append_shortest(std::string& out, double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

class SqliteCsvSource : public BufferedRowSource {
 public:
  explicit SqliteCsvSource(const DbLocation& location) : db_(location.connect, location.display, false) {
    std::string sql = select_sql(location.target, location.display);
    if (sqlite3_prepare_v2(db_.raw(), sql.c_str(), -1, &statement_.statement, nullptr) != SQLITE_OK)
      db_.fail_with_message("cannot read the table");
    columns_ = sqlite3_column_count(statement_.statement);
  }

 protected:
  bool produce(std::string& pending, int64_t line) override {
    if (!header_written_) {
      for (int c = 0; c < columns_; ++c) {
        if (c) pending += ',';
        const char* name = sqlite3_column_name(statement_.statement, c);
        append_csv_field(pending, name, std::strlen(name));
      }
      pending += '\n';
      header_written_ = true;
    }
    while (!finished_ && pending.size() < (1 << 16)) {
      int rc = sqlite3_step(statement_.statement);
      if (rc == SQLITE_DONE) {
        finished_ = true;
        break;
      }
      if (rc != SQLITE_ROW) db_.fail_with_message(fmt::format("near line {}: reading the table failed", line));
      for (int c = 0; c < columns_; ++c) {
        if (c) pending += ',';
        int type = sqlite3_column_type(statement_.statement, c);
        if (type == SQLITE_NULL) continue;
        if (type == SQLITE_FLOAT) {
          append_shortest(pending, sqlite3_column_double(statement_.statement, c));
          continue;
        }
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_.statement, c));
        size_t size = static_cast<size_t>(sqlite3_column_bytes(statement_.statement, c));
        if (size == 0) pending += "\"\"";  // empty text, as PostgreSQL writes it
        else append_csv_field(pending, text, size);
      }
      pending += '\n';
    }
    return !pending.empty();
  }

 private:
  SqliteDb db_;
  StatementGuard statement_;
  int columns_ = 0;
  bool header_written_ = false, finished_ = false;
};

}  // namespace

void append_csv_field(std::string& out, const char* data, size_t size) {
  bool quote = std::memchr(data, ',', size) || std::memchr(data, '"', size) || std::memchr(data, '\n', size) ||
               std::memchr(data, '\r', size);
  if (!quote) {
    out.append(data, size);
    return;
  }
  out += '"';
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '"') out += '"';
    out += data[i];
  }
  out += '"';
}

SqliteDb::SqliteDb(const std::string& path, const std::string& display, bool create) : display_(display) {
  if (!create && !std::filesystem::exists(path)) fail("{}: SQLite file not found: {}", display_, path);
  int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    fail("{}: cannot open SQLite file: {}", display_, message);
  }
  sqlite3_busy_timeout(db_, 10000);
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::fail_with_message(const std::string& what) const {
  fail("{}: {}: {}", display_, what, sqlite3_errmsg(db_));
}

void SqliteDb::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "error";
    sqlite3_free(message);
    fail("{}: SQL failed: {}", display_, text);
  }
}

std::vector<std::vector<std::string>> SqliteDb::query(const std::string& sql) {
  StatementGuard guard;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &guard.statement, nullptr) != SQLITE_OK)
    fail_with_message("query failed");
  std::vector<std::vector<std::string>> rows;
  int rc;
  while ((rc = sqlite3_step(guard.statement)) == SQLITE_ROW) {
    rows.emplace_back();
    for (int c = 0; c < sqlite3_column_count(guard.statement); ++c) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(guard.statement, c));
      rows.back().emplace_back(text ? text : "");
    }
  }
  if (rc != SQLITE_DONE) fail_with_message("query failed");
  return rows;
}

void SqliteDb::insert_csv(const std::string& table_sql, CsvReader& reader) {
  std::string sql = "INSERT INTO " + table_sql + " VALUES (";
  for (size_t c = 0; c < reader.header().size(); ++c) sql += c ? ",?" : "?";
  sql += ")";
  StatementGuard guard;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &guard.statement, nullptr) != SQLITE_OK)
    fail_with_message("cannot load " + table_sql);
  while (reader.next()) {
    sqlite3_reset(guard.statement);
    for (size_t c = 0; c < reader.fields().size(); ++c) {
      std::string_view field = reader.field(c);
      int index = static_cast<int>(c + 1);
      if (field.empty()) sqlite3_bind_null(guard.statement, index);
      else sqlite3_bind_text(guard.statement, index, field.data(), static_cast<int>(field.size()), SQLITE_TRANSIENT);
    }
    if (sqlite3_step(guard.statement) != SQLITE_DONE)
      fail_with_message(fmt::format("{}:{}: loading into {} failed", reader.path(), reader.line(), table_sql));
  }
}

std::unique_ptr<ByteSource> open_sqlite_csv_source(const DbLocation& location) {
  return std::make_unique<SqliteCsvSource>(location);
}

}  // namespace rawmed
