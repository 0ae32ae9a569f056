// load_config on arbitrary bytes, written as config.toml into a folder that also holds data/ with
// one small table, so that configs which get past the syntax reach the table and cohort checks.
#include "fuzz_util.h"
#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = rawmed::fuzz::scratch_dir();
  static const bool ready = [&] {
    std::filesystem::create_directories(dir / "data");
    rawmed::fuzz::write_bytes(dir / "data" / "events.csv", "stay_id,t,drug,dose\n1,5,aspirin,1.5\n");
    rawmed::fuzz::write_bytes(dir / "data" / "stays.csv", "stay_id,patient_id,age,gender\n1,p1,60,F\n");
    return true;
  }();
  (void)ready;
  rawmed::fuzz::write_bytes(dir / "config.toml", std::string_view(reinterpret_cast<const char*>(data), size));
  rawmed::fuzz::expect_only_rawmed_errors([&] { rawmed::load_config(dir / "config.toml"); });
  return 0;
}
