#include "evaluate/resample.h"

#include "evaluate/metrics.h"
#include "evaluate/table_util.h"

#include <algorithm>
#include <unordered_map>
#include <tuple>

namespace rawmed::eval {

Database database_of_stays(std::span<const StayRef> stays, const Database& schema_source) {
  Database out;
  out.dir = schema_source.dir;
  out.schema = schema_source.schema;
  out.tables.resize(schema_source.tables.size());
  for (size_t t = 0; t < out.tables.size(); ++t) {
    const Table& src = schema_source.tables[t];
    Table& dst = out.tables[t];
    dst.schema = src.schema;
    dst.item = src.item;
    for (const Column& c : src.columns) {
      Column column;
      column.name = c.name;
      column.type = c.type;
      dst.columns.push_back(std::move(column));
    }
  }
  out.stays.reserve(stays.size());
  out.stay_offsets.reserve(stays.size() + 1);
  out.stay_offsets.push_back(0);
  for (const StayRef& ref : stays) {
    const int32_t index = static_cast<int32_t>(out.stays.size());
    out.stays.push_back(ref.db->stays[static_cast<size_t>(ref.stay)]);
    for (const EventRef& e : ref.db->stay_events(static_cast<size_t>(ref.stay))) {
      const Table& src = ref.db->tables[static_cast<size_t>(e.table)];
      Table& dst = out.tables[static_cast<size_t>(e.table)];
      const int32_t row = static_cast<int32_t>(dst.stay.size());
      dst.stay.push_back(index);
      dst.minute.push_back(src.minute[static_cast<size_t>(e.row)]);
      for (size_t c = 0; c < src.columns.size(); ++c) {
        const Column& sc = src.columns[c];
        Column& dc = dst.columns[c];
        if (sc.is_numeric()) dc.values.push_back(sc.values[static_cast<size_t>(e.row)]);
        else dc.ids.push_back(sc.ids[static_cast<size_t>(e.row)]);
      }
      out.events.push_back({e.minute, e.table, row});
    }
    out.stay_offsets.push_back(static_cast<int64_t>(out.events.size()));
  }
  return out;
}

Database database_of_stays(const Database& db, std::span<const int32_t> stays) {
  std::vector<StayRef> refs;
  refs.reserve(stays.size());
  for (int32_t s : stays) refs.push_back({&db, s});
  return database_of_stays(refs, db);
}

std::vector<std::vector<int32_t>> stays_by_patient(const Database& db) {
  std::vector<std::vector<int32_t>> patients;
  std::unordered_map<std::string, size_t> index;
  for (size_t s = 0; s < db.stays.size(); ++s) {
    const std::string& id = db.stays[s].patient_id;
    if (id.empty()) {
      patients.push_back({static_cast<int32_t>(s)});
      continue;
    }
    auto [it, fresh] = index.try_emplace(id, patients.size());
    if (fresh) patients.emplace_back();
    patients[it->second].push_back(static_cast<int32_t>(s));
  }
  return patients;
}

std::vector<int32_t> draw_stays_by_patient(const std::vector<std::vector<int32_t>>& patients, size_t n,
                                           bool with_replacement, std::mt19937_64& rng) {
  std::vector<int32_t> out;
  if (patients.empty() || n == 0) return out;
  size_t total = 0;
  for (const auto& p : patients) total += p.size();
  if (!with_replacement && total >= n) {
    std::vector<size_t> order(patients.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < order.size() && out.size() < n; ++i)
      for (int32_t s : patients[order[i]])
        if (out.size() < n) out.push_back(s);
    return out;
  }
  std::uniform_int_distribution<size_t> pick(0, patients.size() - 1);
  while (out.size() < n)
    for (int32_t s : patients[pick(rng)])
      if (out.size() < n) out.push_back(s);
  return out;
}

std::pair<std::vector<int32_t>, std::vector<int32_t>> split_patients(const std::vector<std::vector<int32_t>>& patients,
                                                                     std::mt19937_64& rng) {
  std::vector<size_t> order(patients.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::pair<std::vector<int32_t>, std::vector<int32_t>> halves;
  for (size_t i = 0; i < order.size(); ++i) {
    auto& half = i < (order.size() + 1) / 2 ? halves.first : halves.second;
    half.insert(half.end(), patients[order[i]].begin(), patients[order[i]].end());
  }
  return halves;
}

ResampleDraw draw_resample(const Database& candidate, const Database& holdout, uint64_t seed, int r,
                           bool candidate_bootstrap) {
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(r) + 1);
  const auto candidate_patients = stays_by_patient(candidate), holdout_patients = stays_by_patient(holdout);
  const size_t n = holdout.stays.size();
  ResampleDraw out;
  out.candidate = draw_stays_by_patient(candidate_patients, n, candidate_bootstrap, rng);
  out.holdout_bootstrap = draw_stays_by_patient(holdout_patients, n, true, rng);
  std::tie(out.scored_half, out.nonmember_half) = split_patients(holdout_patients, rng);
  out.candidate_half = draw_stays_by_patient(candidate_patients, out.scored_half.size(), false, rng);
  return out;
}

nlohmann::json Interval::to_json() const {
  return {{"mean", json_number(mean)}, {"lo", json_number(lo)}, {"hi", json_number(hi)}, {"resamples", n}};
}

Interval interval_of(std::span<const double> values) {
  std::vector<double> finite;
  for (double v : values)
    if (std::isfinite(v)) finite.push_back(v);
  Interval out;
  out.n = finite.size();
  if (finite.empty()) return out;
  out.mean = eval::mean(finite);
  out.lo = quantile(finite, 0.05);
  out.hi = quantile(finite, 0.95);
  return out;
}

std::string Direction::text() const {
  switch (kind) {
    case kLower: return "lower";
    case kHigher: return "higher";
    case kCloserTo: return "closer to " + nlohmann::json(target).dump();
    case kTwoSided: return "closer to the noise floor";
  }
  return "";
}

std::string verdict(const Interval& candidate, const Interval& floor, const Direction& direction) {
  if (candidate.n == 0 || floor.n == 0) return "not computed";
  if (candidate.lo <= floor.hi && floor.lo <= candidate.hi) return "within the noise floor";
  if (direction.kind == Direction::kTwoSided)
    return candidate.mean > floor.mean ? "outside the noise floor (higher)" : "outside the noise floor (lower)";
  bool worse = false;
  switch (direction.kind) {
    case Direction::kTwoSided: break;
    case Direction::kLower: worse = candidate.mean > floor.mean; break;
    case Direction::kHigher: worse = candidate.mean < floor.mean; break;
    case Direction::kCloserTo:
      worse = std::abs(candidate.mean - direction.target) > std::abs(floor.mean - direction.target);
      break;
  }
  return worse ? "worse than the noise floor" : "better than the noise floor";
}

}  // namespace rawmed::eval
