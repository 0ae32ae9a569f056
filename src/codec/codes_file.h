#pragma once
// codes.bin (docs/file-formats.md "Event codes"): codes[(event * positions + p) * depth + d].
// Torch-free, so the parser can be fuzzed and sanitized without LibTorch (fuzz/).
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace rawmed::codec {

struct CodesFile {
  uint64_t events = 0;
  uint32_t positions = 0, depth = 0, codebook_size = 0;
  std::vector<uint16_t> codes;
};
void write_codes_file(const std::filesystem::path& path, const CodesFile& file);
CodesFile read_codes_file(const std::filesystem::path& path);
// Parses the bytes of a codes file; `name` is used in error messages.
CodesFile parse_codes_file(std::string_view bytes, std::string_view name);

}  // namespace rawmed::codec
