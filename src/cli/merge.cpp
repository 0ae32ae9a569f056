// `rawmed merge PART... --out OUT`: join the parts of `rawmed generate --shard I/N` into one database.
#include "cli/commands.h"
#include "common/log.h"
#include "generate/merge.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace rawmed::cli {

void add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "merge", "Join the parts written by `generate --shard I/N` into one database, then run the release gate on it");
  auto args = std::make_shared<generate::MergeArgs>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("parts", args->parts, "the part folders (every part of one run, any order)")->required();
  cmd->add_option("--out", args->out, "output database folder, postgresql://USER@HOST/DB?schema=NAME or sqlite:FILE")
      ->required();
  cmd->add_option("--threads", args->threads, "CPU threads for the release gate (0: all cores)");
  cmd->add_flag("--no-gate", args->no_gate,
                "write OUT without the release gate ([release]); recorded in OUT/MANIFEST.json");
  cmd->add_flag("--quiet", *quiet, "no progress output");
  cmd->callback([=] {
    set_quiet(*quiet);
    generate::run_merge(*args);
  });
}

}  // namespace rawmed::cli
