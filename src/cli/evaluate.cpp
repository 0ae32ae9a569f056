// `rawmed evaluate --real WORK/real --synthetic SYN --out REPORT`: every score of the candidate
// against real train, next to the real holdout's (the noise floor), with size-matched intervals and
// verdicts; writes metrics.json and report.html (docs/formats/report.md).
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "common/torch_env.h"
#include "evaluate/evaluate.h"
#include "evaluate/nep.h"
#include "ingest/config.h"
#include "ingest/db_location.h"
#include "ingest/db_tables.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

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

// --real / --synthetic given as database locations are copied into a temporary folder first.
struct FetchedInputs {
  std::filesystem::path dir;
  ~FetchedInputs() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

void run(const EvaluateArgs& args) {
  set_quiet(args.quiet);
  eval::EvaluateRequest request;
  request.real = args.real;
  request.synthetic = args.synthetic;
  FetchedInputs fetched;
  const bool real_in_db = is_database_location(args.real.string());
  if (real_in_db || is_database_location(args.synthetic.string())) {
    fetched.dir = std::filesystem::temp_directory_path() / fmt::format("rawmed-evaluate-{}", ::getpid());
    std::filesystem::remove_all(fetched.dir);
    std::filesystem::create_directories(fetched.dir);
  }
  if (real_in_db) {
    if (args.config.empty()) fail("evaluate: --real {} is a database: give --config", args.real.string());
    fetch_real_splits(args.real.string(), fetched.dir / "real");
    request.real = fetched.dir / "real";
    request.real_location = parse_database_location(args.real.string()).display;
  }
  if (is_database_location(args.synthetic.string())) {
    fetch_database_folder(args.synthetic.string(), fetched.dir / "synthetic");
    request.synthetic = fetched.dir / "synthetic";
    request.synthetic_location = parse_database_location(args.synthetic.string()).display;
  }
  request.out = args.out;
  // Default config: the one `rawmed prepare` copied next to the real splits (WORK/config.toml).
  std::filesystem::path config_path = args.config;
  if (config_path.empty() && !real_in_db && std::filesystem::exists(args.real.parent_path() / "config.toml"))
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
  cmd->add_option("--real", args->real, "folder of the real splits (WORK/real: train/, valid/, test/) or a database location")->required();
  cmd->add_option("--synthetic", args->synthetic, "Database folder to score (any generator, same schema) or a database location")->required();
  cmd->add_option("--out", args->out, "report folder (metrics.json, report.html)")->required();
  cmd->add_option("--config", args->config, "dataset spec (default: REAL/../config.toml when present)");
  cmd->add_option("--seed", args->seed, "random seed (default: [evaluate] seed or 0)");
  cmd->add_option("--threads", args->threads, "CPU threads (default 0: all cores)");
  cmd->add_option("--device", args->device, "cpu or cuda (next-event model)");
  cmd->add_flag("--quiet", args->quiet, "no progress output");
  cmd->callback([args] { run(*args); });
}

}  // namespace rawmed::cli
