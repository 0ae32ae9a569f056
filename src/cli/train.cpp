// `rawmed train --stage codec|temporal`: shared flags, then the stage's own training loop.
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "codec/codec.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/launch.h"
#include "common/log.h"
#include "temporal/temporal.h"

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace rawmed::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model stage (codec = RQ-VAE, temporal = Transformer)");
  auto args = std::make_shared<TrainArgs>();
  auto stage = std::make_shared<std::string>();
  cmd->add_option("--stage", *stage, "codec or temporal")->required()->check(CLI::IsMember({"codec", "temporal"}));
  cmd->add_option("--work", args->work, "working folder (from rawmed prepare)")->required();
  cmd->add_option("--config", args->config, "dataset spec (default: WORK/config.toml)");
  cmd->add_option("--preset", args->preset, "model size: paper, demo or tiny")
      ->check(CLI::IsMember({"paper", "demo", "tiny"}));
  add_common_flags(cmd, *args);
  cmd->add_flag("--resume", args->resume, "continue from the last checkpoint");
  cmd->add_flag("--bf16", args->bf16, "bf16 autocast on CPU");
  cmd->add_option("--max-epochs", args->max_epochs, "override the preset's epoch limit");
  cmd->add_option("--max-minutes", args->max_minutes, "stop after this wall time (0: none)")
      ->check(CLI::Range(0.0, 1e6));
  auto nproc = std::make_shared<int>(1);
  cmd->add_option("--nproc", *nproc,
                  "data-parallel ranks on this machine (Gloo); a launcher such as torchrun sets RANK, WORLD_SIZE, "
                  "MASTER_ADDR and MASTER_PORT instead")
      ->check(CLI::Range(1, 1024));
  cmd->callback([args, stage, nproc] {
    set_quiet(args->quiet);
    if (*nproc > 1) {
      // The ranks lock WORK themselves (rank 0 only: the other ranks write nothing).
      if (int status = spawn_ranks(*nproc); status != 0)
        fail("train: a rank failed (exit status {}); the others were stopped", status);
      return;
    }
    std::optional<WorkLock> lock;
    if (!is_secondary_rank()) lock.emplace(args->work, "train --stage " + *stage);
    if (*stage == "codec") codec::run_training(*args);
    else temporal::run_training(*args);
  });
}

}  // namespace rawmed::cli
