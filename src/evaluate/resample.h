#pragma once
// Size-matched resampling for the noise floor (docs/formats/report.md, "Intervals and verdicts"):
// databases built from chosen stays of others, draws of stays grouped by patient, and the
// mean / 90% interval / verdict of a metric over resamples.
#include "evaluate/database.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace rawmed::eval {

struct StayRef {
  const Database* db;
  int32_t stay;
};

// A database holding the rows of the given stays (in that order; a stay may repeat, each copy is
// a separate stay). All sources share one schema and string pool. file_crc32 stays empty.
Database database_of_stays(std::span<const StayRef> stays, const Database& schema_source);
Database database_of_stays(const Database& db, std::span<const int32_t> stays);

// Stay indices of `db` grouped by patient id (stays with an empty patient id are their own patient),
// in first-seen order.
std::vector<std::vector<int32_t>> stays_by_patient(const Database& db);

// `n` stays drawn whole patient by whole patient: with replacement (a bootstrap), or without
// (a subsample; falls back to with replacement when `patients` hold fewer than n stays). The last
// patient drawn is cut so that exactly n stays come back (n = 0 or no patients: none).
std::vector<int32_t> draw_stays_by_patient(const std::vector<std::vector<int32_t>>& patients, size_t n,
                                           bool with_replacement, std::mt19937_64& rng);

// Patients split at random into two halves (stays of the first half, stays of the second).
std::pair<std::vector<int32_t>, std::vector<int32_t>> split_patients(const std::vector<std::vector<int32_t>>& patients,
                                                                     std::mt19937_64& rng);

// One resample of the noise floor (docs/formats/report.md): `candidate` (n = holdout stays, whole
// patients; bootstrap or subsample as `candidate_bootstrap` says) and `holdout_bootstrap` for the
// non-privacy sections; for privacy, the holdout's patients split into halves, `scored_half` and
// `nonmember_half`, and `candidate_half`, as many candidate stays as the scored half, without
// replacement. Resample r of seed s draws the same stays wherever it is made (the report, the
// release gate).
struct ResampleDraw {
  std::vector<int32_t> candidate, holdout_bootstrap, scored_half, nonmember_half, candidate_half;
};
ResampleDraw draw_resample(const Database& candidate, const Database& holdout, uint64_t seed, int r,
                           bool candidate_bootstrap);

// Mean and the 90% percentile interval (5th and 95th percentiles, linear interpolation) of the
// finite values; `n` = how many were finite. NaN when none.
struct Interval {
  double mean = NAN, lo = NAN, hi = NAN;
  size_t n = 0;
  nlohmann::json to_json() const;
};
Interval interval_of(std::span<const double> values);

// Which way a metric is better: lower, higher, closer to a target value, or no way (two-sided:
// any departure from the noise floor is a flag).
struct Direction {
  enum Kind { kLower, kHigher, kCloserTo, kTwoSided } kind = kLower;
  double target = 0;
  std::string text() const;
};

// "within the noise floor" when the intervals overlap; otherwise "worse than the noise floor" or
// "better than the noise floor" by the means (for kCloserTo: by distance of the means to the target;
// for kTwoSided: "outside the noise floor (higher)" / "(lower)").
// "not computed" when either interval is missing.
std::string verdict(const Interval& candidate, const Interval& floor, const Direction& direction);

}  // namespace rawmed::eval
