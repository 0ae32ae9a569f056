#include "ingest/db_postgres.h"

#include "common/error.h"

#include <libpq-fe.h>

#include <string_view>

namespace rawmed {
namespace {

std::string trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct ResultGuard {
  PGresult* result;
  ~ResultGuard() { PQclear(result); }
};

class PostgresCsvSource : public BufferedRowSource {
 public:
  explicit PostgresCsvSource(const DbLocation& location) : connection_(location) {
    std::string sql = "COPY " + copy_target_sql(location.target, location.display) +
                      " TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')";
    ResultGuard result{PQexec(connection_.raw(), sql.c_str())};
    if (PQresultStatus(result.result) != PGRES_COPY_OUT) connection_.fail_with_server_message("cannot read the table");
  }

 protected:
  bool produce(std::string& pending, int64_t line) override {
    if (finished_) return false;
    // A few hundred rows per call keep the per-call overhead small and memory bounded.
    while (pending.size() < (1 << 16)) {
      char* row = nullptr;
      int n = PQgetCopyData(connection_.raw(), &row, 0);
      if (n >= 0) {
        pending.append(row, static_cast<size_t>(n));
        PQfreemem(row);
        continue;
      }
      if (n == -2) connection_.fail_with_server_message(fmt::format("near line {}: reading the table failed", line));
      ResultGuard result{PQgetResult(connection_.raw())};
      if (PQresultStatus(result.result) != PGRES_COMMAND_OK)
        connection_.fail_with_server_message(fmt::format("near line {}: the table stream ended with an error", line));
      finished_ = true;
      break;
    }
    return !pending.empty();
  }

 private:
  PgConnection connection_;
  bool finished_ = false;
};

}  // namespace

PgConnection::PgConnection(const DbLocation& location) : display_(location.display) {
  // Passwords come from PGPASSWORD or ~/.pgpass only (libpq reads both); the URI holds none.
  conn_ = PQconnectdb(location.connect.c_str());
  if (!conn_) fail("{}: cannot allocate a PostgreSQL connection", display_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    fail("{}: cannot connect to PostgreSQL: {}", display_, message);
  }
  exec("SET client_min_messages = warning; SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1; "
       "SET IntervalStyle = 'postgres'");
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

void PgConnection::fail_with_server_message(const std::string& what) const {
  fail("{}: {}: {}", display_, what, trimmed(PQerrorMessage(conn_)));
}

void PgConnection::exec(const std::string& sql) {
  ResultGuard result{PQexec(conn_, sql.c_str())};
  ExecStatusType status = PQresultStatus(result.result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail_with_server_message("SQL failed");
}

std::vector<std::vector<std::string>> PgConnection::query(const std::string& sql) {
  ResultGuard result{PQexec(conn_, sql.c_str())};
  if (PQresultStatus(result.result) != PGRES_TUPLES_OK) fail_with_server_message("query failed");
  std::vector<std::vector<std::string>> rows(static_cast<size_t>(PQntuples(result.result)));
  for (size_t r = 0; r < rows.size(); ++r)
    for (int c = 0; c < PQnfields(result.result); ++c)
      rows[r].emplace_back(PQgetvalue(result.result, static_cast<int>(r), c));
  return rows;
}

void PgConnection::copy_in(const std::string& target_sql, ByteSource& source) {
  std::string sql = "COPY " + target_sql + " FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')";
  {
    ResultGuard result{PQexec(conn_, sql.c_str())};
    if (PQresultStatus(result.result) != PGRES_COPY_IN) fail_with_server_message("cannot load " + target_sql);
  }
  std::string buffer(1 << 18, '\0');
  while (size_t n = source.read(buffer.data(), buffer.size(), 0)) {
    if (PQputCopyData(conn_, buffer.data(), static_cast<int>(n)) != 1) {
      PQputCopyEnd(conn_, "rawmed: aborted");
      fail_with_server_message("loading " + target_sql + " failed");
    }
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) fail_with_server_message("loading " + target_sql + " failed");
  ResultGuard result{PQgetResult(conn_)};
  if (PQresultStatus(result.result) != PGRES_COMMAND_OK) fail_with_server_message("loading " + target_sql + " failed");
  while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
}

std::string copy_target_sql(const std::string& target, const std::string& display) {
  if (!target.empty() && target.front() == '(') {
    if (target.back() != ')') fail("{}: a query target must be \"(SELECT ...)\"", display);
    return target;
  }
  check_table_identifier(target, display);
  return quote_table_identifier(target);
}

std::unique_ptr<ByteSource> open_postgres_csv_source(const DbLocation& location) {
  return std::make_unique<PostgresCsvSource>(location);
}

}  // namespace rawmed
