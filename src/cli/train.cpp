// Placeholder: implemented by its stage's issue.
#include "cli/commands.h"
#include "common/error.h"

#include <CLI/CLI.hpp>

namespace rawmed::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([] { fail("'train' is not implemented yet"); });
}

}  // namespace rawmed::cli
