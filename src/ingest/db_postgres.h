#pragma once
// PostgreSQL through libpq: a connection that reports errors with the location (never a
// password), table streaming with COPY ... TO STDOUT (CSV) and loading with COPY ... FROM STDIN.
#include "ingest/byte_source.h"
#include "ingest/db_location.h"

#include <memory>
#include <string>
#include <vector>

struct pg_conn;

namespace rawmed {

class PgConnection {
 public:
  // Connects and sets the session so that COPY writes what a CSV export holds: UTF-8, ISO dates.
  explicit PgConnection(const DbLocation& location);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  void exec(const std::string& sql);
  // Rows of a query as text (null as empty).
  std::vector<std::vector<std::string>> query(const std::string& sql);
  // Streams `source` (CSV with a header line) into `COPY target FROM STDIN`.
  void copy_in(const std::string& target_sql, ByteSource& source);
  pg_conn* raw() const { return conn_; }
  const std::string& display() const { return display_; }
  [[noreturn]] void fail_with_server_message(const std::string& what) const;

 private:
  pg_conn* conn_ = nullptr;
  std::string display_;
};

// The COPY target of a location's '#' part: a quoted schema.table or a parenthesised query.
std::string copy_target_sql(const std::string& target, const std::string& display);

std::unique_ptr<ByteSource> open_postgres_csv_source(const DbLocation& location);

}  // namespace rawmed
