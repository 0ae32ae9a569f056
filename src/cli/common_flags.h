#pragma once
// One declaration of the flags the subcommands share (--device, --threads, --seed, --quiet), so
// their spelling, help and default (RunFlags, src/common/run_flags.h) cannot drift apart.
#include "common/run_flags.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace rawmed::cli {

// Which of the shared flags a subcommand takes (a command without a neural stage takes no --device).
enum CommonFlag : unsigned { kDevice = 1, kThreads = 2, kSeed = 4, kQuiet = 8, kAllFlags = 15 };

struct CommonOptions {
  CLI::Option* seed = nullptr;  // count() tells whether --seed was given
};

// Declares the chosen shared flags on `cmd`, writing into `flags`. `seed_help` replaces the help
// of --seed where its default differs in meaning (evaluate: the [evaluate] seed).
CommonOptions add_common_flags(CLI::App* cmd, RunFlags& flags, unsigned which = kAllFlags,
                               const char* seed_help = "random seed");

}  // namespace rawmed::cli
