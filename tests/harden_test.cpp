// Hostile and unlucky inputs: truncated gzip, paths that leave the data or work folder, duplicate
// names and ids, invalid UTF-8, over-long numbers, a declared numeric column holding words, an
// interrupted prepare and a second writer. Each must stop with a clear error (file, line, field)
// or be counted; none may lose rows silently or write outside the work folder.
#include "common/error.h"
#include "common/fs.h"
#include "common/csv.h"
#include "ingest/prepare.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <string>

namespace rawmed {
namespace {

using test::error_of;

int64_t count_records(const std::filesystem::path& path) {
  CsvReader csv(path.string());
  int64_t n = 0;
  while (csv.next()) ++n;
  return n;
}

std::string gunzip(const std::filesystem::path& path) {
  gzFile f = gzopen(path.string().c_str(), "rb");
  std::string out, chunk(1 << 16, '\0');
  int n;
  while ((n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) out.append(chunk.data(), n);
  gzclose(f);
  return out;
}

// A gzip stream of `text` flushed but never finished: it has no trailer, as a download or copy
// cut at that point leaves, and decompresses to exactly `text`.
std::string gzip_without_trailer(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

const std::filesystem::path kInputevents = test::source_dir() / "data" / "mimic-iv-demo" / "icu" / "inputevents.csv.gz";

TEST(Harden, GzipCutAtALineBoundaryIsAnErrorNotAShortTable) {
  std::string text = gunzip(kInputevents);
  std::string half = text.substr(0, text.find('\n', text.size() / 2) + 1);
  auto dir = test::temp_dir("gzip_cut_line");
  test::write_text(dir / "inputevents.csv.gz", gzip_without_trailer(half));
  std::string error = error_of([&] { count_records(dir / "inputevents.csv.gz"); });
  EXPECT_NE(error.find("inputevents.csv.gz"), std::string::npos) << error;
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  EXPECT_GT(count_records(kInputevents), 3000);  // the whole file still reads
}

TEST(Harden, GzipCutMidStreamNamesTruncationNotAFieldCount) {
  std::string whole = read_file(kInputevents);
  auto dir = test::temp_dir("gzip_cut_mid");
  test::write_text(dir / "inputevents.csv.gz", whole.substr(0, whole.size() / 2 + 7));
  std::string error = error_of([&] { count_records(dir / "inputevents.csv.gz"); });
  EXPECT_NE(error.find("inputevents.csv.gz"), std::string::npos) << error;
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  EXPECT_EQ(error.find("expected"), std::string::npos) << error;
}

TEST(Harden, DuplicateHeaderNameIsAnError) {
  auto dir = test::temp_dir("dup_header");
  test::write_text(dir / "t.csv", "id,amount,amount\n1,2,3\n");
  std::string error = error_of([&] { CsvReader csv((dir / "t.csv").string()); });
  EXPECT_NE(error.find("t.csv:1"), std::string::npos) << error;
  EXPECT_NE(error.find("duplicate column name 'amount'"), std::string::npos) << error;
}

// A tiny minute-offset dataset (as in prepare_test.cpp) with room for extra table keys.
struct Tiny {
  std::filesystem::path dir;
  Tiny(const std::string& name, const std::string& events_csv, const std::string& dataset_extra = "",
       const std::string& table_extra = "",
       const std::string& stays = "stay,patient,hosp,age,out,sex\n1,p1,h1,50,900,F\n2,p2,h2,70,900,M\n") {
    dir = test::temp_dir(name);
    test::write_text(dir / "data" / "stays.csv", stays);
    test::write_text(dir / "data" / "events.csv", events_csv);
    write_spec(dataset_extra, table_extra);
  }
  void write_spec(const std::string& dataset_extra, const std::string& table_extra,
                  const std::string& table_name = "ev", const std::string& table_file = "events.csv") {
    test::write_text(dir / "spec.toml",
                     "[dataset]\nname = \"tiny\"\nroot = \"data\"\ntime_kind = \"minutes\"\nmin_events = 1\n" +
                         dataset_extra +
                         "[cohort]\nstays = \"stays.csv\"\nstay_id = \"stay\"\npatient_id = \"patient\"\n"
                         "admission_id = \"hosp\"\nouttime = \"out\"\nage = \"age\"\ngender = \"sex\"\n"
                         "[[tables]]\nname = \"" + table_name + "\"\nfile = \"" + table_file +
                         "\"\nlink = \"stay\"\ntime = \"t\"\n" + table_extra);
  }
  std::filesystem::path work() const { return dir / "work"; }
  std::string error() const {
    return error_of([&] { prepare(load_config(dir / "spec.toml"), work()); });
  }
};

TEST(Harden, DuplicateStayIdInTheCohortTableIsAnError) {
  Tiny tiny("dup_stay", "stay,t,drug\n1,10,a\n2,20,b\n", "", "",
            "stay,patient,hosp,age,out,sex\n1,p1,h1,50,900,F\n2,p2,h2,70,900,M\n1,p3,h3,60,900,M\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("stays.csv:4"), std::string::npos) << error;
  EXPECT_NE(error.find("'stay'"), std::string::npos) << error;
  EXPECT_NE(error.find("duplicate"), std::string::npos) << error;
}

TEST(Harden, InvalidUtf8NamesFileLineAndField) {
  Tiny tiny("utf8", "stay,t,drug\n1,10,a\n1,20,caf\xE9\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("events.csv:3"), std::string::npos) << error;
  EXPECT_NE(error.find("'drug'"), std::string::npos) << error;
  EXPECT_NE(error.find("UTF-8"), std::string::npos) << error;
}

TEST(Harden, InvalidUtf8RowIsCountedWhenSkippingMalformedRows) {
  Tiny tiny("utf8_skip", "stay,t,drug\n1,10,a\n1,20,caf\xE9\n2,30,b\n", "skip_malformed_rows = true\n");
  EXPECT_EQ(tiny.error(), "");
  auto summary = read_json(tiny.work() / "prepare.json");
  EXPECT_EQ(summary["tables"]["ev"]["rows_skipped_malformed"], 1);
  EXPECT_EQ(summary["events"], 2);
}

TEST(Harden, OverLongMinuteOffsetNamesFileLineAndField) {
  Tiny tiny("long_offset", "stay,t,drug\n1,10,a\n1,99999999999999999999999,b\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("events.csv:3"), std::string::npos) << error;
  EXPECT_NE(error.find("'t'"), std::string::npos) << error;
}

TEST(Harden, DeclaredNumericColumnRejectsWordsNanInfAndHex) {
  for (const char* bad : {"NaN", "inf", "six", "0x1A", "-Infinity"}) {
    Tiny tiny("numeric_words", std::string("stay,t,dose\n1,10,1.5\n1,20,") + bad + "\n", "",
              "types = { dose = \"numeric\" }\n");
    std::string error = tiny.error();
    EXPECT_NE(error.find("events.csv:3"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("'dose'"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("numeric"), std::string::npos) << bad << ": " << error;
  }
}

TEST(Harden, DeclaredNumericColumnCountsBadValuesWhenSkippingMalformedRows) {
  Tiny tiny("numeric_skip", "stay,t,dose\n1,10,1.5\n1,20,six\n2,30,NaN\n2,40,2\n", "skip_malformed_rows = true\n",
            "types = { dose = \"numeric\" }\n");
  EXPECT_EQ(tiny.error(), "");
  auto summary = read_json(tiny.work() / "prepare.json");
  EXPECT_EQ(summary["tables"]["ev"]["rows_skipped_malformed"], 2);
  EXPECT_EQ(summary["events"], 2);
}

// 20 significant digits do not fit a double: 12345678901234567890 would become
// 12345678901234567168. In a declared numeric column that is an error, never a silent change.
TEST(Harden, NumberWithMoreDigitsThanADoubleHoldsIsNotSilentlyChanged) {
  Tiny tiny("long_number", "stay,t,dose\n1,10,1.5\n1,20,12345678901234567890\n", "", "types = { dose = \"numeric\" }\n");
  std::string error = tiny.error();
  EXPECT_NE(error.find("events.csv:3"), std::string::npos) << error;
  EXPECT_NE(error.find("'dose'"), std::string::npos) << error;
  EXPECT_NE(error.find("digits"), std::string::npos) << error;
}

// In an inferred numeric column the long number is kept verbatim (as text), not rounded.
TEST(Harden, LongNumberInAnInferredColumnIsKeptVerbatim) {
  std::string stays = "stay,patient,hosp,age,out,sex\n", events = "stay,t,dose\n";
  for (int s = 1; s <= 20; ++s) stays += fmt::format("{},p{},h{},50,900,F\n", s, s, s);
  for (int i = 0; i < 500; ++i) events += fmt::format("{},{},{}.5\n", 1 + i % 20, i % 600, i);
  for (int s = 1; s <= 20; ++s) events += fmt::format("{},300,12345678901234567890\n", s);
  Tiny tiny("long_inferred", events, "", "", stays);
  ASSERT_EQ(tiny.error(), "");
  auto columns = read_json(tiny.work() / "dataset" / "columns.json");
  EXPECT_EQ(columns["tables"][0]["columns"][0]["type"], "numeric") << columns.dump();
  int found = 0;
  for (const char* split : {"train", "valid", "test"}) {
    CsvReader real((tiny.work() / "real" / split / "ev.csv.gz").string());
    while (real.next()) {
      found += real.field(2) == "12345678901234567890";
      EXPECT_NE(real.field(2), "12345678901234567168");
    }
  }
  EXPECT_EQ(found, 20);
}

TEST(Harden, TableNamesCannotLeaveTheWorkFolderOrReplaceReservedFiles) {
  Tiny tiny("names", "stay,t,drug\n1,10,a\n");
  for (const char* name : {"cohort", "schema", "../../evil", "/tmp/evil", "a/b", "..", ""}) {
    tiny.write_spec("", "", name);
    std::string error = tiny.error();
    EXPECT_NE(error.find("spec.toml"), std::string::npos) << name << ": " << error;
    EXPECT_NE(error.find("name"), std::string::npos) << name << ": " << error;
  }
  EXPECT_FALSE(std::filesystem::exists(tiny.dir / "evil.csv.gz"));
}

TEST(Harden, TableFilesMustStayUnderTheDatasetRootUnlessAllowed) {
  Tiny tiny("files", "stay,t,drug\n1,10,a\n");
  test::write_text(tiny.dir / "outside.csv", "stay,t,drug\n1,10,a\n");
  tiny.write_spec("", "", "ev", "../outside.csv");
  std::string error = tiny.error();
  EXPECT_NE(error.find("tables.ev.file"), std::string::npos) << error;
  EXPECT_NE(error.find("outside"), std::string::npos) << error;
  tiny.write_spec("", "", "ev", (tiny.dir / "outside.csv").string());
  EXPECT_NE(tiny.error().find("tables.ev.file"), std::string::npos);
  tiny.write_spec("allow_files_outside_root = true\n", "", "ev", "../outside.csv");
  EXPECT_EQ(tiny.error(), "");
}

TEST(Harden, PrepareRemovesOrphanTemporaryFoldersOfAKilledRun) {
  Tiny tiny("orphans", "stay,t,drug\n1,10,a\n2,20,b\n");
  // What a `prepare` killed while writing leaves (a pid that no longer runs).
  std::filesystem::create_directories(tiny.work() / "real.tmp-999999999" / "train");
  std::filesystem::create_directories(tiny.work() / "dataset.tmp-999999999");
  ASSERT_EQ(tiny.error(), "");
  EXPECT_FALSE(std::filesystem::exists(tiny.work() / "real.tmp-999999999"));
  EXPECT_FALSE(std::filesystem::exists(tiny.work() / "dataset.tmp-999999999"));
  EXPECT_TRUE(std::filesystem::exists(tiny.work() / "prepare.json"));
}

TEST(Harden, SecondWriterOnAWorkFolderGetsAClearError) {
  Tiny tiny("locked", "stay,t,drug\n1,10,a\n2,20,b\n");
  std::filesystem::create_directories(tiny.work());
  // Another process holding the work folder's lock, as a second `rawmed prepare` would.
  int fd = ::open((tiny.work() / ".rawmed.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  std::string error = tiny.error();
  ::close(fd);
  EXPECT_NE(error.find("work"), std::string::npos) << error;
  EXPECT_NE(error.find("another rawmed"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(tiny.work() / "prepare.json"));
  EXPECT_EQ(tiny.error(), "");  // the lock is free again
  EXPECT_FALSE(std::filesystem::exists(tiny.work() / ".rawmed.lock"));  // a clean run leaves none
}

// A lock file left behind is what a killed run leaves: the next writer is told which run it was.
TEST(Harden, LockFileLeftByAKilledRunIsReported) {
  auto work = test::temp_dir("stale_lock");
  test::write_text(work / ".rawmed.lock", "pid 999999999, rawmed prepare, started 2026-01-01T00:00:00Z\n");
  {
    WorkLock lock(work, "test");
    EXPECT_NE(lock.interrupted().find("pid 999999999, rawmed prepare"), std::string::npos) << lock.interrupted();
    WorkLock nested(work, "test");  // the same process may nest (rawmed run -> prepare)
    EXPECT_EQ(nested.interrupted(), "");
  }
  EXPECT_FALSE(std::filesystem::exists(work / ".rawmed.lock"));
  WorkLock again(work, "test");
  EXPECT_EQ(again.interrupted(), "");
}

}  // namespace
}  // namespace rawmed
