#pragma once
// `rawmed prepare`: raw tables -> cohort -> window events -> tokens (docs/method.md, section 1).
// Writes WORK/dataset/, WORK/real/{train,valid,test}/, WORK/config.toml and WORK/prepare.json.
#include "common/config.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "text/dataset.h"

namespace rawmed {

// Returns the prepare.json summary (also written to WORK/prepare.json).
nlohmann::json prepare(const Config& config, const std::filesystem::path& work);

// Reads every row of every event table and encodes it with the vocabulary and column types of a
// prepared dataset, ignoring cohort and window: the throughput figure of bench/prepare_bench.
struct EncodeThroughput {
  int64_t rows = 0, tokens = 0;
  double seconds = 0;
};
EncodeThroughput encode_all_rows(const Config& config, const Dataset& dataset);

// Writes `config` to `path` as TOML with dataset.root made absolute, so that later stages can
// reload it from the work folder.
void write_resolved_config(const Config& config, const std::filesystem::path& path);

}  // namespace rawmed
