#pragma once
// The cohort: one row per ICU stay that passes the rules of docs/method.md, section 1 (adult, stay at
// least as long as the window, first stay per hospital admission). The "more than 5 events in
// the window" rule is applied by prepare once events are linked.
#include "common/config.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace rawmed {

struct CohortStay {
  std::string stay_id, patient_id, admission_id;
  int64_t intime = 0;   // seconds since epoch (datetime datasets) or 0 (offset datasets)
  int64_t outtime = 0;  // seconds since epoch, or minutes after admission
  std::string intime_text, outtime_text;  // as written in the cohort file
  double age = 0;
  std::string gender;
};

struct Cohort {
  std::vector<CohortStay> stays;
  std::vector<std::pair<std::string, int64_t>> funnel;  // rule -> stays left after it

  // Index of a stay by stay id or admission id (unique: one stay per admission), -1 if absent.
  int find(const std::string& cohort_key, std::string_view id) const;
  void rebuild_index();
  std::unordered_map<std::string, int> by_stay_id, by_admission_id;
};

Cohort build_cohort(const DatasetSpec& spec);

}  // namespace rawmed
