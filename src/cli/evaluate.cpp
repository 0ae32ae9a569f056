// Placeholder: implemented by its stage's issue.
#include "cli/commands.h"
#include "common/error.h"

#include <CLI/CLI.hpp>

namespace rawmed::cli {

void add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([] { fail("'evaluate' is not implemented yet"); });
}

}  // namespace rawmed::cli
