// Every bundled table (data/) read to the end twice: with the default 1 MiB chunk and with 7-byte
// chunks, so that every record straddles a refill. Both must give the same records. `make asan`
// runs this under AddressSanitizer and UndefinedBehaviorSanitizer.
#include "common/csv.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <vector>

namespace rawmed {
namespace {

struct Digest {
  int64_t records = 0;
  uLong crc = crc32(0, nullptr, 0);
  bool operator==(const Digest&) const = default;
};

Digest read_table(const std::string& path, size_t chunk_bytes) {
  CsvOptions options;
  options.chunk_bytes = chunk_bytes;
  CsvReader reader(path, options);
  Digest d;
  while (reader.next()) {
    ++d.records;
    for (std::string_view f : reader.fields()) {
      d.crc = crc32(d.crc, reinterpret_cast<const Bytef*>(f.data()), static_cast<uInt>(f.size()));
      d.crc = crc32(d.crc, reinterpret_cast<const Bytef*>("\x1f"), 1);
    }
  }
  return d;
}

TEST(CsvBundled, EveryBundledTableReadsTheSameWithTinyChunks) {
  std::vector<std::filesystem::path> tables;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::source_dir() / "data"))
    if (entry.path().string().ends_with(".csv.gz")) tables.push_back(entry.path());
  ASSERT_EQ(tables.size(), 18u);
  int64_t total = 0;
  for (const auto& path : tables) {
    Digest whole = read_table(path.string(), 1 << 20);
    EXPECT_GT(whole.records, 0) << path;
    EXPECT_EQ(read_table(path.string(), 7), whole) << path;
    total += whole.records;
  }
  EXPECT_GT(total, 100000);
}

}  // namespace
}  // namespace rawmed
