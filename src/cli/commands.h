#pragma once
// Each subcommand registers itself on the CLI11 app from its own file (thin tools over the
// library, as in llama.cpp). Shared flags keep one spelling everywhere:
//   --config FILE  dataset spec (TOML)     --work DIR   working folder of a run
//   --seed N       random seed             --threads N  CPU threads (default: all cores)
//   --device cpu|cuda                      --quiet      no progress output
namespace CLI {
class App;
}

namespace rawmed::cli {

void add_prepare_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_baseline_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_publish_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_merge_command(CLI::App& app);

}  // namespace rawmed::cli
