#pragma once
// Shared by the libFuzzer targets: the contract they check, and a private scratch folder.
//
// Contract: a parser given any bytes returns, or throws rawmed::Error (a message naming the file;
// the CLI prints it and exits 1). Any other exception would reach the CLI as an unexplained exit 2,
// so it aborts here and libFuzzer records the input as a crash. Sanitizer reports abort as well.
#include "common/error.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace rawmed::fuzz {

// One folder per process under $TMPDIR (or /tmp), reused across inputs. libFuzzer ends without
// running atexit handlers, so callers point TMPDIR at a folder they remove (smoke.sh, make fuzz).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / ("rawmed-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename Body>
void expect_only_rawmed_errors(Body&& body) {
  try {
    body();
  } catch (const rawmed::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception other than rawmed::Error: %s\n", e.what());
    std::abort();
  }
}

}  // namespace rawmed::fuzz
