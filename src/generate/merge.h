#pragma once
// `rawmed merge PART... --out OUT`: joins the parts written by `rawmed generate --shard i/n`
// (generate/shard.h) into one database with one MANIFEST.json, then runs the release gate on it
// (docs/formats/generate.md "Sharded generation"). Torch-free interface.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace rawmed::generate {

struct MergeArgs {
  std::vector<std::filesystem::path> parts;  // every part of one run, in any order
  std::string out;                           // a folder or a database location (ingest/db_tables.h)
  bool no_gate = false;
  int threads = 0;
};

// Checks that the parts are the complete, unaltered set of one run (same count, every index once,
// same settings, config and inputs, inputs unchanged since), concatenates their tables in part
// order, sums their generate.json counts, and releases the result like `rawmed generate` does
// (release_or_reject in generate.h). Returns the merged generate.json.
nlohmann::json run_merge(const MergeArgs& args);

}  // namespace rawmed::generate
