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
  // Renames the folder to `other` instead (same file system), replacing any folder there.
  void commit_as(const fs::path& other);

 private:
  fs::path final_, tmp_;
  bool committed_ = false;
};

// Exclusive writer lock on a work folder: WORK/.rawmed.lock, held with flock(2) so that the kernel
// frees it when the process dies. A second writer gets an Error naming the holder. The file holds
// the holder's pid and command and is removed on a clean release, so a file found on entry means
// an earlier run was killed: interrupted() then returns what that run wrote. Nested locks on the
// same folder in one process (`rawmed run` calling prepare) share the outer one.
class WorkLock {
 public:
  WorkLock(const fs::path& work, std::string_view command);
  ~WorkLock();
  WorkLock(const WorkLock&) = delete;
  WorkLock& operator=(const WorkLock&) = delete;
  const std::string& interrupted() const { return interrupted_; }

 private:
  fs::path path_;
  std::string key_, interrupted_;
  int fd_ = -1;
};

// Removes `<name>.tmp-<pid>` and `<name>.old-<pid>` entries of `dir` whose process no longer
// runs: what a killed writer leaves. Returns how many were removed.
int remove_orphan_temporaries(const fs::path& dir);

// Files with a CRC-32 trailer (model and checkpoint files): write_file_checksummed appends it;
// read_file_checksummed verifies and strips it, and errors naming the file when the bytes do not
// match. A file without the trailer (written before checksums existed) is returned unchanged.
void write_file_checksummed(const fs::path& path, std::string_view bytes);
std::string read_file_checksummed(const fs::path& path);

// CRC-32 of a whole file (zlib), as 8 hex digits: the fingerprint recorded for inputs.
std::string file_crc32(const fs::path& path);

double peak_rss_mb();

}  // namespace rawmed
