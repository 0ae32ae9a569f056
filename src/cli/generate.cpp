// Placeholder: implemented by its stage's issue.
#include "cli/commands.h"
#include "common/error.h"

#include <CLI/CLI.hpp>

namespace rawmed::cli {

void add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([] { fail("'generate' is not implemented yet"); });
}

}  // namespace rawmed::cli
