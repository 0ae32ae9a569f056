// `rawmed verify OUT [--inputs]`: checks a generated database against its MANIFEST.json.
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "generate/manifest.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

namespace rawmed::cli {

void add_verify_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("verify", "Check a generated database's files (and inputs) against OUT/MANIFEST.json");
  auto out = std::make_shared<std::filesystem::path>();
  auto inputs = std::make_shared<bool>(false);
  cmd->add_option("out", *out, "the generated database folder")->required();
  cmd->add_flag("--inputs", *inputs, "also hash the recorded inputs again (config, raw tables, dataset, models)");
  cmd->callback([=] {
    auto problems = generate::verify_manifest(*out, *inputs);
    for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!problems.empty()) fail("verify: {}: {} difference(s) from {}", out->string(), problems.size(), generate::kManifestFile);
    std::printf("verify: %s matches its %s\n", out->string().c_str(), generate::kManifestFile);
  });
}

}  // namespace rawmed::cli
