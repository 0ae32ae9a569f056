#include "ingest/db_tables.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/config.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/db_location.h"
#include "ingest/db_postgres.h"
#include "ingest/db_sqlite.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>

namespace rawmed {
namespace {

constexpr const char* kMetaTable = "_rawmed";
constexpr const char* kCsvSuffix = ".csv.gz";

// Leading zeros and "-0" are text: a number column would not give them back (NDC codes).
bool has_leading_zero(std::string_view s) {
  std::string_view digits = s.substr(s.front() == '-' ? 1 : 0);
  return digits.empty() || (digits.front() == '0' && (digits.size() == 1 ? s.front() == '-' : digits[1] != '.'));
}

bool is_integer(std::string_view s) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && !has_leading_zero(s);
}

// Plain decimal notation only, so that PostgreSQL numeric keeps the text as written.
bool is_decimal(std::string_view s) {
  size_t i = s.front() == '-' ? 1 : 0, digits = 0, dots = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '.') ++dots;
    else if (s[i] >= '0' && s[i] <= '9') ++digits;
    else return false;
  }
  return digits > 0 && dots <= 1 && s.back() != '.' && s[s.front() == '-' ? 1 : 0] != '.' && !has_leading_zero(s);
}

// "YYYY-MM-DD HH:MM:SS" exactly: what PostgreSQL writes back for a timestamp.
bool is_timestamp(std::string_view s) { return s.size() == 19 && s[10] == ' ' && parse_datetime(s).has_value(); }

SqlType widen(SqlType current, std::string_view value) {
  if (current == SqlType::kBigint && is_integer(value)) return SqlType::kBigint;
  if ((current == SqlType::kBigint || current == SqlType::kNumeric) && is_decimal(value)) return SqlType::kNumeric;
  if (current == SqlType::kTimestamp && is_timestamp(value)) return SqlType::kTimestamp;
  return SqlType::kText;
}

std::vector<std::string> folder_files(const fs::path& folder, std::string_view suffix) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string table_of(const std::string& file) { return file.substr(0, file.size() - std::string(kCsvSuffix).size()); }

std::string create_table_sql(const std::string& name, const std::vector<std::string>& columns,
                             const std::vector<std::string>& types) {
  std::string sql = "CREATE TABLE " + quote_table_identifier(name) + " (";
  for (size_t c = 0; c < columns.size(); ++c) sql += (c ? ", " : "") + quote_identifier(columns[c]) + " " + types[c];
  return sql + ")";
}

std::string sql_literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

class FileSource : public BufferedRowSource {
 public:
  explicit FileSource(const fs::path& path) : reader_(path.string()) {}

 protected:
  bool produce(std::string& pending, int64_t) override {
    if (!header_done_) {
      append_row(pending, reader_.header());
      header_done_ = true;
    }
    while (pending.size() < (1 << 16) && reader_.next()) append_row(pending, reader_.fields());
    return !pending.empty();
  }

 private:
  template <typename Fields>
  static void append_row(std::string& out, const Fields& fields) {
    for (size_t c = 0; c < fields.size(); ++c) {
      if (c) out += ',';
      append_csv_field(out, fields[c].data(), fields[c].size());
    }
    out += '\n';
  }
  CsvReader reader_;
  bool header_done_ = false;
};

void publish_postgres(const fs::path& folder, const DbLocation& location, const SourceColumnTypes& source_types) {
  const std::string schema = location.schema.empty() ? "synthetic" : location.schema;
  const std::string staging = fmt::format("{}_staging_{}", schema, ::getpid());
  PgConnection connection(location);
  connection.exec("BEGIN");
  connection.exec("CREATE SCHEMA " + quote_identifier(staging));
  static const std::map<std::string, std::string> kNone;
  for (const auto& file : folder_files(folder, kCsvSuffix)) {
    auto it = source_types.find(table_of(file));
    create_and_load(connection, staging + "." + table_of(file), folder / file,
                    it == source_types.end() ? kNone : it->second);
  }
  connection.exec("CREATE TABLE " + quote_identifier(staging) + "." + kMetaTable + " (name text PRIMARY KEY, content text NOT NULL)");
  for (const auto& file : folder_files(folder, ".json"))
    connection.exec("INSERT INTO " + quote_identifier(staging) + "." + kMetaTable + " VALUES (" + sql_literal(file) +
                    ", " + sql_literal(read_file(folder / file)) + ")");
  connection.exec("DROP SCHEMA IF EXISTS " + quote_identifier(schema) + " CASCADE");
  connection.exec("ALTER SCHEMA " + quote_identifier(staging) + " RENAME TO " + quote_identifier(schema));
  connection.exec("COMMIT");
}

void publish_sqlite(const fs::path& folder, const DbLocation& location) {
  const std::string temporary = fmt::format("{}.tmp-{}", location.connect, ::getpid());
  fs::remove(temporary);
  try {
    {
      SqliteDb db(temporary, location.display, true);
      db.exec("BEGIN");
      for (const auto& file : folder_files(folder, kCsvSuffix)) create_and_load(db, table_of(file), folder / file);
      db.exec(std::string("CREATE TABLE ") + kMetaTable + " (name text PRIMARY KEY, content text NOT NULL)");
      for (const auto& file : folder_files(folder, ".json"))
        db.exec(std::string("INSERT INTO ") + kMetaTable + " VALUES (" + sql_literal(file) + ", " +
                sql_literal(read_file(folder / file)) + ")");
      db.exec("COMMIT");
    }
    fs::rename(temporary, location.connect);
  } catch (...) {
    fs::remove(temporary);
    throw;
  }
}

void copy_table_to_file(const std::string& location, const fs::path& path) {
  CsvReader reader(location);
  CsvWriter writer(path.string());
  writer.write_row(reader.header());
  while (reader.next()) writer.write_row(reader.fields());
  writer.close();
}

}  // namespace

namespace {

std::vector<SqlType> infer_sql_types(const std::string& csv_location, std::vector<bool>* seen_out) {
  CsvReader reader(csv_location);
  std::vector<SqlType> types(reader.header().size(), SqlType::kBigint);
  std::vector<bool> seen(types.size(), false);
  while (reader.next()) {
    for (size_t c = 0; c < types.size(); ++c) {
      std::string_view value = reader.field(c);
      if (value.empty() || types[c] == SqlType::kText) continue;
      if (!seen[c] && is_timestamp(value)) types[c] = SqlType::kTimestamp;
      seen[c] = true;
      types[c] = widen(types[c], value);
    }
  }
  for (size_t c = 0; c < types.size(); ++c)
    if (!seen[c]) types[c] = SqlType::kText;
  if (seen_out) *seen_out = seen;
  return types;
}

}  // namespace

std::vector<SqlType> infer_sql_types(const std::string& csv_location) { return infer_sql_types(csv_location, nullptr); }

bool source_type_fits(SqlType inferred, bool seen, const std::string& source_type) {
  if (!seen) return true;
  const std::string& t = source_type;
  bool text = t == "text" || t == "character varying";
  switch (inferred) {
    case SqlType::kBigint: return text || t == "bigint" || t == "numeric" || t == "double precision";
    case SqlType::kNumeric: return text || t == "numeric" || t == "double precision";
    case SqlType::kTimestamp:
      return text || (t.rfind("timestamp", 0) == 0 && t.find("with time zone") == std::string::npos);
    default: return text;
  }
}

const char* postgres_type_name(SqlType type) {
  switch (type) {
    case SqlType::kBigint: return "bigint";
    case SqlType::kNumeric: return "numeric";
    case SqlType::kTimestamp: return "timestamp(0)";
    default: return "text";
  }
}

const char* sqlite_type_name(SqlType type) {
  switch (type) {
    case SqlType::kBigint: return "INTEGER";
    case SqlType::kNumeric: return "REAL";
    default: return "TEXT";  // SQLite keeps datetimes as ISO text
  }
}

void create_and_load(PgConnection& connection, const std::string& name, const fs::path& csv,
                     const std::map<std::string, std::string>& source_types) {
  std::vector<bool> seen;
  std::vector<SqlType> types = infer_sql_types(csv.string(), &seen);
  FileSource source(csv);
  CsvReader header(csv.string());
  std::vector<std::string> sql_types;
  for (size_t c = 0; c < types.size(); ++c) {
    auto it = source_types.find(header.header()[c]);
    bool fits = it != source_types.end() && source_type_fits(types[c], seen[c], it->second);
    sql_types.push_back(fits ? it->second : postgres_type_name(types[c]));
  }
  connection.exec(create_table_sql(name, header.header(), sql_types));
  connection.copy_in(quote_table_identifier(name), source);
}

void create_and_load(SqliteDb& db, const std::string& name, const fs::path& csv) {
  std::vector<SqlType> types = infer_sql_types(csv.string());
  CsvReader reader(csv.string());
  std::vector<std::string> sql_types;
  for (SqlType type : types) sql_types.push_back(sqlite_type_name(type));
  db.exec(create_table_sql(name, reader.header(), sql_types));
  db.insert_csv(quote_table_identifier(name), reader);
}

void publish_database_folder(const fs::path& folder, const std::string& location,
                             const SourceColumnTypes& source_types) {
  DbLocation db = parse_database_location(location);
  if (!db.target.empty()) fail("{}: an output location names a database (and schema), not a '#' table", db.display);
  log_info("publishing {} to {}", folder.string(), db.display);
  if (db.kind == DbKind::kPostgres) publish_postgres(folder, db, source_types);
  else publish_sqlite(folder, db);
}

namespace {

bool has_meta_table(const std::string& location) {
  DbLocation db = parse_database_location(location);
  if (db.kind == DbKind::kPostgres) {
    PgConnection connection(db);
    return !connection
                .query("SELECT 1 FROM information_schema.tables WHERE table_schema = " + sql_literal(db.schema) +
                       " AND table_name = " + sql_literal(kMetaTable))
                .empty();
  }
  if (!fs::exists(db.connect)) return false;
  SqliteDb sqlite(db.connect, db.display, false);
  return !sqlite.query(std::string("SELECT 1 FROM sqlite_master WHERE name = ") + sql_literal(kMetaTable)).empty();
}

}  // namespace

void publish_real_splits(const fs::path& folder, const std::string& location) {
  for (const char* split : {"train", "valid", "test"})
    if (fs::exists(folder / split)) publish_database_folder(folder / split, split_location(location, split));
}

void fetch_real_splits(const std::string& location, const fs::path& folder) {
  fs::create_directories(folder);
  for (const char* split : {"train", "valid", "test"}) {
    std::string at = split_location(location, split);
    if (std::string(split) == "valid" && !has_meta_table(at)) continue;
    fetch_database_folder(at, folder / split);
  }
}

void fetch_database_folder(const std::string& location, const fs::path& folder) {
  DbLocation db = parse_database_location(location);
  std::vector<std::string> tables;
  std::vector<std::vector<std::string>> meta;
  std::string prefix;
  if (db.kind == DbKind::kPostgres) {
    if (db.schema.empty()) fail("{}: name the schema to read with ?schema=NAME", db.display);
    PgConnection connection(db);
    auto rows = connection.query("SELECT table_name FROM information_schema.tables WHERE table_schema = " +
                                 sql_literal(db.schema) + " ORDER BY table_name");
    for (auto& row : rows) tables.push_back(row[0]);
    if (std::find(tables.begin(), tables.end(), kMetaTable) == tables.end())
      fail("{}: schema \"{}\" has no {} table (not a rawmed database folder, or missing)", db.display, db.schema,
           kMetaTable);
    meta = connection.query("SELECT name, content FROM " + quote_identifier(db.schema) + "." + kMetaTable);
    prefix = db.schema + ".";
  } else {
    SqliteDb sqlite(db.connect, db.display, false);
    auto rows = sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    for (auto& row : rows) tables.push_back(row[0]);
    if (std::find(tables.begin(), tables.end(), kMetaTable) == tables.end())
      fail("{}: no {} table (not a rawmed database folder)", db.display, kMetaTable);
    meta = sqlite.query(std::string("SELECT name, content FROM ") + kMetaTable);
  }
  std::string base = location.substr(0, location.find('#'));
  AtomicDir out(folder);
  for (const auto& table : tables)
    if (table != kMetaTable) copy_table_to_file(table_location(base, prefix + table), out.path() / (table + kCsvSuffix));
  for (const auto& row : meta) {
    if (row[0].find('/') != std::string::npos || row[0].empty() || row[0][0] == '.')
      fail("{}: {} holds a bad file name \"{}\"", db.display, kMetaTable, row[0]);
    write_file_atomic(out.path() / row[0], row[1]);
  }
  out.commit();
}

SourceColumnTypes source_column_types(const DatasetSpec& spec) {
  SourceColumnTypes out;
  for (const auto& table : spec.tables) {
    std::string location = table.file.string();
    if (!is_database_location(location)) continue;
    DbLocation db = parse_database_location(location);
    if (db.kind != DbKind::kPostgres || db.target.empty() || db.target.front() == '(') continue;
    std::string schema = "public", name = db.target;
    if (size_t dot = name.find('.'); dot != std::string::npos) {
      schema = name.substr(0, dot);
      name = name.substr(dot + 1);
    }
    PgConnection connection(db);
    for (const auto& row : connection.query(
             "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON "
             "c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
             sql_literal(schema) + " AND c.relname = " + sql_literal(name) + " AND a.attnum > 0 AND NOT a.attisdropped"))
      out[table.name][row[0]] = row[1];
  }
  return out;
}

std::string split_location(const std::string& location, const std::string& split) {
  DbLocation db = parse_database_location(location);
  if (db.kind == DbKind::kSqlite) {
    fs::path file(db.connect);
    return "sqlite:" + (file.parent_path() / (file.stem().string() + "_" + split + file.extension().string())).string();
  }
  if (db.schema.empty()) fail("{}: name the schema of the real splits with ?schema=NAME", db.display);
  std::string out = location;
  size_t at = out.find("schema=" + db.schema);
  return out.replace(at, 7 + db.schema.size(), "schema=" + db.schema + "_" + split);
}

}  // namespace rawmed
