// codes.bin parser (src/codec/codes_file.cpp, Torch-free; fuzzed by fuzz/fuzz_codes).
#include "codec/codes_file.h"
#include "common/error.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace rawmed::codec {
namespace {

std::string header(uint64_t events, uint32_t positions, uint32_t depth, uint32_t codebook) {
  std::string out = "RMCODES1";
  auto put = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(events), put(positions), put(depth), put(codebook), put(uint32_t{0});
  return out;
}

std::string error_of(std::string_view bytes) {
  try {
    parse_codes_file(bytes, "codes.bin");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CodesFile, ParsesCodesAndChecksTheCodebook) {
  std::string bytes = header(2, 1, 2, 10);
  for (uint16_t c : {1, 9, 0, 3}) bytes.append(reinterpret_cast<const char*>(&c), 2);
  CodesFile f = parse_codes_file(bytes, "codes.bin");
  EXPECT_EQ(f.codes, (std::vector<uint16_t>{1, 9, 0, 3}));
  bytes[32 + 2] = 10;  // second code becomes 10, outside a codebook of 10
  EXPECT_NE(error_of(bytes).find("code 10 is outside the codebook size 10"), std::string::npos);
}

// Found by fuzz/fuzz_codes under UBSan: memcpy from a null pointer for an empty file.
TEST(CodesFile, NoEventsGivesNoCodes) { EXPECT_TRUE(parse_codes_file(header(0, 4, 2, 8), "codes.bin").codes.empty()); }

// events x positions x depth x 2 bytes wraps around to 0: the old check then matched a 32-byte file
// and resize() threw std::length_error (exit 2, no file named).
TEST(CodesFile, HeaderWhoseSizeOverflowsIsAnError) {
  EXPECT_NE(error_of(header(uint64_t(1) << 63, 1, 1, 8)).find("codes.bin: 32 bytes, header says"), std::string::npos);
  EXPECT_NE(error_of(header(uint64_t(1) << 62, 1u << 31, 4, 8)).find("truncated or corrupt"), std::string::npos);
}

TEST(CodesFile, OddOrShortSizesAreErrors) {
  EXPECT_NE(error_of("RMCODES1").find("not a codes file"), std::string::npos);
  EXPECT_NE(error_of(header(1, 1, 1, 8) + "x").find("truncated or corrupt"), std::string::npos);
}

}  // namespace
}  // namespace rawmed::codec
