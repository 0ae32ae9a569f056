// codes.bin reader and writer (no LibTorch).
#include "codec/codes_file.h"

#include "common/error.h"
#include "common/fs.h"

#include <cstring>
#include <limits>
#include <string>

namespace rawmed::codec {
namespace {

namespace fs = std::filesystem;

constexpr char kCodesMagic[8] = {'R', 'M', 'C', 'O', 'D', 'E', 'S', '1'};
constexpr size_t kCodesHeader = 32;

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}
template <typename T>
T get(std::string_view in, size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof(T));
  return value;
}

// events x positions x depth, or kMax when the byte count would overflow: a corrupt header must not
// wrap around to a size that matches the file.
uint64_t code_count_or_max(uint64_t events, uint64_t positions, uint64_t depth) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max() / sizeof(uint16_t);
  uint64_t count = 0;
  if (__builtin_mul_overflow(events, positions, &count) || __builtin_mul_overflow(count, depth, &count) ||
      count > kMax)
    return kMax;
  return count;
}

}  // namespace

void write_codes_file(const fs::path& path, const CodesFile& f) {
  if (f.codes.size() != f.events * f.positions * f.depth)
    fail("{}: {} codes for {} events x {} positions x {} depths", path.string(), f.codes.size(), f.events,
         f.positions, f.depth);
  std::string out(kCodesMagic, 8);
  put<uint64_t>(out, f.events);
  put<uint32_t>(out, f.positions);
  put<uint32_t>(out, f.depth);
  put<uint32_t>(out, f.codebook_size);
  put<uint32_t>(out, 0);
  out.append(reinterpret_cast<const char*>(f.codes.data()), f.codes.size() * sizeof(uint16_t));
  write_file_atomic(path, out);
}

CodesFile parse_codes_file(std::string_view in, std::string_view name) {
  if (in.size() < kCodesHeader || std::memcmp(in.data(), kCodesMagic, 8) != 0)
    fail("{}: not a codes file (magic RMCODES1 missing)", name);
  CodesFile f;
  f.events = get<uint64_t>(in, 8);
  f.positions = get<uint32_t>(in, 16);
  f.depth = get<uint32_t>(in, 20);
  f.codebook_size = get<uint32_t>(in, 24);
  uint64_t count = code_count_or_max(f.events, f.positions, f.depth);
  if ((in.size() - kCodesHeader) / sizeof(uint16_t) != count || (in.size() - kCodesHeader) % sizeof(uint16_t) != 0)
    fail("{}: {} bytes, header says {} events x {} positions x {} depths (truncated or corrupt)", name, in.size(),
         f.events, f.positions, f.depth);
  f.codes.resize(count);
  if (count > 0) std::memcpy(f.codes.data(), in.data() + kCodesHeader, count * sizeof(uint16_t));
  for (uint16_t code : f.codes)
    if (code >= f.codebook_size) fail("{}: code {} is outside the codebook size {}", name, code, f.codebook_size);
  return f;
}

CodesFile read_codes_file(const fs::path& path) { return parse_codes_file(read_file(path), path.string()); }

}  // namespace rawmed::codec
