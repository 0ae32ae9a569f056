#include "ingest/cohort.h"

#include "common/error.h"
#include "common/csv.h"
#include "common/datetime.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

namespace rawmed {
namespace {

int require_column(const CsvReader& csv, const std::string& name, const std::string& key) {
  int index = csv.column_index(name);
  if (index < 0) fail("{}: column '{}' (config key {}) not found in the header", csv.path(), name, key);
  return index;
}

double parse_double(std::string_view text, double fallback) {
  double value = fallback;
  auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() ? value : fallback;
}

struct PatientInfo {
  std::string gender;
  double anchor_age = NAN, anchor_year = NAN, age = NAN;
  int64_t dob = 0;
  bool has_dob = false;
};

std::unordered_map<std::string, PatientInfo> read_patients(const CohortSpec& spec) {
  std::unordered_map<std::string, PatientInfo> patients;
  if (spec.patients_file.empty()) return patients;
  CsvReader csv(spec.patients_file.string());
  int key = require_column(csv, spec.patients_key, "cohort.patients_key");
  int gender = spec.gender.empty() ? -1 : csv.column_index(spec.gender);
  int anchor_age = spec.age_kind == "anchor" ? require_column(csv, spec.anchor_age, "cohort.anchor_age") : -1;
  int anchor_year = spec.age_kind == "anchor" ? require_column(csv, spec.anchor_year, "cohort.anchor_year") : -1;
  int dob = spec.age_kind == "dob" ? require_column(csv, spec.dob, "cohort.dob") : -1;
  int age = spec.age_kind == "column" && !spec.age.empty() ? csv.column_index(spec.age) : -1;
  while (csv.next()) {
    PatientInfo info;
    if (gender >= 0) info.gender = csv.field(gender);
    if (anchor_age >= 0) info.anchor_age = parse_double(csv.field(anchor_age), NAN);
    if (anchor_year >= 0) info.anchor_year = parse_double(csv.field(anchor_year), NAN);
    if (age >= 0) info.age = parse_double(csv.field(age), NAN);
    if (dob >= 0) {
      auto t = parse_datetime(csv.field(dob));
      info.has_dob = t.has_value();
      info.dob = t.value_or(0);
    }
    patients[std::string(csv.field(key))] = info;
  }
  return patients;
}

int year_of(int64_t seconds) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{days{seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400)}}};
  return static_cast<int>(ymd.year());
}

}  // namespace

int Cohort::find(const std::string& cohort_key, std::string_view id) const {
  const auto& index = cohort_key == "stay_id" ? by_stay_id : by_admission_id;
  auto it = index.find(std::string(id));
  return it == index.end() ? -1 : it->second;
}

void Cohort::rebuild_index() {
  by_stay_id.clear();
  by_admission_id.clear();
  for (size_t i = 0; i < stays.size(); ++i) {
    by_stay_id[stays[i].stay_id] = static_cast<int>(i);
    if (!stays[i].admission_id.empty()) by_admission_id[stays[i].admission_id] = static_cast<int>(i);
  }
}

Cohort build_cohort(const DatasetSpec& spec) {
  const CohortSpec& c = spec.cohort;
  auto patients = read_patients(c);
  CsvReader csv(c.stays_file.string());
  int stay = require_column(csv, c.stay_id, "cohort.stay_id");
  int patient = require_column(csv, c.patient_id, "cohort.patient_id");
  int admission = require_column(csv, c.admission_id, "cohort.admission_id");
  int intime = c.intime.empty() ? -1 : require_column(csv, c.intime, "cohort.intime");
  int outtime = require_column(csv, c.outtime, "cohort.outtime");
  int order = c.stay_order.empty() ? intime : require_column(csv, c.stay_order, "cohort.stay_order");
  int gender = c.gender.empty() ? -1 : csv.column_index(c.gender);
  int age = c.age_kind == "column" && !c.age.empty() ? csv.column_index(c.age) : -1;
  bool datetime = spec.time_kind == TimeKind::kDatetime;

  struct Candidate {
    CohortStay stay;
    double order_key;
  };
  std::vector<Candidate> all;
  int64_t raw = 0, long_enough = 0;
  const int64_t window_minutes = int64_t{spec.window_hours} * 60;
  std::unordered_map<std::string, int64_t> line_of_stay;  // a repeated id would split its events
  while (csv.next()) {
    ++raw;
    CohortStay s;
    s.stay_id = csv.field(stay);
    if (s.stay_id.empty()) fail("{}:{}: field '{}': empty stay id", csv.path(), csv.line(), c.stay_id);
    auto [seen, first] = line_of_stay.emplace(s.stay_id, csv.line());
    if (!first)
      fail("{}:{}: field '{}': duplicate stay id \"{}\" (first on line {}); each stay must be listed once", csv.path(),
           csv.line(), c.stay_id, s.stay_id, seen->second);
    s.patient_id = csv.field(patient);
    s.admission_id = csv.field(admission);
    s.outtime_text = csv.field(outtime);
    if (datetime) {
      s.intime_text = csv.field(intime);
      auto in = parse_datetime(s.intime_text), out = parse_datetime(s.outtime_text);
      if (!in || !out) continue;  // a stay without valid times cannot be windowed
      s.intime = *in;
      s.outtime = *out;
    } else {
      s.intime_text = intime >= 0 ? std::string(csv.field(intime)) : "0";
      double out = parse_double(csv.field(outtime), NAN);
      if (std::isnan(out)) continue;
      s.outtime = static_cast<int64_t>(out);
    }
    int64_t los_minutes = datetime ? (s.outtime - s.intime) / 60 : s.outtime;
    if (spec.require_full_window && los_minutes < window_minutes) continue;
    ++long_enough;
    auto p = patients.find(s.patient_id);
    const PatientInfo* info = p == patients.end() ? nullptr : &p->second;
    if (gender >= 0) s.gender = csv.field(gender);
    else if (info) s.gender = info->gender;
    s.age = NAN;
    if (c.age_kind == "column") {
      std::string_view text = age >= 0 ? csv.field(age) : std::string_view{};
      if (age >= 0 && text == c.age_over_89_value) s.age = 90;
      else if (age >= 0) s.age = parse_double(text, NAN);
      else if (info) s.age = info->age;
    } else if (c.age_kind == "anchor" && info) {
      s.age = info->anchor_age + (year_of(s.intime) - info->anchor_year);
    } else if (c.age_kind == "dob" && info && info->has_dob) {
      s.age = static_cast<double>(s.intime - info->dob) / (365.2425 * 86400.0);
    }
    double order_key = 0;
    if (order == intime && datetime) order_key = static_cast<double>(s.intime);
    else if (order >= 0) order_key = parse_double(csv.field(order), 0);
    all.push_back({std::move(s), order_key});
  }
  Cohort cohort;
  cohort.funnel.push_back({"icu_stays", raw});
  cohort.funnel.push_back({"stay_at_least_window", long_enough});
  std::erase_if(all, [&](const Candidate& x) { return !(x.stay.age >= spec.min_age); });
  cohort.funnel.push_back({"adult", static_cast<int64_t>(all.size())});
  if (spec.first_stay_per_admission) {
    std::map<std::string, size_t> first;  // admission -> index of its first stay
    for (size_t i = 0; i < all.size(); ++i) {
      auto [it, inserted] = first.emplace(all[i].stay.admission_id, i);
      if (!inserted) {
        const Candidate& kept = all[it->second];
        if (all[i].order_key < kept.order_key ||
            (all[i].order_key == kept.order_key && all[i].stay.stay_id < kept.stay.stay_id))
          it->second = i;
      }
    }
    std::vector<bool> keep(all.size(), false);
    for (const auto& [admission_id, index] : first) keep[index] = true;
    std::vector<Candidate> kept;
    for (size_t i = 0; i < all.size(); ++i)
      if (keep[i]) kept.push_back(std::move(all[i]));
    all = std::move(kept);
    cohort.funnel.push_back({"first_stay_per_admission", static_cast<int64_t>(all.size())});
  }
  for (auto& x : all) cohort.stays.push_back(std::move(x.stay));
  cohort.rebuild_index();
  return cohort;
}

}  // namespace rawmed
