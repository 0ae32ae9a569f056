// Subgroup fidelity: for each gender and for young (< 65) and old (>= 65) stays, how the
// candidate's stays of that subgroup compare with the real train stays of the same subgroup, next
// to the real holdout's stays of that subgroup (the noise floor). Two figures per subgroup: the KS
// statistic of events per stay, and the Jensen-Shannon distance of the item frequencies (events per
// (table, item), all tables pooled). Both sides are resampled at the holdout subgroup's size
// (bootstrap, whole stays) for the intervals and the verdict. With a conditioned generation
// (`rawmed generate --condition / --like`), the requested against written demographics of
// generate.json are copied beside them.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/resample.h"
#include "evaluate/table_util.h"

#include "common/fs.h"

#include <functional>
#include <map>
#include <random>

namespace rawmed::eval {

namespace {

struct Subgroup {
  std::string name;
  std::function<bool(const Stay&)> contains;
};

constexpr double kOldAge = 65;

std::vector<Subgroup> subgroups_of(const Database& train) {
  std::vector<Subgroup> out;
  std::map<std::string, int64_t> genders;
  for (const Stay& s : train.stays)
    if (!s.gender.empty()) ++genders[s.gender];
  for (const auto& [gender, n] : genders)
    out.push_back({"gender = " + gender, [g = gender](const Stay& s) { return s.gender == g; }});
  out.push_back({"age < 65", [](const Stay& s) { return !std::isnan(s.age) && s.age < kOldAge; }});
  out.push_back({"age >= 65", [](const Stay& s) { return !std::isnan(s.age) && s.age >= kOldAge; }});
  return out;
}

std::vector<int32_t> stays_in(const Database& db, const Subgroup& group) {
  std::vector<int32_t> out;
  for (size_t s = 0; s < db.stays.size(); ++s)
    if (group.contains(db.stays[s])) out.push_back(static_cast<int32_t>(s));
  return out;
}

// The subgroup's stays of one database, as the two figures need them.
struct Profile {
  std::vector<double> events_per_stay;
  std::map<std::pair<int32_t, int32_t>, double> item_events;  // (table, item id) -> events
};

Profile profile_of(const Database& db, const std::vector<int32_t>& stays) {
  Profile p;
  for (int32_t s : stays) {
    const auto events = db.stay_events(static_cast<size_t>(s));
    p.events_per_stay.push_back(static_cast<double>(events.size()));
    for (const EventRef& e : events) {
      const Table& t = db.tables[static_cast<size_t>(e.table)];
      const int32_t item = t.item >= 0 ? t.columns[static_cast<size_t>(t.item)].ids[static_cast<size_t>(e.row)] : -2;
      p.item_events[{e.table, item}] += 1;
    }
  }
  return p;
}

double item_js(const Profile& real, const Profile& other) {
  std::map<std::pair<int32_t, int32_t>, std::pair<double, double>> both;
  for (const auto& [key, n] : real.item_events) both[key].first = n;
  for (const auto& [key, n] : other.item_events) both[key].second = n;
  std::vector<double> p, q;
  for (const auto& [key, counts] : both) p.push_back(counts.first), q.push_back(counts.second);
  return p.empty() ? NAN : js_distance(p, q);
}

nlohmann::json figures(const Profile& real, const Profile& other) {
  return {{"stays", other.events_per_stay.size()},
          {"count_ks", json_number(ks_statistic(real.events_per_stay, other.events_per_stay))},
          {"item_js", json_number(item_js(real, other))}};
}

std::vector<int32_t> bootstrap(const std::vector<int32_t>& stays, size_t n, std::mt19937_64& rng) {
  std::vector<int32_t> out;
  if (stays.empty()) return out;
  std::uniform_int_distribution<size_t> pick(0, stays.size() - 1);
  for (size_t i = 0; i < n; ++i) out.push_back(stays[pick(rng)]);
  return out;
}

// `index`: the subgroup's position, which seeds its resamples.
nlohmann::json subgroup_json(const Subgroup& group, size_t index, const Database& train, const Database& holdout,
                             const Database& candidate, const EvalConfig& config) {
  const auto train_stays = stays_in(train, group), holdout_stays = stays_in(holdout, group),
             candidate_stays = stays_in(candidate, group);
  const Profile real = profile_of(train, train_stays);
  nlohmann::json out = {{"subgroup", group.name},
                        {"train_stays", train_stays.size()},
                        {"synthetic", figures(real, profile_of(candidate, candidate_stays))},
                        {"real_holdout", figures(real, profile_of(holdout, holdout_stays))}};
  if (holdout_stays.empty() || candidate_stays.empty() || train_stays.empty()) return out;
  std::map<std::string, std::vector<double>> syn, floor;
  std::mt19937_64 rng(config.seed * 1000003ULL + 7919 * (index + 1));
  for (int r = 0; r < config.resamples; ++r) {
    const nlohmann::json c = figures(real, profile_of(candidate, bootstrap(candidate_stays, holdout_stays.size(), rng)));
    const nlohmann::json h = figures(real, profile_of(holdout, bootstrap(holdout_stays, holdout_stays.size(), rng)));
    for (const char* key : {"count_ks", "item_js"}) {
      syn[key].push_back(c[key].is_number() ? c[key].get<double>() : NAN);
      floor[key].push_back(h[key].is_number() ? h[key].get<double>() : NAN);
    }
  }
  for (const char* key : {"count_ks", "item_js"}) {
    const Interval ci = interval_of(syn[key]), fi = interval_of(floor[key]);
    out["intervals"][key] = {{"synthetic", ci.to_json()},
                             {"noise_floor", fi.to_json()},
                             {"verdict", verdict(ci, fi, Direction{Direction::kLower})}};
  }
  return out;
}

}  // namespace

nlohmann::json evaluate_subgroups(const Database& train, const Database& holdout, const Database& candidate,
                                  const EvalConfig& config) {
  nlohmann::json groups = nlohmann::json::array();
  const std::vector<Subgroup> subgroups = subgroups_of(train);
  for (size_t i = 0; i < subgroups.size(); ++i)
    groups.push_back(subgroup_json(subgroups[i], i, train, holdout, candidate, config));
  nlohmann::json out = {{"subgroups", groups},
                        {"note", "per subgroup, against the real train stays of that subgroup: events-per-stay KS and "
                                 "item-frequency Jensen-Shannon distance; intervals over bootstrap resamples at the "
                                 "holdout subgroup's size"}};
  const auto generate_json = candidate.dir / "generate.json";
  if (!candidate.dir.empty() && std::filesystem::exists(generate_json)) {
    const nlohmann::json summary = nlohmann::json::parse(read_file(generate_json), nullptr, false);
    if (summary.is_object() && summary.contains("conditions")) out["conditions"] = summary["conditions"];
  }
  return out;
}

}  // namespace rawmed::eval
