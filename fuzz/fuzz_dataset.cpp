// Dataset::load (WORK/dataset, written by `rawmed prepare`) on arbitrary bytes. The input is the
// folder's files joined by kSeparator, in the order of kFiles (fuzz/make_seeds.py writes seeds in
// this form); missing parts become missing files. A dataset that loads must be safe to walk:
// every event decodes (or reports a bad event) and has a split.
#include "fuzz_util.h"
#include "text/dataset.h"

#include <array>

namespace {

constexpr std::string_view kSeparator = "\n--RAWMED-FILE--\n";
constexpr std::array<const char*, 12> kFiles = {
    "manifest.json",     "vocab.json",        "columns.json",   "stays.csv",
    "tokens.bin",        "types.bin",         "dpe.bin",        "event_offsets.bin",
    "event_minutes.bin", "event_tables.bin",  "stay_offsets.bin", "stay_splits.bin"};

void write_parts(const std::filesystem::path& dir, std::string_view input) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* name : kFiles) {
    if (input.data() == nullptr) break;
    size_t end = input.find(kSeparator);
    rawmed::fuzz::write_bytes(dir / name, input.substr(0, end));
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + kSeparator.size());
  }
}

void walk(const rawmed::Dataset& d) {
  for (size_t e = 0; e < d.num_events(); ++e) {
    (void)d.decode(e);
    if (d.event_split(e) > rawmed::kTest) std::abort();
    if (d.event_tables[e] >= d.table_names.size()) std::abort();
  }
  (void)d.max_tokens_per_event();
  (void)d.max_events_per_stay();
  (void)d.decimals();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = rawmed::fuzz::scratch_dir() / "dataset";
  write_parts(dir, std::string_view(reinterpret_cast<const char*>(data), size));
  rawmed::fuzz::expect_only_rawmed_errors([&] { walk(rawmed::Dataset::load(dir)); });
  return 0;
}
