#include "common/error.h"
#include "common/csv.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

namespace rawmed {
namespace {

std::string temp_file(const std::string& name, const std::string& content, bool gzip = false) {
  auto dir = std::filesystem::temp_directory_path() / "rawmed_csv_test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << content;
  }
  return path;
}

std::vector<std::vector<std::string>> read_all(const std::string& path, CsvOptions options = {}) {
  CsvReader reader(path, options);
  std::vector<std::vector<std::string>> rows;
  while (reader.next()) {
    std::vector<std::string> row;
    for (auto f : reader.fields()) row.emplace_back(f);
    rows.push_back(row);
  }
  return rows;
}

TEST(Csv, QuotesCommasNewlinesAndEscapedQuotes) {
  auto path = temp_file("q.csv", "a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"multi\nline\",\n");
  auto rows = read_all(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], "x, y");
  EXPECT_EQ(rows[0][2], "say \"hi\"");
  EXPECT_EQ(rows[1][1], "multi\nline");
  EXPECT_EQ(rows[1][2], "");
}

TEST(Csv, LineNumbersCountEmbeddedNewlines) {
  auto path = temp_file("lines.csv", "a,b\n1,\"x\ny\"\n2,3\n");
  CsvReader reader(path);
  ASSERT_TRUE(reader.next());
  EXPECT_EQ(reader.line(), 2);
  ASSERT_TRUE(reader.next());
  EXPECT_EQ(reader.line(), 4);
}

TEST(Csv, CrlfAndBom) {
  auto path = temp_file("crlf.csv", "\xEF\xBB\xBFid,name\r\n1,alpha\r\n2,\"be\r\nta\"\r\n");
  CsvReader reader(path);
  EXPECT_EQ(reader.header()[0], "id");
  EXPECT_EQ(reader.header()[1], "name");
  auto rows = read_all(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], "alpha");
  EXPECT_EQ(rows[1][1], "be\r\nta");
}

TEST(Csv, EmptyFileIsAnError) {
  auto path = temp_file("empty.csv", "");
  EXPECT_THROW(CsvReader reader(path), Error);
}

TEST(Csv, RaggedRowNamesFileAndLine) {
  auto path = temp_file("ragged.csv", "a,b\n1,2\n3\n4,5\n");
  CsvReader reader(path);
  ASSERT_TRUE(reader.next());
  try {
    reader.next();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("ragged.csv:3"), std::string::npos) << message;
  }
}

TEST(Csv, RaggedRowsSkippedWhenAsked) {
  auto path = temp_file("ragged2.csv", "a,b\n1,2\n3\n4,5\n6,7,8\n");
  CsvOptions options;
  options.skip_malformed = true;
  CsvReader reader(path, options);
  int n = 0;
  while (reader.next()) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_EQ(reader.skipped_records(), 2);
}

TEST(Csv, UnterminatedQuoteIsAnError) {
  auto path = temp_file("unterminated.csv", "a,b\n1,\"abc\n");
  CsvReader reader(path);
  EXPECT_THROW(reader.next(), Error);
}

TEST(Csv, BadGzipIsAnError) {
  std::string gz = temp_file("good.csv.gz", "a,b\n1,2\n3,4\n", true);
  std::string bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 2] ^= 0x55;
  bytes.resize(bytes.size() - 4);
  auto path = temp_file("bad.csv.gz", bytes);
  EXPECT_THROW(
      {
        CsvReader reader(path);
        while (reader.next()) {
        }
      },
      Error);
}

TEST(Csv, GzipAndTinyChunksGiveSameRecords) {
  std::string content = "a,b,c\n";
  for (int i = 0; i < 500; ++i) content += std::to_string(i) + ",\"q,\"\"" + std::to_string(i) + "\",\n";
  auto plain = temp_file("big.csv", content);
  auto gz = temp_file("big.csv.gz", content, true);
  CsvOptions tiny;
  tiny.chunk_bytes = 7;
  auto a = read_all(plain);
  auto b = read_all(gz, tiny);
  ASSERT_EQ(a.size(), 500u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[42][1], "q,\"42");
}

TEST(Csv, WriterRoundTrips) {
  auto dir = std::filesystem::temp_directory_path() / "rawmed_csv_test";
  std::string path = (dir / "written.csv.gz").string();
  std::vector<std::vector<std::string>> rows = {{"1", "a,b", "say \"x\""}, {"2", "line\nbreak", ""}};
  {
    CsvWriter writer(path);
    writer.write_row(std::vector<std::string>{"id", "text", "quote"});
    for (const auto& r : rows) writer.write_row(r);
    writer.close();
  }
  EXPECT_EQ(read_all(path), rows);
}

TEST(Csv, MissingFileNamesThePath) {
  try {
    CsvReader reader("/nonexistent/table.csv.gz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/table.csv.gz"), std::string::npos);
  }
}

}  // namespace
}  // namespace rawmed
