#pragma once
// `rawmed prepare`: raw tables -> cohort -> window events -> tokens (METHOD.md section 1).
// Writes WORK/dataset/, WORK/real/{train,valid,test}/, WORK/config.toml and WORK/prepare.json.
#include "ingest/config.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace rawmed {

// Returns the prepare.json summary (also written to WORK/prepare.json).
nlohmann::json prepare(const Config& config, const std::filesystem::path& work);

// Writes `config` to `path` as TOML with dataset.root made absolute, so that later stages can
// reload it from the work folder.
void write_resolved_config(const Config& config, const std::filesystem::path& path);

}  // namespace rawmed
