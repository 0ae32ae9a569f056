#pragma once
// File helpers. Every output is written under a temporary name and renamed into place, so a
// crash or an error never leaves a half-written file or folder behind.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace rawmed {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path);
void write_file_atomic(const fs::path& path, std::string_view bytes);
void write_json_atomic(const fs::path& path, const nlohmann::json& value);
nlohmann::json read_json(const fs::path& path);

// A folder built under `<final>.tmp-<pid>` and renamed to `final` by commit(). If the object is
// destroyed without commit(), the temporary folder is removed.
class AtomicDir {
 public:
  explicit AtomicDir(fs::path final_path);
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;
  const fs::path& path() const { return tmp_; }
  // Replaces any existing `final` folder.
  void commit();

 private:
  fs::path final_, tmp_;
  bool committed_ = false;
};

// CRC-32 of a whole file (zlib), as 8 hex digits: the fingerprint recorded for inputs.
std::string file_crc32(const fs::path& path);

double peak_rss_mb();

}  // namespace rawmed
