// `rawmed evaluate --real WORK/real --synthetic SYN --out REPORT`: every score of the candidate
// against real train, next to the real holdout's (the noise floor), with size-matched intervals and
// verdicts; writes metrics.json and report.html (docs/formats/report.md).
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "common/torch_env.h"
#include "evaluate/evaluate.h"
#include "evaluate/nep.h"
#include "common/config.h"

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace rawmed::cli {

namespace {

struct EvaluateArgs {
  std::filesystem::path real, synthetic, out, config;
  std::optional<uint64_t> seed;
  int threads = 0;  // all cores
  std::string device = "cpu";
  bool quiet = false;
};

void run(const EvaluateArgs& args) {
  set_quiet(args.quiet);
  eval::EvaluateRequest request;
  request.real = args.real;
  request.synthetic = args.synthetic;
  request.out = args.out;
  // Default config: the one `rawmed prepare` copied next to the real splits (WORK/config.toml).
  std::filesystem::path config_path = args.config;
  if (config_path.empty() && std::filesystem::exists(args.real.parent_path() / "config.toml"))
    config_path = args.real.parent_path() / "config.toml";
  std::optional<Config> config;
  if (!config_path.empty()) {
    config = load_config(config_path);
    request.config = &*config;
    request.config_path = config_path;
    request.eval = eval::EvalConfig::from_config(*config);
  }
  if (args.seed) request.eval.seed = *args.seed;
  request.eval.threads = setup_torch_threads(args.threads);
  request.versions = torch_runtime_info();
  parse_device(args.device);  // errors early when CUDA is asked for but missing
  static const toml::table kEmpty;
  const toml::table& evaluate_table = config ? config_section(*config, "evaluate") : kEmpty;
  eval::NepConfig nep = eval::parse_nep_config(evaluate_table, config_path);
  nep.device = args.device;
  request.next_event = [nep](const eval::Database& train, const eval::Database& test, const eval::Database& candidate,
                             const eval::StringPool& pool) {
    return eval::evaluate_next_event(train, test, candidate, pool, nep);
  };
  eval::run_evaluation(request);
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "Score a synthetic database against the real splits (report)");
  auto args = std::make_shared<EvaluateArgs>();
  cmd->add_option("--real", args->real, "folder of the real splits (WORK/real: train/, valid/, test/)")->required();
  cmd->add_option("--synthetic", args->synthetic, "Database folder to score (any generator, same schema)")->required();
  cmd->add_option("--out", args->out, "report folder (metrics.json, report.html)")->required();
  cmd->add_option("--config", args->config, "dataset spec (default: REAL/../config.toml when present)");
  cmd->add_option("--seed", args->seed, "random seed (default: [evaluate] seed or 0)");
  cmd->add_option("--threads", args->threads, "CPU threads (default 0: all cores)");
  cmd->add_option("--device", args->device, "cpu or cuda (next-event model)");
  cmd->add_flag("--quiet", args->quiet, "no progress output");
  cmd->callback([args] { run(*args); });
}

}  // namespace rawmed::cli
