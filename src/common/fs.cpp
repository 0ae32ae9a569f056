#include "common/fs.h"

#include "common/error.h"

#include "common/log.h"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <charconv>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
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

void AtomicDir::commit() { commit_as(final_); }

void AtomicDir::commit_as(const fs::path& final_path) {
  fs::path old = final_path;
  old += ".old-" + std::to_string(::getpid());
  const bool had_previous = fs::exists(final_path);
  if (had_previous) fs::rename(final_path, old);
  try {
    fs::rename(tmp_, final_path);
  } catch (...) {
    if (had_previous) fs::rename(old, final_path);  // never leave the previous output only under a temporary name
    throw;
  }
  fs::remove_all(old);
  committed_ = true;
}

namespace {

std::mutex& locks_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, int>& locks_held() {  // lock file -> nesting depth in this process
  static std::map<std::string, int> held;
  return held;
}

std::string read_fd(int fd) {
  std::string text(4096, '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

bool process_running(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

constexpr std::string_view kChecksumTag = "\nRAWMED-CRC32 ";  // + 8 hex digits + "\n"
constexpr size_t kChecksumTrailer = kChecksumTag.size() + 9;

std::string crc_hex(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < bytes.size(); at += 1u << 30) {
    size_t n = std::min<size_t>(bytes.size() - at, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
  }
  return fmt::format("{:08x}", crc);
}

}  // namespace

WorkLock::WorkLock(const fs::path& work, std::string_view command) {
  fs::create_directories(work);
  path_ = work / ".rawmed.lock";
  key_ = fs::weakly_canonical(path_).string();
  std::lock_guard guard(locks_mutex());
  if (locks_held()[key_]++ > 0) return;  // the outer lock of this process covers it
  for (int attempt = 0; fd_ < 0; ++attempt) {
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      --locks_held()[key_];
      fail("{}: cannot create the lock file ({})", path_.string(), std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      std::string holder = read_fd(fd);
      ::close(fd);
      --locks_held()[key_];
      fail("{}: another rawmed process is writing this work folder ({}); wait for it to finish or use another --work",
           work.string(), holder.empty() ? "holder unknown" : holder);
    }
    // The previous holder may have removed the file between our open and flock: lock the file
    // that is at the path now.
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      fd_ = fd;
    } else {
      ::close(fd);
      if (attempt > 100) {
        --locks_held()[key_];
        fail("{}: the lock file keeps changing", path_.string());
      }
    }
  }
  interrupted_ = read_fd(fd_);
  if (!interrupted_.empty())
    log_info("warning: {}: an earlier run was interrupted ({}); the outputs it was writing are redone", work.string(), interrupted_);
  std::time_t now = std::time(nullptr);
  char started[32];
  std::strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string text = fmt::format("pid {}, rawmed {}, started {}\n", ::getpid(), command, started);
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    log_info("warning: {}: cannot write the lock file", path_.string());
}

WorkLock::~WorkLock() {
  std::lock_guard guard(locks_mutex());
  if (--locks_held()[key_] > 0 || fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding it, so no other process locks a removed file
  ::close(fd_);
}

int remove_orphan_temporaries(const fs::path& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    size_t mark = name.rfind(".tmp-");
    if (mark == std::string::npos) mark = name.rfind(".old-");
    if (mark == std::string::npos) continue;
    long pid = 0;
    const char* digits = name.data() + mark + 5;
    auto [end, err] = std::from_chars(digits, name.data() + name.size(), pid);
    if (err != std::errc() || end != name.data() + name.size() || process_running(pid)) continue;
    fs::remove_all(entry.path(), ec);
    if (!ec) ++removed;
  }
  return removed;
}

void write_file_checksummed(const fs::path& path, std::string_view bytes) {
  std::string out(bytes);
  out += kChecksumTag;
  out += crc_hex(bytes) + "\n";
  write_file_atomic(path, out);
}

std::string read_file_checksummed(const fs::path& path) {
  std::string bytes = read_file(path);
  if (bytes.size() < kChecksumTrailer ||
      bytes.compare(bytes.size() - kChecksumTrailer, kChecksumTag.size(), kChecksumTag) != 0)
    return bytes;  // no trailer: written before checksums existed
  std::string recorded = bytes.substr(bytes.size() - 9, 8);
  bytes.resize(bytes.size() - kChecksumTrailer);
  std::string actual = crc_hex(bytes);
  if (actual != recorded)
    fail("{}: checksum mismatch (CRC-32 {} recorded, {} computed): the file is corrupt; retrain or restore it",
         path.string(), recorded, actual);
  return bytes;
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
