// `rawmed evaluate --real WORK/real --synthetic SYN --out REPORT`: every score of the candidate
// against real train, next to the real holdout's (the noise floor), with size-matched intervals and
// verdicts; writes metrics.json and report.html (docs/formats/report.md).
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/log.h"
#include "evaluate/evaluate.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace rawmed::cli {

void add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "Score a synthetic database against the real splits (report)");
  auto options = std::make_shared<eval::EvaluateOptions>();
  auto flags = std::make_shared<RunFlags>();
  cmd->add_option("--real", options->real, "folder of the real splits (WORK/real: train/, valid/, test/) or a database location")->required();
  cmd->add_option("--synthetic", options->synthetic, "Database folder to score (any generator, same schema) or a database location")->required();
  cmd->add_option("--out", options->out, "report folder (metrics.json, report.html)")->required();
  cmd->add_option("--config", options->config, "dataset spec (default: REAL/../config.toml when present)");
  CommonOptions common = add_common_flags(cmd, *flags, kAllFlags, "random seed (default: [evaluate] seed or 0)");
  cmd->callback([options, flags, common] {
    set_quiet(flags->quiet);
    if (common.seed->count()) options->seed = flags->seed;
    options->threads = flags->threads;
    options->device = flags->device;
    eval::evaluate_folders(*options);
  });
}

}  // namespace rawmed::cli
