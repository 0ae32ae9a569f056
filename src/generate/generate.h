#pragma once
// `rawmed generate`: sample stays with the temporal model, decode their codes with the codec,
// validate every stay (regenerating rejected ones) and write the synthetic Database folder.
// Torch-free interface (the models are reached through codec.h / temporal.h).
#include "common/run_flags.h"
#include "common/config.h"
#include "common/fs.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace rawmed::generate {

// seed, device, threads (and quiet) come from the shared flags.
struct GenerateArgs : RunFlags {
  std::filesystem::path work;
  std::filesystem::path config;  // empty: WORK/config.toml
  std::filesystem::path out;     // empty: WORK/synthetic
  int64_t n = 0;                 // valid stays wanted (0: as many as the real train split)
  // Overrides of the [generate] section.
  std::optional<double> temperature, top_p;
  std::optional<int> top_k;
  bool no_gate = false;
  // Conditional generation (a temporal model trained with [temporal] condition = true):
  std::string condition;       // "gender=F,age=65-79": every stay of that gender and age group
  std::filesystem::path like;  // a cohort file: one stay per row, with its gender and age group
  // "I/N": write part I of N (generate/shard.h) to OUT, a folder, without the release gate;
  // `rawmed merge` joins the parts and runs the gate on the whole database. Empty: the whole run.
  std::string shard;
};

// Runs generation, the release gate ([release], generate/release.h) and MANIFEST.json, and renames
// the output to OUT, or to OUT.rejected when the gate fails (then errors with the reasons).
// Returns the generate.json summary (also in OUT).
nlohmann::json run_generate(const GenerateArgs& args);

// What the release step of a finished database needs (generate and merge).
struct ReleaseArgs {
  std::filesystem::path work, config_path;
  std::string out;                // as given: a folder, or a database location (ingest/db_tables.h)
  std::filesystem::path out_path;  // the folder written (a staging folder for a database location)
  bool no_gate = false;
  uint64_t seed = 0;
  int threads = 0;
  nlohmann::json settings;  // MANIFEST.json "settings": seed, n and the [generate] settings
};

// The release gate on the database in `out`, then MANIFEST.json, then `out` goes to its place:
// renamed to out_path or loaded into the database when the gate passes (or is off), renamed to
// out_path.rejected with REJECTED.json otherwise (then an Error with the reasons). `summary`
// (generate.json) gets the gate's figures and is written into `out`.
void release_or_reject(AtomicDir& out, const ReleaseArgs& args, const Config& config, nlohmann::json& summary);

// The raw source tables of a config, as MANIFEST.json lists them.
std::vector<std::filesystem::path> raw_input_files(const Config& config);

}  // namespace rawmed::generate
