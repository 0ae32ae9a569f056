#pragma once
// The cohort row of a synthetic stay (docs/formats/generate.md, "Cohort rows"). Gender and age
// group come from the temporal model when it is conditioned (they are the first tokens of every
// sampled stay); otherwise from a random train stay. The rest is an empirical model of the real
// train cohort (WORK/real/train/cohort.csv.gz), k-protected:
//   - age: a train age of the same gender and age group held by at least k train patients;
//   - admission weekday and hour of day: each drawn from its own random train stay (datetime
//     datasets; minute datasets have no clock);
//   - length of stay: that of a random train stay of the same gender and age group that lasted at
//     least until the last generated event, rounded up to a whole hour.
// Torch-free.
#include "ingest/schema.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace rawmed::generate {

struct CohortDraw {
  std::string gender, age;        // as written ("" when no value may be written)
  int64_t intime_offset_minutes = 0;  // from the anchor (datetime datasets: sets weekday and hour)
  int64_t length_minutes = 0;     // outtime - intime
};

class CohortModel {
 public:
  // `anchor_seconds`: the [generate] anchor (datetime datasets); `k`: min_patients_for_token.
  CohortModel(const std::filesystem::path& train_cohort, TimeKind time_kind, int64_t anchor_seconds, int k);
  // `gender` / `age_group` from a conditioned model ("" when unconditioned: both come from a random
  // train stay); `last_minute`: the stay's last event minute.
  CohortDraw draw(std::string gender, std::string age_group, int64_t last_minute, std::mt19937_64& rng) const;
  size_t train_stays() const { return stays_.size(); }

 private:
  struct TrainStay {
    std::string gender;
    double age = 0;
    int group = 0;
    int64_t length_minutes = -1;    // -1: unknown
    int weekday = -1, hour = -1;    // of intime (datetime datasets)
  };
  std::string allowed_age(const std::string& gender, int group, std::mt19937_64& rng) const;
  int64_t length_at_least(const std::string& gender, int group, int64_t last_minute, std::mt19937_64& rng) const;

  bool datetime_ = false;
  int64_t anchor_seconds_ = 0;
  int k_ = 5;
  std::vector<TrainStay> stays_;
  std::map<std::string, bool> gender_allowed_;
  std::map<int64_t, bool> age_allowed_;  // integer age -> held by >= k patients
};

}  // namespace rawmed::generate
