#pragma once
// Helpers shared by the Torch-free tests.
#include "common/error.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

namespace rawmed::test {

inline std::filesystem::path source_dir() { return RAWMED_SOURCE_DIR; }

// A fresh folder under the system temp dir, unique per process and name.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("rawmed_test_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The message of the Error that `f` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace rawmed::test
