// `rawmed prepare --config FILE --work DIR`: raw tables -> tokenized event streams.
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/log.h"
#include "ingest/prepare.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace rawmed::cli {

void add_prepare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("prepare", "Build the cohort and tokenize events (WORK/dataset, WORK/real)");
  struct Args : RunFlags {
    std::string config, work;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--config", args->config, "dataset spec (TOML)")->required();
  cmd->add_option("--work", args->work, "working folder for this run")->required();
  add_common_flags(cmd, *args, kQuiet);
  cmd->callback([args] {
    set_quiet(args->quiet);
    prepare(load_config(args->config), args->work);
  });
}

}  // namespace rawmed::cli
