// Dataset::load on corrupt folders: each found by fuzz/fuzz_dataset or written against the checks
// it led to. On the unhardened loader these crashed (out-of-bounds reads when walking the events),
// or threw JSON / std::stod exceptions that name no file.
#include "common/error.h"
#include "test_util.h"
#include "text/dataset.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace rawmed {
namespace {

namespace fs = std::filesystem;

// The two-stay seed of the dataset fuzz target (fuzz/make_seeds.py), split back into its files.
fs::path seed_dataset(const std::string& name) {
  const std::string sep = "\n--RAWMED-FILE--\n";
  const char* files[] = {"manifest.json",     "vocab.json",       "columns.json",     "stays.csv",
                         "tokens.bin",        "types.bin",        "dpe.bin",          "event_offsets.bin",
                         "event_minutes.bin", "event_tables.bin", "stay_offsets.bin", "stay_splits.bin"};
  std::ifstream in(test::source_dir() / "fuzz/corpus/dataset/two-stays", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto dir = test::temp_dir(name);
  size_t pos = 0;
  for (const char* f : files) {
    size_t end = all.find(sep, pos);
    test::write_text(dir / f, all.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    pos = end == std::string::npos ? all.size() : end + sep.size();
  }
  return dir;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

template <typename T>
void set_value(const fs::path& path, size_t index, T value) {
  std::string bytes = read_all(path);
  std::memcpy(bytes.data() + index * sizeof(T), &value, sizeof(T));
  test::write_text(path, bytes);
}

void replace_in(const fs::path& path, const std::string& from, const std::string& to) {
  std::string text = read_all(path);
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  test::write_text(path, text.replace(at, from.size(), to));
}

TEST(DatasetCorrupt, TheSeedLoadsAndEveryEventDecodes) {
  Dataset d = Dataset::load(seed_dataset("seed"));
  ASSERT_EQ(d.num_stays(), 2u);
  ASSERT_GT(d.num_events(), 10u);
  for (size_t e = 0; e < d.num_events(); ++e) EXPECT_TRUE(d.decode(e).ok) << "event " << e;
}

TEST(DatasetCorrupt, DecreasingEventOffsetIsAnError) {
  auto dir = seed_dataset("offsets");
  set_value<uint64_t>(dir / "event_offsets.bin", 3, uint64_t(1) << 40);
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("event_offsets.bin: offset 4 decreases"), std::string::npos);
}

TEST(DatasetCorrupt, StayOffsetsPastTheEventsAreAnError) {
  auto dir = seed_dataset("stay_offsets");
  set_value<uint64_t>(dir / "stay_offsets.bin", 0, 5);
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("stay_offsets.bin: offsets must start at 0"), std::string::npos);
}

TEST(DatasetCorrupt, UnknownSplitAndTableAreErrors) {
  auto dir = seed_dataset("split");
  set_value<uint8_t>(dir / "stay_splits.bin", 1, 7);
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("stay_splits.bin: stay 1 has split 7"), std::string::npos);
  dir = seed_dataset("table");
  set_value<uint8_t>(dir / "event_tables.bin", 2, 200);
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("event_tables.bin: event 2 names table 200"), std::string::npos);
}

TEST(DatasetCorrupt, ManifestKeysOfTheWrongTypeNameTheFile) {
  auto dir = seed_dataset("manifest");
  replace_in(dir / "manifest.json", "\"max_tokens_per_event\":128", "\"max_tokens_per_event\":\"many\"");
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("manifest.json: 'max_tokens_per_event' is missing or not an integer"),
            std::string::npos);
  dir = seed_dataset("count");
  // 2^61 + n u64 values wrap around to the file's size in bytes when multiplied by 8.
  std::string manifest = read_all(dir / "manifest.json");
  auto at = manifest.find("\"stay_offsets.bin\":{\"count\":3");
  ASSERT_NE(at, std::string::npos);
  manifest.replace(at, std::string("\"stay_offsets.bin\":{\"count\":3").size(),
                   "\"stay_offsets.bin\":{\"count\":2305843009213693955");
  test::write_text(dir / "manifest.json", manifest);
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("stay_offsets.bin: size 24 bytes does not match"), std::string::npos);
}

TEST(DatasetCorrupt, AgeThatIsNotANumberNamesFileAndLine) {
  auto dir = seed_dataset("age");
  std::string stays = read_all(dir / "stays.csv");
  auto line2 = stays.find('\n') + 1;
  auto line2_end = stays.find('\n', line2);
  std::string row = stays.substr(line2, line2_end - line2);
  auto age_start = row.rfind(',', row.rfind(',') - 1) + 1;
  row.replace(age_start, row.rfind(',') - age_start, "old");
  test::write_text(dir / "stays.csv", stays.replace(line2, line2_end - line2, row));
  EXPECT_NE(test::error_of([&] { Dataset::load(dir); }).find("stays.csv:2: field 'age': \"old\" is not a number"),
            std::string::npos);
}

}  // namespace
}  // namespace rawmed
