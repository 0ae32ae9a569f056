#pragma once
// Writes validated synthetic stays as a Database folder in the input schema
// (docs/file-formats.md "Database folder", docs/formats/generate.md). Torch-free.
#include "generate/validate.h"
#include "ingest/schema.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

namespace rawmed::generate {

struct SyntheticStay {
  std::string stay_id, patient_id, admission_id;
  std::string age, gender;  // as written to cohort.csv.gz (may be empty)
  std::vector<GenEvent> events;
  int64_t intime_offset_minutes = 0;  // intime = anchor + this (datetime datasets; minute datasets: 0)
  int64_t length_minutes = -1;        // outtime - intime; -1: the window
};

// Identifiers that can never equal a real one. If every real id is a non-negative integer, the
// synthetic ids are B+1, B+2, ... with B the smallest power of ten above every real id (so they
// have more digits than any real id); otherwise "S1", "S2", ... with as many leading 'S' as needed
// to avoid every real id.
class IdMinter {
 public:
  explicit IdMinter(const std::unordered_set<std::string>& real_ids);
  std::string id(uint64_t index) const;  // index >= 0

 private:
  bool numeric_ = true;
  uint64_t base_ = 0;
  std::string prefix_ = "S";
};

struct WriterSettings {
  DbSchema schema;  // tables, columns in file order, links, dictionaries (from WORK/real/train)
  // Source column names of the cohort ids (config [cohort]): event-table columns with these names
  // (dropped identifier columns such as subject_id) get the synthetic id; other dropped columns are null.
  std::string stay_id_column, patient_id_column, admission_id_column;
  int decimals = 4;
  int64_t anchor_seconds = 0;  // datetime datasets: every stay's intime (parse_datetime)
  // Per table with a dictionary: label -> code written back (the code most frequent in train).
  std::map<std::string, std::map<std::string, std::string>> label_to_code;
};

// Writes <table>.csv.gz for every schema table, cohort.csv.gz and schema.json into `dir` (an
// existing, empty folder, e.g. an AtomicDir's path). Returns rows written per table.
std::map<std::string, int64_t> write_database(const std::filesystem::path& dir, const WriterSettings& settings,
                                              const std::vector<SyntheticStay>& stays);

// label -> code for one dictionary: counts of each code in `train_codes` decide between codes
// sharing a label (ties: the smaller code, numerically when both are integers).
std::map<std::string, std::string> invert_dictionary(const std::map<std::string, std::string>& code_to_label,
                                                     const std::map<std::string, int64_t>& train_code_counts);

}  // namespace rawmed::generate
