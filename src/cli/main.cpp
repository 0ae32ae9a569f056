// rawmed: learn from a raw multi-table EHR database and generate a synthetic one.
#include "cli/commands.h"
#include "common/error.h"
#include "rawmed_version.h"

#include <CLI/CLI.hpp>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv) {
  // XGBoost and Torch share GNU OpenMP, whose idle threads spin by default: on a busy 2-core
  // machine that made the utility evaluation ~30x slower (904 s vs 27 s). The runtime reads the
  // policy when it loads, before main(), so set it and restart once unless the user chose one.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::execv("/proc/self/exe", argv);  // on failure, carry on with the default policy
  }
  // Keep large tensors' memory mapped between steps instead of unmapping every one of them
  // (measured ~1.4x on Transformer training; see docs/architecture.md).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  CLI::App app{"rawmed " RAWMED_VERSION ": synthetic multi-table EHR generation (RawMed)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", RAWMED_VERSION " (" RAWMED_GIT_DESCRIBE ")");
  rawmed::cli::add_prepare_command(app);
  rawmed::cli::add_train_command(app);
  rawmed::cli::add_sample_command(app);
  rawmed::cli::add_generate_command(app);
  rawmed::cli::add_evaluate_command(app);
  rawmed::cli::add_baseline_command(app);
  rawmed::cli::add_run_command(app);
  rawmed::cli::add_publish_command(app);
  rawmed::cli::add_verify_command(app);
  rawmed::cli::add_merge_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const rawmed::Error& e) {
    std::fprintf(stderr, "rawmed: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rawmed: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
