#pragma once
// The settings every subcommand shares, with their one default each (src/cli/common_flags.h
// declares them as --device, --threads, --seed and --quiet).
#include <cstdint>
#include <string>

namespace rawmed {

struct RunFlags {
  std::string device = "cpu";  // cpu, cuda or cuda:N
  int threads = 0;             // 0: all cores
  uint64_t seed = 0;
  bool quiet = false;          // no progress output
};

}  // namespace rawmed
