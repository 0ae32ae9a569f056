#include "ingest/byte_source.h"

#include "common/error.h"
#include "common/fs.h"
#include "ingest/db_location.h"
#ifndef RAWMED_NO_DATABASES
#include "ingest/db_postgres.h"
#include "ingest/db_sqlite.h"
#endif

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace rawmed {
namespace {

class GzFileSource : public ByteSource {
 public:
  explicit GzFileSource(std::string path) : path_(std::move(path)) {
    if (!std::filesystem::exists(path_)) fail("{}: file not found", path_);
    file_ = gzopen(path_.c_str(), "rb");  // reads plain files transparently too
    if (!file_) fail("{}: cannot open file", path_);
    gzbuffer(file_, 256 * 1024);
  }
  ~GzFileSource() override {
    if (file_) gzclose(file_);
  }
  size_t read(char* out, size_t size, int64_t line) override {
    int n = gzread(file_, out, static_cast<unsigned>(std::min<size_t>(size, 1u << 30)));
    int code = 0;
    if (n < 0) {
      const char* message = gzerror(file_, &code);
      fail("{}: near line {}: cannot decompress: {}", path_, line, message ? message : "gzip error");
    }
    if (n == 0) {
      const char* message = gzerror(file_, &code);
      // zlib reports a gzip stream that ends before its trailer (an interrupted download or copy)
      // as Z_BUF_ERROR "unexpected end of file": the rows read so far are not the whole table.
      if (code == Z_BUF_ERROR)
        fail("{}: near line {}: truncated gzip file (the stream ends before its end marker); the file is incomplete",
             path_, line);
      if (code != Z_OK) fail("{}: near line {}: corrupt gzip data: {}", path_, line, message);
    }
    return static_cast<size_t>(n);
  }
  int64_t bytes_read() const override { return static_cast<int64_t>(gzoffset(file_)); }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

}  // namespace

size_t BufferedRowSource::read(char* out, size_t size, int64_t line) {
  while (offset_ == pending_.size() && !done_) {
    pending_.clear();
    offset_ = 0;
    done_ = !produce(pending_, line);
    produced_ += static_cast<int64_t>(pending_.size());
  }
  size_t n = std::min(size, pending_.size() - offset_);
  std::memcpy(out, pending_.data() + offset_, n);
  offset_ += n;
  return n;
}

std::unique_ptr<ByteSource> open_byte_source(const std::string& location) {
  if (!is_database_location(location)) return std::make_unique<GzFileSource>(location);
#ifdef RAWMED_NO_DATABASES
  fail("{}: this build reads files only (built without libpq and SQLite)", location);
#else
  DbLocation db = parse_database_location(location);
  if (db.target.empty()) fail("{}: no table after '#' (expected LOCATION#schema.table)", db.display);
  if (db.kind == DbKind::kPostgres) return open_postgres_csv_source(db);
  return open_sqlite_csv_source(db);
#endif
}

std::string input_crc32(const std::string& location) {
  if (!is_database_location(location)) return file_crc32(location);
  auto source = open_byte_source(location);
  uLong crc = crc32(0L, Z_NULL, 0);
  std::string buffer(1 << 16, '\0');
  while (size_t n = source->read(buffer.data(), buffer.size(), 0))
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(n));
  return fmt::format("{:08x}", crc);
}

}  // namespace rawmed
