// evaluate_folders: the setup of `rawmed evaluate` (config, Torch threads and device, the
// next-event section, which needs Torch), shared by the evaluate and run commands.
#include "common/config.h"
#include "common/error.h"
#include "common/torch_env.h"
#include "evaluate/evaluate.h"
#include "evaluate/nep.h"
#include "ingest/db_location.h"
#include "ingest/db_tables.h"

#include <fmt/format.h>
#include <unistd.h>

#include <optional>

namespace rawmed::eval {

namespace {
// --real / --synthetic given as database locations are copied into a temporary folder first.
struct FetchedInputs {
  std::filesystem::path dir;
  ~FetchedInputs() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};
}  // namespace

nlohmann::json evaluate_folders(const EvaluateOptions& options) {
  EvaluateRequest request;
  request.real = options.real;
  request.synthetic = options.synthetic;
  request.out = options.out;
  FetchedInputs fetched;
  const bool real_in_db = is_database_location(options.real.string());
  const bool synthetic_in_db = is_database_location(options.synthetic.string());
  if (real_in_db || synthetic_in_db) {
    fetched.dir = std::filesystem::temp_directory_path() / fmt::format("rawmed-evaluate-{}", ::getpid());
    std::filesystem::remove_all(fetched.dir);
    std::filesystem::create_directories(fetched.dir);
  }
  if (real_in_db) {
    if (options.config.empty()) fail("evaluate: --real {} is a database: give --config", options.real.string());
    fetch_real_splits(options.real.string(), fetched.dir / "real");
    request.real = fetched.dir / "real";
    request.real_location = parse_database_location(options.real.string()).display;
  }
  if (synthetic_in_db) {
    fetch_database_folder(options.synthetic.string(), fetched.dir / "synthetic");
    request.synthetic = fetched.dir / "synthetic";
    request.synthetic_location = parse_database_location(options.synthetic.string()).display;
  }
  // Default config: the one `rawmed prepare` copied next to the real splits (WORK/config.toml).
  std::filesystem::path config_path = options.config;
  if (config_path.empty() && !real_in_db && std::filesystem::exists(options.real.parent_path() / "config.toml"))
    config_path = options.real.parent_path() / "config.toml";
  std::optional<Config> config;
  if (!config_path.empty()) {
    config = load_config(config_path);
    request.config = &*config;
    request.config_path = config_path;
    request.eval = EvalConfig::from_config(*config);
  }
  if (options.seed) request.eval.seed = *options.seed;
  request.eval.threads = setup_torch_threads(options.threads);
  request.versions = torch_runtime_info();
  parse_device(options.device);  // errors early when CUDA is asked for but missing
  static const toml::table kEmpty;
  const toml::table& evaluate_table = config ? config_section(*config, "evaluate") : kEmpty;
  NepConfig nep = parse_nep_config(evaluate_table, config_path);
  nep.device = options.device;
  request.next_event = [nep](const Database& train, const Database& test, const Database& candidate,
                             const StringPool& pool) { return evaluate_next_event(train, test, candidate, pool, nep); };
  return run_evaluation(request);
}

}  // namespace rawmed::eval
