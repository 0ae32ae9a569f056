#pragma once
// `rawmed generate`: sample stays with the temporal model, decode their codes with the codec,
// validate every stay (regenerating rejected ones) and write the synthetic Database folder.
// Torch-free interface (the models are reached through codec.h / temporal.h).
#include "common/run_flags.h"

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
  std::filesystem::path like;  // a cohort file: one stay per row, with its gender and age group  // write OUT without the release gate (recorded in MANIFEST.json)
};

// Runs generation, the release gate ([release], generate/release.h) and MANIFEST.json, and renames
// the output to OUT, or to OUT.rejected when the gate fails (then errors with the reasons).
// Returns the generate.json summary (also in OUT).
nlohmann::json run_generate(const GenerateArgs& args);

}  // namespace rawmed::generate
