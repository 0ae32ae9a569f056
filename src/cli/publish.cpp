// `rawmed publish --from DIR --to URL [--splits]`: copies a Database folder (or, with --splits,
// the train/valid/test folders of WORK/real) into PostgreSQL or SQLite, so that `rawmed evaluate`
// and SQL users read it there (docs/formats/databases.md).
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "ingest/db_location.h"
#include "ingest/db_tables.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>

namespace rawmed::cli {

namespace {

struct PublishArgs {
  std::filesystem::path from;
  std::string to;
  bool splits = false, quiet = false;
};

void run(const PublishArgs& args) {
  set_quiet(args.quiet);
  if (!is_database_location(args.to)) fail("publish: --to {} is not postgresql://... or sqlite:FILE", args.to);
  if (!std::filesystem::is_directory(args.from)) fail("publish: --from {}: folder not found", args.from.string());
  if (args.splits) publish_real_splits(args.from, args.to);
  else publish_database_folder(args.from, args.to);
}

}  // namespace

void add_publish_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("publish", "Copy a Database folder (or WORK/real's splits) into PostgreSQL or SQLite");
  auto args = std::make_shared<PublishArgs>();
  cmd->add_option("--from", args->from, "Database folder, or WORK/real with --splits")->required();
  cmd->add_option("--to", args->to, "postgresql://USER@HOST/DB?schema=NAME or sqlite:FILE")->required();
  cmd->add_flag("--splits", args->splits, "publish FROM/train, valid, test to NAME_train, ... (FILE_train.db, ...)");
  cmd->add_flag("--quiet", args->quiet, "no progress output");
  cmd->callback([args] { run(*args); });
}

}  // namespace rawmed::cli
