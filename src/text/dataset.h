#pragma once
// The tokenized dataset written by `rawmed prepare` (docs/file-formats.md, "Dataset").
#include "text/vocab.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rawmed {

enum Split : uint8_t { kTrain = 0, kValid = 1, kTest = 2 };
const char* split_name(Split split);

struct StayInfo {
  std::string stay_id, patient_id, admission_id;
  Split split = kTrain;
  double age = 0;
  std::string gender;
};

struct Dataset {
  std::vector<uint16_t> tokens;
  std::vector<uint8_t> types, dpe;
  std::vector<uint64_t> event_offsets;  // events + 1
  std::vector<int32_t> event_minutes;
  std::vector<uint8_t> event_tables;
  std::vector<uint64_t> stay_offsets;   // stays + 1
  std::vector<StayInfo> stays;
  std::vector<std::string> table_names;
  Vocab vocab;
  nlohmann::json columns;   // columns.json
  nlohmann::json manifest;  // manifest.json (sizes, max_events_per_stay, ...)

  size_t num_events() const { return event_minutes.size(); }
  size_t num_stays() const { return stays.size(); }
  size_t event_length(size_t e) const { return event_offsets[e + 1] - event_offsets[e]; }
  int max_tokens_per_event() const { return manifest.at("max_tokens_per_event"); }
  int decimals() const { return manifest.value("decimals", 4); }
  int max_events_per_stay() const { return manifest.at("max_events_per_stay"); }
  Split event_split(size_t e) const;  // split of the stay that holds event e
  DecodedEvent decode(size_t e) const {
    return vocab.decode_event(&tokens[event_offsets[e]], &types[event_offsets[e]], event_length(e));
  }

  // Writes the folder atomically (temporary folder, then rename).
  void save(const std::filesystem::path& dir) const;
  // Loads and checks sizes; errors name the file.
  static Dataset load(const std::filesystem::path& dir);
};

}  // namespace rawmed
