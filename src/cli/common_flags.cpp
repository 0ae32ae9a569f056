#include "cli/common_flags.h"

#include <CLI/CLI.hpp>

namespace rawmed::cli {

CommonOptions add_common_flags(CLI::App* cmd, RunFlags& flags, unsigned which, const char* seed_help) {
  CommonOptions out;
  if (which & kDevice) cmd->add_option("--device", flags.device, "cpu or cuda")->capture_default_str();
  if (which & kThreads) cmd->add_option("--threads", flags.threads, "CPU threads (0: all cores)")->capture_default_str();
  if (which & kSeed) out.seed = cmd->add_option("--seed", flags.seed, seed_help);
  if (which & kQuiet) cmd->add_flag("--quiet", flags.quiet, "no progress output");
  return out;
}

}  // namespace rawmed::cli
