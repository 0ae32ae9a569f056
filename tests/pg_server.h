#pragma once
// A throwaway PostgreSQL server for the database tests: initdb into a temporary folder, pg_ctl
// start on a Unix socket there (and 127.0.0.1 on a free port, password login), stopped by the
// destructor, so also when a test fails. As root it runs as the `postgres` user (or `nobody`),
// since PostgreSQL refuses to run as root. Unix socket logins are trusted; TCP logins need the
// password kPassword.
#include "common/error.h"
#include "ingest/db_location.h"
#include "ingest/db_postgres.h"
#include "ingest/db_tables.h"
#include "test_util.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rawmed::test {

class PgServer {
 public:
  static constexpr const char* kUser = "rawmed";
  static constexpr const char* kPassword = "s3cret-pw";

  // The folder of initdb and pg_ctl, or "" when PostgreSQL is not installed.
  static std::filesystem::path find_bin_dir() {
    std::filesystem::path best;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
      if (std::filesystem::exists(entry.path() / "bin" / "initdb") && entry.path() > best.parent_path())
        best = entry.path() / "bin";
    return best;
  }

  // Starts a server; nullptr with `why` set when the PostgreSQL binaries are absent.
  static std::unique_ptr<PgServer> start(std::string* why) {
    std::filesystem::path bin = find_bin_dir();
    if (bin.empty()) {
      *why = "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)";
      return nullptr;
    }
    return std::unique_ptr<PgServer>(new PgServer(bin));
  }

  ~PgServer() { stop(); }

  // Socket login (trusted): postgresql://rawmed@/DB?host=DIR&port=PORT[&schema=...]
  std::string url(const std::string& db, const std::string& extra = "") const {
    return "postgresql://" + std::string(kUser) + "@/" + db + "?host=" + dir_.string() + "&port=" +
           std::to_string(port_) + (extra.empty() ? "" : "&" + extra);
  }
  // TCP login (password from PGPASSWORD or ~/.pgpass).
  std::string tcp_url(const std::string& db) const {
    return "postgresql://" + std::string(kUser) + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  void stop() {
    if (running_) run("'" + (bin_ / "pg_ctl").string() + "' -D '" + data().string() + "' -m immediate -w stop");
    running_ = false;
  }
  void restart() {
    run("'" + (bin_ / "pg_ctl").string() + "' -D '" + data().string() + "' -l '" + (dir_ / "server.log").string() +
        "' -w -t 60 -o \"-k '" + dir_.string() + "' -p " + std::to_string(port_) + " -h 127.0.0.1 -F\" start");
    running_ = true;
  }

  void exec(const std::string& db, const std::string& sql) const {
    PgConnection connection(parse_database_location(url(db)));
    connection.exec(sql);
  }

  // A bundled demo under the official names: database `db`, one schema per data folder, one
  // table per CSV file (lower-case file stem), loaded with COPY. Created and loaded in one
  // transaction, so that PostgreSQL appends the rows in file order (it then skips its free space
  // map); a table loaded later may return its rows in another order.
  void load_demo(const std::string& db, const std::vector<std::pair<std::string, std::string>>& folder_schema) const {
    exec("postgres", "CREATE DATABASE " + db);
    PgConnection connection(parse_database_location(url(db)));
    connection.exec("BEGIN");
    for (const auto& [folder, schema] : folder_schema) {
      connection.exec("CREATE SCHEMA " + schema);
      for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "data" / folder)) {
        std::string file = entry.path().filename().string();
        if (file.size() < 8 || file.substr(file.size() - 7) != ".csv.gz") continue;
        std::string table = file.substr(0, file.find('.'));
        for (char& c : table) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        create_and_load(connection, schema + "." + table, entry.path());
      }
    }
    connection.exec("COMMIT");
  }
  void load_mimic_iv_demo() const {
    load_demo("mimiciv", {{"mimic-iv-demo/hosp", "mimiciv_hosp"}, {"mimic-iv-demo/icu", "mimiciv_icu"}});
  }

 private:
  explicit PgServer(std::filesystem::path bin) : bin_(std::move(bin)) {
    dir_ = temp_dir("pg");
    port_ = free_port();
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (!user) user = ::getpwnam("nobody");
      if (!user) fail("pg_server: running as root and neither a 'postgres' nor a 'nobody' user exists");
      run_as_ = user->pw_name;
      if (::chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) fail("pg_server: cannot chown {}", dir_.string());
    }
    write_text(dir_ / "pw", kPassword);
    run("'" + (bin_ / "initdb").string() + "' -D '" + data().string() + "' -U " + kUser +
        " --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync --pwfile='" +
        (dir_ / "pw").string() + "' > '" + (dir_ / "initdb.log").string() + "' 2>&1");
    restart();
  }

  std::filesystem::path data() const { return dir_ / "data"; }

  void run(const std::string& command) const {
    std::string full = run_as_.empty() ? command : "runuser -u " + run_as_ + " -- sh -c \"" + escape(command) + "\"";
    if (std::system((full + " > /dev/null").c_str()) != 0)
      fail("pg_server: command failed: {} (logs in {})", command, dir_.string());
  }
  static std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
      out += c;
    }
    return out;
  }
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
      fail("pg_server: cannot find a free port");
    ::close(fd);
    return ntohs(address.sin_port);
  }

  std::filesystem::path bin_, dir_;
  std::string run_as_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace rawmed::test
