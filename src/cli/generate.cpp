// `rawmed generate --work DIR --n N --out OUT`: sample, decode, validate, write a synthetic database.
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/log.h"
#include "generate/generate.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace rawmed::cli {

void add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Sample stays, validate them and write a synthetic database");
  auto args = std::make_shared<generate::GenerateArgs>();
  auto temperature = std::make_shared<double>(0), top_p = std::make_shared<double>(0);
  auto top_k = std::make_shared<int>(0);
  cmd->add_option("--work", args->work, "working folder (trained codec and temporal model)")->required();
  cmd->add_option("--n", args->n, "valid stays to write (default: as many as the real train split)");
  cmd->add_option("--out", args->out, "output database folder (default: WORK/synthetic), postgresql://USER@HOST/DB?schema=NAME or sqlite:FILE");
  cmd->add_option("--config", args->config, "dataset spec (default: WORK/config.toml)");
  add_common_flags(cmd, *args);
  auto* t = cmd->add_option("--temperature", *temperature, "sampling temperature (default: [generate] temperature)");
  auto* k = cmd->add_option("--top-k", *top_k, "top-k sampling (default: [generate] top_k)");
  auto* p = cmd->add_option("--top-p", *top_p, "nucleus sampling (default: [generate] top_p)");
  cmd->add_option("--condition", args->condition,
                  "only stays of these demographics, e.g. \"gender=F,age=65-79\" (age groups 18-44, 45-64, 65-79, "
                  "80+; a model trained with [temporal] condition = true)");
  cmd->add_option("--like", args->like,
                  "one stay per row of this cohort file (e.g. WORK/real/test/cohort.csv.gz), with its gender and age group");
  cmd->add_option("--shard", args->shard,
                  "write part I of N (0 <= I < N) into the folder --out, without the release gate; join the parts "
                  "with `rawmed merge` (the result is the same for any N)");
  cmd->add_flag("--no-gate", args->no_gate,
                "write OUT without the release gate ([release]); recorded in OUT/MANIFEST.json");
  cmd->callback([=] {
    set_quiet(args->quiet);
    if (t->count()) args->temperature = *temperature;
    if (k->count()) args->top_k = *top_k;
    if (p->count()) args->top_p = *top_p;
    generate::run_generate(*args);
  });
}

}  // namespace rawmed::cli
