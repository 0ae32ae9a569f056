// The codes.bin parser (codec stage output, read by the temporal stage) on arbitrary bytes.
#include "codec/codes_file.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  rawmed::fuzz::expect_only_rawmed_errors([&] {
    auto f = rawmed::codec::parse_codes_file(bytes, "codes.bin");
    if (f.codes.size() != f.events * f.positions * f.depth) std::abort();
    for (uint16_t c : f.codes)
      if (c >= f.codebook_size) std::abort();
  });
  return 0;
}
