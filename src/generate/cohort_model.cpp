#include "generate/cohort_model.h"

#include "common/error.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "temporal/layout.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace rawmed::generate {

namespace {

constexpr int64_t kWeekMinutes = 7 * 1440;

// Monday = 0 (1970-01-01 was a Thursday).
int weekday_of(int64_t seconds) {
  int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  return static_cast<int>(((days + 3) % 7 + 7) % 7);
}

int hour_of(int64_t seconds) { return static_cast<int>(((seconds % 86400) + 86400) % 86400 / 3600); }

int64_t minutes_of_week(int64_t seconds) { return weekday_of(seconds) * 1440 + ((seconds % 86400) + 86400) % 86400 / 60; }

int group_index(const std::string& age_group) {
  for (size_t g = 0; g < temporal::kAgeGroups.size(); ++g)
    if (temporal::kAgeGroups[g] == age_group) return static_cast<int>(g);
  return -1;
}

template <class T>
const T& pick(const std::vector<T>& from, std::mt19937_64& rng) {
  return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
}

}  // namespace

CohortModel::CohortModel(const std::filesystem::path& train_cohort, TimeKind time_kind, int64_t anchor_seconds, int k)
    : datetime_(time_kind == TimeKind::kDatetime), anchor_seconds_(anchor_seconds), k_(k) {
  CsvReader csv(train_cohort.string());
  const int patient = csv.column_index("patient_id"), gender = csv.column_index("gender"), age = csv.column_index("age"),
            intime = csv.column_index("intime"), outtime = csv.column_index("outtime");
  if (patient < 0 || gender < 0 || age < 0 || intime < 0 || outtime < 0)
    fail("{}: the cohort file lacks one of patient_id, gender, age, intime, outtime", train_cohort.string());
  std::map<std::string, std::set<std::string>> gender_patients;
  std::map<int64_t, std::set<std::string>> age_patients;
  while (csv.next()) {
    TrainStay s;
    s.gender = std::string(csv.field(gender));
    std::string id(csv.field(patient));
    double a = 0;
    try {
      a = std::stod(std::string(csv.field(age)));
    } catch (const std::exception&) {
      a = NAN;
    }
    if (std::isnan(a)) continue;
    s.age = a;
    s.group = temporal::age_group_of(a);
    if (datetime_) {
      auto in = parse_datetime(csv.field(intime)), out = parse_datetime(csv.field(outtime));
      if (in) s.weekday = weekday_of(*in), s.hour = hour_of(*in);
      if (in && out && *out >= *in) s.length_minutes = (*out - *in) / 60;
    } else {
      try {
        s.length_minutes = std::llround(std::stod(std::string(csv.field(outtime))) - std::stod(std::string(csv.field(intime))));
      } catch (const std::exception&) {
        s.length_minutes = -1;
      }
    }
    if (!s.gender.empty()) gender_patients[s.gender].insert(id);
    age_patients[static_cast<int64_t>(std::floor(a))].insert(id);
    stays_.push_back(std::move(s));
  }
  for (const auto& [g, p] : gender_patients) gender_allowed_[g] = static_cast<int>(p.size()) >= k_;
  for (const auto& [a, p] : age_patients) age_allowed_[a] = static_cast<int>(p.size()) >= k_;
}

std::string CohortModel::allowed_age(const std::string& gender, int group, std::mt19937_64& rng) const {
  auto allowed = [&](const TrainStay& s) { return age_allowed_.at(static_cast<int64_t>(std::floor(s.age))); };
  std::vector<double> same_cell, same_group;
  for (const auto& s : stays_) {
    if (s.group != group || !allowed(s)) continue;
    same_group.push_back(s.age);
    if (s.gender == gender) same_cell.push_back(s.age);
  }
  const auto& from = !same_cell.empty() ? same_cell : same_group;
  if (from.empty()) return "";
  return std::to_string(static_cast<int64_t>(std::floor(pick(from, rng))));
}

int64_t CohortModel::length_at_least(const std::string& gender, int group, int64_t last_minute,
                                     std::mt19937_64& rng) const {
  std::vector<int64_t> same_cell, any;
  for (const auto& s : stays_) {
    if (s.length_minutes < last_minute) continue;
    any.push_back(s.length_minutes);
    if (s.group == group && s.gender == gender) same_cell.push_back(s.length_minutes);
  }
  const auto& from = !same_cell.empty() ? same_cell : any;
  int64_t length = from.empty() ? last_minute : pick(from, rng);
  return (std::max<int64_t>(length, last_minute) + 59) / 60 * 60;
}

CohortDraw CohortModel::draw(std::string gender, std::string age_group, int64_t last_minute, std::mt19937_64& rng) const {
  CohortDraw out;
  if (stays_.empty()) {
    out.length_minutes = (last_minute + 59) / 60 * 60;
    return out;
  }
  int group = group_index(age_group);
  if (gender.empty() && group < 0) {
    const TrainStay& s = pick(stays_, rng);
    gender = s.gender;
    group = s.group;
  } else if (group < 0) {
    group = pick(stays_, rng).group;
  }
  auto g = gender_allowed_.find(gender);
  out.gender = g != gender_allowed_.end() && g->second ? gender : "";
  out.age = allowed_age(gender, group, rng);
  out.length_minutes = length_at_least(gender, group, last_minute, rng);
  if (datetime_) {
    const int weekday = pick(stays_, rng).weekday, hour = pick(stays_, rng).hour;
    if (weekday >= 0 && hour >= 0) {
      int64_t target = weekday * 1440 + hour * 60;
      out.intime_offset_minutes = ((target - minutes_of_week(anchor_seconds_)) % kWeekMinutes + kWeekMinutes) % kWeekMinutes;
    }
  }
  return out;
}

}  // namespace rawmed::generate
