// Tables in PostgreSQL and SQLite (docs/formats/databases.md): prepare from a database matches
// prepare from the bundled CSV files byte for byte, database folders round-trip through both
// databases, a release is atomic, and bad locations give errors that name them without a password.
#include "common/fs.h"
#include "common/config.h"
#include "common/csv.h"
#include "ingest/db_location.h"
#include "ingest/db_sqlite.h"
#include "ingest/db_tables.h"
#include "ingest/prepare.h"
#include "common/log.h"
#include "pg_server.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <regex>

namespace rawmed {
namespace {

namespace fs = std::filesystem;

// Every file under `dir`, relative, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// The decompressed text of a .gz file, or the bytes of any other file.
std::string content_of(const fs::path& path) {
  if (path.extension() != ".gz") return read_file(path);
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out, buffer(1 << 16, '\0');
  int n;
  while ((n = gzread(f, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) out.append(buffer.data(), n);
  gzclose(f);
  return out;
}

// Asserts that dataset/ and real/ of two WORK folders hold the same files with the same bytes.
void expect_same_outputs(const fs::path& a, const fs::path& b) {
  for (const char* part : {"dataset", "real"}) {
    auto files = files_under(a / part);
    ASSERT_FALSE(files.empty());
    ASSERT_EQ(files, files_under(b / part)) << part;
    for (const auto& f : files) EXPECT_EQ(read_file(a / part / f), read_file(b / part / f)) << part << "/" << f;
  }
}

// The bundled MIMIC-IV demo prepared from its CSV files, once per test process.
const fs::path& csv_work() {
  static fs::path work = [] {
    fs::path w = test::temp_dir("from_csv");
    set_quiet(true);
    prepare(load_config(test::source_dir() / "configs/mimic-iv-demo.toml"), w);
    return w;
  }();
  return work;
}

// configs/<name>.toml with its source pointed at `source`, written into `dir`.
fs::path postgres_config(const fs::path& dir, const std::string& source, const std::string& name = "mimic-iv-postgres") {
  std::string text = read_file(test::source_dir() / "configs" / (name + ".toml"));
  text = std::regex_replace(text, std::regex("source = \"[^\"]*\""), "source = \"" + source + "\"");
  test::write_text(dir / "spec.toml", text);
  return dir / "spec.toml";
}

TEST(DatabaseLocation, RejectsPasswordsAndKeepsOwnParameters) {
  std::string message = test::error_of([] { parse_database_location("postgresql://alice:hunter2@db.example/mimic"); });
  EXPECT_NE(message.find("password"), std::string::npos) << message;
  EXPECT_NE(message.find("alice:***@db.example/mimic"), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  message = test::error_of([] { parse_database_location("postgresql://alice@h/db?password=hunter2"); });
  EXPECT_NE(message.find("PGPASSWORD"), std::string::npos) << message;

  DbLocation location = parse_database_location("postgresql://alice@h:5433/db?sslmode=disable&schema=synthetic#s.t");
  EXPECT_EQ(location.kind, DbKind::kPostgres);
  EXPECT_EQ(location.connect, "postgresql://alice@h:5433/db?sslmode=disable");
  EXPECT_EQ(location.schema, "synthetic");
  EXPECT_EQ(location.target, "s.t");
  location = parse_database_location("sqlite:dir/x.db#labevents");
  EXPECT_EQ(location.kind, DbKind::kSqlite);
  EXPECT_EQ(location.connect, "dir/x.db");
  EXPECT_EQ(quote_table_identifier("mimiciv_hosp.labevents"), "\"mimiciv_hosp\".\"labevents\"");
  EXPECT_NE(test::error_of([] { check_table_identifier("a.b.c", "k"); }), "");
  EXPECT_NE(test::error_of([] { check_table_identifier("x; DROP TABLE y", "k"); }), "");
}

TEST(DatabaseConfig, TableKeysNeedASourceAndPasswordsAreRefused) {
  fs::path dir = test::temp_dir("config_errors");
  std::string text = read_file(test::source_dir() / "configs/mimic-iv-demo.toml");
  text = std::regex_replace(text, std::regex("root = \"\\.\\."), "root = \"" + (test::source_dir() / "configs/..").string());
  test::write_text(dir / "a.toml", std::regex_replace(text, std::regex("file = \"hosp/labevents"), "table = \"hosp/labevents"));
  std::string message = test::error_of([&] { load_config(dir / "a.toml"); });
  EXPECT_NE(message.find("needs dataset.source"), std::string::npos) << message;
  message = test::error_of([&] { load_config(postgres_config(dir, "postgresql://u:topsecret@localhost/mimiciv")); });
  EXPECT_NE(message.find("password must not be written"), std::string::npos) << message;
  EXPECT_EQ(message.find("topsecret"), std::string::npos) << message;
  Config config = load_config(postgres_config(dir, "postgresql://u@localhost/mimiciv"));
  EXPECT_EQ(config.dataset.tables[0].file.string(), "postgresql://u@localhost/mimiciv#mimiciv_hosp.labevents");
  EXPECT_EQ(config.dataset.cohort.stays_file.string(), "postgresql://u@localhost/mimiciv#mimiciv_icu.icustays");
}

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = test::PgServer::start(&why);
    if (!server_) GTEST_SKIP() << why;
    set_quiet(true);
    server_->load_mimic_iv_demo();
  }
  std::unique_ptr<test::PgServer> server_;
};

TEST_F(PostgresTest, PrepareFromPostgresMatchesPrepareFromCsvByteForByte) {
  fs::path dir = test::temp_dir("from_postgres");
  nlohmann::json summary = prepare(load_config(postgres_config(dir, server_->url("mimiciv"))), dir / "work");
  EXPECT_GT(summary["events"].get<int64_t>(), 10000);
  expect_same_outputs(csv_work(), dir / "work");
  // A query instead of a table: the same rows, so the same outputs.
  std::string text = read_file(dir / "spec.toml");
  text = std::regex_replace(text, std::regex("table = \"mimiciv_icu.inputevents\""),
                            "query = \"SELECT * FROM mimiciv_icu.inputevents ORDER BY stay_id DESC\"");
  test::write_text(dir / "query.toml", text);
  prepare(load_config(dir / "query.toml"), dir / "work_query");
  EXPECT_EQ(read_file(dir / "work/dataset/tokens.bin").size(), read_file(dir / "work_query/dataset/tokens.bin").size());
  EXPECT_EQ(files_under(dir / "work/real"), files_under(dir / "work_query/real"));
}

TEST(PostgresEicu, PrepareFromTheOfficialEicuSchemaMatchesPrepareFromCsv) {
  std::string why;
  auto server = test::PgServer::start(&why);
  if (!server) GTEST_SKIP() << why;
  set_quiet(true);
  server->load_demo("eicu", {{"eicu-demo", "eicu_crd"}});
  fs::path dir = test::temp_dir("eicu");
  prepare(load_config(test::source_dir() / "configs/eicu-demo.toml"), dir / "csv");
  nlohmann::json summary = prepare(load_config(postgres_config(dir, server->url("eicu"), "eicu-postgres")), dir / "pg");
  EXPECT_GT(summary["events"].get<int64_t>(), 1000);
  expect_same_outputs(dir / "csv", dir / "pg");
}

TEST_F(PostgresTest, ErrorsNameTheLocationWithoutPassword) {
  // Wrong password over TCP: the message names the URL and never the password.
  ::setenv("PGPASSWORD", "not-the-password", 1);
  std::string tcp = server_->tcp_url("mimiciv");
  std::string message = test::error_of([&] { CsvReader reader(tcp + "#mimiciv_hosp.patients"); });
  ::unsetenv("PGPASSWORD");
  EXPECT_NE(message.find(tcp), std::string::npos) << message;
  EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
  EXPECT_EQ(message.find("not-the-password"), std::string::npos) << message;
  // The right password from the environment logs in.
  ::setenv("PGPASSWORD", test::PgServer::kPassword, 1);
  CsvReader ok(tcp + "#mimiciv_hosp.patients");
  ::unsetenv("PGPASSWORD");
  EXPECT_EQ(ok.header().front(), "subject_id");
  // Missing table: names schema and table. Missing database: names the URL.
  message = test::error_of([&] { CsvReader reader(server_->url("mimiciv") + "#mimiciv_hosp.nosuchtable"); });
  EXPECT_NE(message.find("mimiciv_hosp.nosuchtable"), std::string::npos) << message;
  message = test::error_of([&] { CsvReader reader(server_->url("nosuchdb") + "#mimiciv_hosp.patients"); });
  EXPECT_NE(message.find(server_->url("nosuchdb")), std::string::npos) << message;
  EXPECT_NE(message.find("nosuchdb"), std::string::npos) << message;
}

TEST_F(PostgresTest, PublishedFolderRoundTripsAndAFailedReleaseLeavesThePreviousOne) {
  const fs::path train = csv_work() / "real/train";
  const std::string out = server_->url("mimiciv", "schema=synthetic");
  publish_database_folder(train, out);
  fs::path dir = test::temp_dir("pg_roundtrip");
  fetch_database_folder(out, dir / "back");
  auto files = files_under(train);
  ASSERT_EQ(files, files_under(dir / "back"));
  for (const auto& f : files) EXPECT_EQ(content_of(train / f), content_of(dir / "back" / f)) << f;

  // A folder whose second table is malformed half-way: the load fails inside the transaction.
  fs::copy(train, dir / "broken");
  {
    CsvWriter bad((dir / "broken/prescriptions.csv.gz").string());
    bad.write_row(std::vector<std::string>{"a", "b"});
    bad.write_row(std::vector<std::string>{"1", "2"});
    bad.close();
    std::string text = content_of(dir / "broken/prescriptions.csv.gz") + "3,4,5\n";
    gzFile f = gzopen((dir / "broken/prescriptions.csv.gz").c_str(), "wb");
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
  }
  EXPECT_NE(test::error_of([&] { publish_database_folder(dir / "broken", out); }), "");
  // The server ends the session mid-load (after the tables before zz_kill are loaded): an event
  // trigger terminates the publishing backend when zz_kill is created.
  server_->exec("mimiciv",
                "CREATE FUNCTION kill_publisher() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity LIKE '%.zz_kill') "
                "THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; END $$; "
                "CREATE EVENT TRIGGER kill_on_zz ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
                "EXECUTE FUNCTION kill_publisher()");
  fs::copy(train, dir / "killed");
  fs::copy_file(train / "labevents.csv.gz", dir / "killed/zz_kill.csv.gz");
  std::string killed = test::error_of([&] { publish_database_folder(dir / "killed", out); });
  EXPECT_NE(killed.find(out), std::string::npos) << killed;
  EXPECT_NE(killed.find("terminating connection"), std::string::npos) << killed;
  server_->exec("mimiciv", "DROP EVENT TRIGGER kill_on_zz");
  // The server stops before a release: the error names the URL, and the previous release survives.
  server_->stop();
  std::string message = test::error_of([&] { publish_database_folder(train, out); });
  EXPECT_NE(message.find(out), std::string::npos) << message;
  server_->restart();
  fetch_database_folder(out, dir / "again");
  for (const auto& f : files) EXPECT_EQ(content_of(train / f), content_of(dir / "again" / f)) << f;
  PgConnection connection(parse_database_location(server_->url("mimiciv")));
  auto schemas = connection.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'synthetic%' ORDER BY 1");
  ASSERT_EQ(schemas.size(), 1u);  // no staging schema left behind
  EXPECT_EQ(schemas[0][0], "synthetic");
  // Column types come from the values: ids bigint, times timestamp, numbers numeric.
  auto types = connection.query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'synthetic' AND "
      "table_name = 'labevents' AND column_name IN ('hadm_id', 'charttime', 'valuenum', 'flag') ORDER BY 1");
  ASSERT_EQ(types.size(), 4u);
  EXPECT_EQ(types[0][1], "timestamp without time zone");
  EXPECT_EQ(types[1][1], "text");
  EXPECT_EQ(types[2][1], "bigint");
  EXPECT_EQ(types[3][1], "numeric");
}

TEST_F(PostgresTest, OutputTakesTheSourceTypesThatHoldItsValues) {
  server_->exec("mimiciv",
                "ALTER TABLE mimiciv_hosp.labevents ALTER valuenum TYPE double precision, ALTER itemid TYPE integer");
  fs::path dir = test::temp_dir("source_types");
  SourceColumnTypes types = source_column_types(load_config(postgres_config(dir, server_->url("mimiciv"))).dataset);
  ASSERT_EQ(types.at("labevents").at("valuenum"), "double precision");
  ASSERT_EQ(types.at("labevents").at("itemid"), "integer");
  publish_database_folder(csv_work() / "real/train", server_->url("mimiciv", "schema=typed"), types);
  PgConnection connection(parse_database_location(server_->url("mimiciv")));
  auto rows = connection.query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'typed' AND "
      "table_name = 'labevents' AND column_name IN ('itemid', 'valuenum', 'charttime') ORDER BY 1");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], "timestamp without time zone");
  EXPECT_EQ(rows[1][1], "bigint");  // integer could not hold every synthetic id or code
  EXPECT_EQ(rows[2][1], "double precision");
  EXPECT_TRUE(source_type_fits(SqlType::kText, false, "integer"));  // an empty column takes any type
  EXPECT_FALSE(source_type_fits(SqlType::kText, true, "character varying(10)"));
  EXPECT_FALSE(source_type_fits(SqlType::kNumeric, true, "bigint"));
}

// The MIMIC-IV demo in one SQLite file, one table per CSV file (plain names).
fs::path sqlite_demo(const fs::path& dir) {
  fs::path file = dir / "mimiciv.db";
  SqliteDb db(file.string(), "sqlite:" + file.string(), true);
  db.exec("BEGIN");
  for (const char* module : {"hosp", "icu"})
    for (const auto& entry : fs::directory_iterator(test::source_dir() / "data/mimic-iv-demo" / module)) {
      std::string name = entry.path().filename().string();
      create_and_load(db, name.substr(0, name.find('.')), entry.path());
    }
  db.exec("COMMIT");
  return file;
}

TEST(SqliteInput, PrepareFromSqliteMatchesPrepareFromCsvByteForByte) {
  set_quiet(true);
  fs::path dir = test::temp_dir("from_sqlite");
  fs::path file = sqlite_demo(dir);
  std::string text = read_file(postgres_config(dir, "sqlite:" + file.string()));
  text = std::regex_replace(text, std::regex("mimiciv_(hosp|icu)\\."), "");
  test::write_text(dir / "sqlite.toml", text);
  prepare(load_config(dir / "sqlite.toml"), dir / "work");
  expect_same_outputs(csv_work(), dir / "work");
  std::string message = test::error_of([&] { CsvReader reader("sqlite:" + file.string() + "#nosuchtable"); });
  EXPECT_NE(message.find("nosuchtable"), std::string::npos) << message;
  message = test::error_of([&] { CsvReader reader("sqlite:" + (dir / "missing.db").string() + "#labevents"); });
  EXPECT_NE(message.find("missing.db"), std::string::npos) << message;
}

TEST(SqliteOutput, PublishedFolderRoundTripsAndAFailedReleaseLeavesThePreviousOne) {
  set_quiet(true);
  const fs::path train = csv_work() / "real/train";
  fs::path dir = test::temp_dir("sqlite_out");
  const std::string out = "sqlite:" + (dir / "syn.db").string();
  publish_database_folder(train, out);
  fetch_database_folder(out, dir / "back");
  auto files = files_under(train);
  ASSERT_EQ(files, files_under(dir / "back"));
  for (const auto& f : files)
    EXPECT_EQ(content_of(train / f), content_of(dir / "back" / f)) << f;
  std::string before = read_file(dir / "syn.db");
  fs::copy(train, dir / "broken");
  test::write_text(dir / "broken/zz_broken.csv.gz", "a,b\n1,2\n3\n");
  EXPECT_NE(test::error_of([&] { publish_database_folder(dir / "broken", out); }), "");
  EXPECT_EQ(read_file(dir / "syn.db"), before);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos);
}

}  // namespace
}  // namespace rawmed
