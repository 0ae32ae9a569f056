// evaluate_folders: the setup of `rawmed evaluate` (config, Torch threads and device, the
// next-event section, which needs Torch), shared by the evaluate and run commands.
#include "common/torch_env.h"
#include "evaluate/evaluate.h"
#include "evaluate/nep.h"
#include "common/config.h"

#include <optional>

namespace rawmed::eval {

nlohmann::json evaluate_folders(const EvaluateOptions& options) {
  EvaluateRequest request;
  request.real = options.real;
  request.synthetic = options.synthetic;
  request.out = options.out;
  std::filesystem::path config_path = options.config;
  if (config_path.empty() && std::filesystem::exists(options.real.parent_path() / "config.toml"))
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
