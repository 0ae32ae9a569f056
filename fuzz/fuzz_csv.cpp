// CsvReader on arbitrary bytes. The first byte picks how the rest reaches the reader:
//   bit 0: as a plain file, or gzip-compressed (a complete stream, or cut after byte[1] * 8 bytes
//          when bit 1 is set, which must give a "truncated gzip file" error, never a short table);
//   bit 2: skip_malformed; bit 3: 7-byte chunks (records straddle every refill).
#include "fuzz_util.h"
#include "common/csv.h"

#include <zlib.h>

namespace {

std::string gzip(std::string_view text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void read_all(const std::string& path, rawmed::CsvOptions options) {
  rawmed::CsvReader reader(path, options);
  size_t columns = reader.header().size();
  while (reader.next())
    if (reader.fields().size() != columns) std::abort();  // the reader promises header-sized records
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0], cut = data[1];
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const bool gz = mode & 1;
  std::string bytes = gz ? gzip(text) : std::string(text);
  const bool truncated = gz && (mode & 2) && size_t(cut) * 8 < bytes.size();
  if (truncated) bytes.resize(size_t(cut) * 8);
  auto path = rawmed::fuzz::scratch_dir() / (gz ? "t.csv.gz" : "t.csv");
  rawmed::fuzz::write_bytes(path, bytes);
  rawmed::CsvOptions options;
  options.skip_malformed = mode & 4;
  if (mode & 8) options.chunk_bytes = 7;
  bool completed = false;
  rawmed::fuzz::expect_only_rawmed_errors([&] {
    read_all(path.string(), options);
    completed = true;
  });
  // A gzip stream cut before its trailer is never read as a complete (shorter) table. Cuts
  // inside the 10-byte gzip header make zlib see an empty or plain file, which is not the case here.
  if (truncated && completed && bytes.size() > 10) std::abort();
  return 0;
}
