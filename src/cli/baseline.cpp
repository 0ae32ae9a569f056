// `rawmed baseline --kind independent --real WORK/real --n N --out SYN --seed S`: a reference
// generator whose output `rawmed evaluate` scores like rawmed's (src/evaluate/baseline.h).
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/error.h"
#include "common/log.h"
#include "evaluate/baseline.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>

namespace rawmed::cli {

namespace {
struct BaselineArgs : RunFlags {
  std::string kind = "independent";
  std::filesystem::path real, out;
  int64_t stays = 0;
};
}  // namespace

void add_baseline_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("baseline", "Write a baseline synthetic database (for comparison)");
  auto args = std::make_shared<BaselineArgs>();
  cmd->add_option("--kind", args->kind, "baseline generator: independent (resampled rows, random times)")
      ->check(CLI::IsMember({"independent"}));
  cmd->add_option("--real", args->real, "folder of the real splits (WORK/real); rows come from its train/")->required();
  cmd->add_option("--n", args->stays, "number of stays (default: as many as real train)");
  cmd->add_option("--out", args->out, "output Database folder")->required();
  add_common_flags(cmd, *args, kSeed | kQuiet);
  cmd->callback([args] {
    set_quiet(args->quiet);
    std::filesystem::path train = args->real / "train";
    if (!std::filesystem::exists(train / "schema.json")) train = args->real;  // a split folder itself
    if (!std::filesystem::exists(train / "schema.json")) fail("{}: no train/schema.json", args->real.string());
    eval::write_independent_baseline(train, args->stays, args->seed, args->out);
  });
}

}  // namespace rawmed::cli
