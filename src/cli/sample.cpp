// `rawmed sample`: draw exactly N stays from the trained temporal model into WORK/samples/.
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/error.h"
#include "common/log.h"
#include "temporal/temporal.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace rawmed::cli {

void add_sample_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Sample stays (event times and codes) from the temporal model");
  struct Args : RunFlags {
    std::filesystem::path work;
    temporal::SampleOptions options;
    bool compare = true;
  };
  auto args = std::make_shared<Args>();
  auto& o = args->options;
  cmd->add_option("--work", args->work, "working folder (with temporal/model.pt)")->required();
  cmd->add_option("--n", o.n, "number of stays (exactly)")->required();
  cmd->add_option("--temperature", o.temperature, "softmax temperature");
  cmd->add_option("--time-temperature", o.time_temperature, "temperature of the time tokens and END (0: --temperature)");
  cmd->add_flag("!--mask-times", o.lift_times,
                "mask times below the previous event's (renormalise over later times) instead of lifting a "
                "time drawn below it to it (digit and minute layouts; a gap is never earlier)");
  cmd->add_option("--top-k", o.top_k, "keep the k most likely tokens (0: off)");
  cmd->add_option("--top-p", o.top_p, "nucleus sampling mass (1: off)");
  cmd->add_option("--batch-size", o.batch_size, "stays sampled together");
  cmd->add_option("--min-events", o.min_events, "END only after this many events");
  cmd->add_option("--gender", o.gender, "only stays of this gender (conditioned model)");
  cmd->add_option("--age-group", o.age_group, "only stays of this age group, e.g. 65-79 or 65+ (conditioned model)");
  cmd->add_flag("!--no-compare", args->compare, "skip the comparison with the train split");
  add_common_flags(cmd, *args);
  cmd->callback([args] {
    set_quiet(args->quiet);
    args->options.seed = args->seed;
    args->options.device = args->device;
    args->options.threads = args->threads;
    auto samples = temporal::sample_stays(args->work, args->options);
    nlohmann::json extra = nlohmann::json::object();
    if (args->compare) extra["compare_with_train"] = temporal::compare_with_train(args->work, samples);
    temporal::save_samples(args->work / "samples", samples, args->options, extra);
    log_info("sample: {} stays, {} events, {} tokens in {:.1f} s ({:.0f} tokens/s), {} hit the length cap -> {}",
             samples.num_stays(), samples.event_minutes.size(), samples.tokens, samples.seconds,
             samples.seconds > 0 ? double(samples.tokens) / samples.seconds : 0.0, samples.stays_hit_length_cap,
             (args->work / "samples").string());
    if (args->compare) log_info("sample: vs train split {}", extra["compare_with_train"].dump());
  });
}

}  // namespace rawmed::cli
