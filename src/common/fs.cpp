#include "common/fs.h"

#include "common/error.h"

#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <sstream>

namespace rawmed {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open file for reading", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open file for writing", tmp.string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp);
      fail("{}: write failed (disk full?)", tmp.string());
    }
  }
  fs::rename(tmp, path);
}

void write_json_atomic(const fs::path& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

nlohmann::json read_json(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: invalid JSON at byte {}: {}", path.string(), e.byte, e.what());
  }
}

AtomicDir::AtomicDir(fs::path final_path) : final_(std::move(final_path)) {
  tmp_ = final_;
  tmp_ += ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp_);
  fs::create_directories(tmp_);
}

AtomicDir::~AtomicDir() {
  if (!committed_) {
    std::error_code ignored;
    fs::remove_all(tmp_, ignored);
  }
}

void AtomicDir::commit() {
  fs::path old = final_;
  old += ".old-" + std::to_string(::getpid());
  if (fs::exists(final_)) fs::rename(final_, old);
  fs::rename(tmp_, final_);
  fs::remove_all(old);
  committed_ = true;
}

std::string file_crc32(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open file for reading", path.string());
  uLong crc = crc32(0L, Z_NULL, 0);
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(in.gcount()));
  }
  return fmt::format("{:08x}", crc);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace rawmed
