// Evaluation metrics against known answers: in-memory databases with planted correlations,
// co-occurrences and shifted distributions, whose scores follow from a formula computed here.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/resample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace rawmed::eval {
namespace {

// Builds an in-memory Database: tables of numeric / categorical columns, rows added per stay.
class MemoryDb {
 public:
  explicit MemoryDb(int stays, const std::string& patient_prefix = "p", int window_hours = 12) {
    db_.schema.dataset = "memory";
    db_.schema.window_hours = window_hours;
    for (int s = 0; s < stays; ++s) {
      Stay stay;
      stay.stay_id = std::to_string(s);
      stay.patient_id = patient_prefix + std::to_string(s);
      stay.age = 40 + s % 40;
      stay.gender = s % 2 ? "F" : "M";
      db_.stays.push_back(stay);
    }
  }
  // Columns: name and type; `item` names the item column (categorical) or is empty.
  int add_table(const std::string& name, const std::vector<std::pair<std::string, ColumnType>>& columns,
                const std::string& item = "") {
    Table t;
    t.schema.name = name;
    for (const auto& [c, type] : columns) {
      Column column;
      column.name = c;
      column.type = type;
      t.columns.push_back(std::move(column));
      t.schema.types[c] = type;
      if (c == item) t.item = static_cast<int>(t.columns.size()) - 1;
    }
    db_.schema.tables.push_back(t.schema);
    db_.tables.push_back(std::move(t));
    return static_cast<int>(db_.tables.size()) - 1;
  }
  // One row: numbers for numeric columns, strings (interned) for categorical ones, in column order.
  void add_row(int table, int stay, int minute, const std::vector<double>& numbers,
               const std::vector<std::string>& categories, StringPool& pool) {
    Table& t = db_.tables[static_cast<size_t>(table)];
    t.stay.push_back(stay);
    t.minute.push_back(minute);
    size_t n = 0, c = 0;
    for (Column& column : t.columns) {
      if (column.is_numeric()) column.values.push_back(numbers.at(n++));
      else column.ids.push_back(pool.intern(categories.at(c++)));
    }
  }
  Database finish() {
    std::vector<std::vector<EventRef>> per_stay(db_.stays.size());
    for (size_t t = 0; t < db_.tables.size(); ++t)
      for (size_t r = 0; r < db_.tables[t].rows(); ++r)
        per_stay[static_cast<size_t>(db_.tables[t].stay[r])].push_back(
            {db_.tables[t].minute[r], static_cast<int32_t>(t), static_cast<int32_t>(r)});
    db_.stay_offsets = {0};
    for (auto& events : per_stay) {
      std::sort(events.begin(), events.end(), [](const EventRef& a, const EventRef& b) {
        return std::tie(a.minute, a.table, a.row) < std::tie(b.minute, b.table, b.row);
      });
      db_.events.insert(db_.events.end(), events.begin(), events.end());
      db_.stay_offsets.push_back(static_cast<int64_t>(db_.events.size()));
    }
    return std::move(db_);
  }

 private:
  Database db_;
};

constexpr auto kNum = ColumnType::kNumeric;
constexpr auto kCat = ColumnType::kCategorical;

// Pairs (x, y) with correlation rho: y = rho x + sqrt(1 - rho^2) e.
Database correlated(int stays, double rho, uint64_t seed, StringPool& pool) {
  MemoryDb m(stays);
  int t = m.add_table("vitals", {{"x", kNum}, {"y", kNum}});
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (int s = 0; s < stays; ++s) {
    double x = normal(rng), e = normal(rng);
    m.add_row(t, s, 10, {x, rho * x + std::sqrt(1 - rho * rho) * e}, {}, pool);
  }
  return m.finish();
}

TEST(EvaluateKnown, PccIsTheDifferenceOfPlantedCorrelations) {
  StringPool pool;
  EvalConfig config;
  Database real = correlated(4000, 0.8, 1, pool), other = correlated(4000, 0.2, 2, pool);
  // Independent formula: the sample Pearson r of each side, straight from the columns.
  auto r = [](const Database& db) {
    const auto& x = db.tables[0].columns[0].values;
    const auto& y = db.tables[0].columns[1].values;
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) mx += x[i] / x.size(), my += y[i] / y.size();
    for (size_t i = 0; i < x.size(); ++i)
      sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx), syy += (y[i] - my) * (y[i] - my);
    return sxy / std::sqrt(sxx * syy);
  };
  auto scores = evaluate_associations(real, other, config);
  EXPECT_NEAR(scores["pcc"].get<double>(), std::abs(r(real) - r(other)), 1e-9);
  EXPECT_NEAR(scores["pcc"].get<double>(), 0.6, 0.05);  // the planted 0.8 - 0.2
}

TEST(EvaluateKnown, IPccAveragesThePlantedPerItemDifferences) {
  StringPool pool;
  EvalConfig config;
  auto make = [&](double rho_a, double rho_b, uint64_t seed) {
    MemoryDb m(400);
    int t = m.add_table("labs", {{"item", kCat}, {"x", kNum}, {"y", kNum}}, "item");
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    for (int s = 0; s < 400; ++s)
      for (int k = 0; k < 2; ++k) {
        double rho = k == 0 ? rho_a : rho_b, x = normal(rng), e = normal(rng);
        m.add_row(t, s, 5 * k, {x, rho * x + std::sqrt(1 - rho * rho) * e}, {k == 0 ? "a" : "b"}, pool);
      }
    return m.finish();
  };
  // Item a: 0.9 vs 0.3 (difference 0.6); item b: 0 vs 0 (difference ~0). I-PCC = mean = ~0.3.
  Database real = make(0.9, 0.0, 1), other = make(0.3, 0.0, 2);
  auto scores = evaluate_associations(real, other, config);
  EXPECT_EQ(scores["ipcc_items_scored"].get<int>(), 2);
  EXPECT_NEAR(scores["ipcc"].get<double>(), 0.3, 0.06);
}

TEST(EvaluateKnown, IntertableIsOneWhenAPlantedCoOccurrenceIsLost) {
  StringPool pool;
  EvalConfig config;
  // Real: item b1 is given exactly in the stays that have a1 (phi = 1). Other: a1 in the first
  // half, b1 in the even stays: 25 of 100 stays have both, phi = (100*25 - 50*50) / 50^2 = 0.
  auto make = [&](bool together) {
    MemoryDb m(100);
    int a = m.add_table("A", {{"item", kCat}}, "item");
    int b = m.add_table("B", {{"item", kCat}}, "item");
    for (int s = 0; s < 100; ++s) {
      m.add_row(a, s, 1, {}, {s < 50 ? "a1" : "a2"}, pool);
      bool has_b1 = together ? s < 50 : s % 2 == 0;
      m.add_row(b, s, 2, {}, {has_b1 ? "b1" : "b2"}, pool);
    }
    return m.finish();
  };
  Database real = make(true), other = make(false);
  auto scores = evaluate_intertable(real, other, pool, config);
  // 2 x 2 items: phi(a1,b1) = 1 -> 0, phi(a1,b2) = -1 -> 0, phi(a2,b1) = -1 -> 0, phi(a2,b2) = 1 -> 0.
  EXPECT_NEAR(scores["intertable"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(evaluate_intertable(real, real, pool, config)["intertable"].get<double>(), 0.0, 1e-12);
}

// One numeric value per stay, drawn from N(shift, 1).
Database normal_sample(int stays, double shift, uint64_t seed, StringPool& pool, const std::string& prefix = "p") {
  MemoryDb m(stays, prefix);
  int t = m.add_table("obs", {{"x", kNum}});
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(shift, 1.0);
  for (int s = 0; s < stays; ++s) m.add_row(t, s, 0, {normal(rng)}, {}, pool);
  return m.finish();
}

// The resampled CDE of N(0.5, 1) against N(0, 1) brackets the population KS 2 Phi(0.25) - 1, and
// a same-distribution holdout's interval lies far below it: "worse than the noise floor".
TEST(EvaluateKnown, ResampledIntervalsBracketAKnownKs) {
  StringPool pool;
  EvalConfig config;
  config.min_column_values = 1;
  Database train = normal_sample(20000, 0.0, 1, pool), candidate = normal_sample(5000, 0.5, 2, pool),
           holdout = normal_sample(2000, 0.0, 3, pool);
  const double known_ks = std::erf(0.25 / std::sqrt(2.0));  // 2 Phi(0.25) - 1 = 0.1974
  auto scorer = fidelity_scorer()({train, pool, config});
  std::mt19937_64 rng(7);
  std::vector<double> syn, floor;
  auto candidate_patients = stays_by_patient(candidate), holdout_patients = stays_by_patient(holdout);
  for (int r = 0; r < 20; ++r) {
    Database c = database_of_stays(candidate, draw_stays_by_patient(candidate_patients, 2000, false, rng));
    Database b = database_of_stays(holdout, draw_stays_by_patient(holdout_patients, 2000, true, rng));
    syn.push_back(scorer->score(c, nullptr)["cde"].get<double>());
    floor.push_back(scorer->score(b, nullptr)["cde"].get<double>());
  }
  Interval si = interval_of(syn), fi = interval_of(floor);
  EXPECT_EQ(si.n, 20u);
  EXPECT_NEAR(si.mean, known_ks, 0.03);
  EXPECT_LT(si.lo, known_ks + 0.02);
  EXPECT_GT(si.hi, known_ks - 0.02);
  EXPECT_LT(fi.hi, 0.08);  // KS of a same-distribution sample of 2000: about 1.36 / sqrt(2000) at most
  EXPECT_EQ(verdict(si, fi, {Direction::kLower}), "worse than the noise floor");
  EXPECT_EQ(verdict(fi, fi, {Direction::kLower}), "within the noise floor");
}

TEST(EvaluateKnown, IntervalIsTheFifthToNinetyFifthPercentile) {
  std::vector<double> v;
  for (int i = 0; i <= 100; ++i) v.push_back(i);
  v.push_back(NAN);
  Interval i = interval_of(v);
  EXPECT_EQ(i.n, 101u);
  EXPECT_DOUBLE_EQ(i.mean, 50);
  EXPECT_DOUBLE_EQ(i.lo, 5);
  EXPECT_DOUBLE_EQ(i.hi, 95);
  EXPECT_EQ(verdict({0.5, 0.45, 0.55, 5}, {0.5, 0.4, 0.6, 5}, {Direction::kCloserTo, 0.5}), "within the noise floor");
  EXPECT_EQ(verdict({0.9, 0.85, 0.95, 5}, {0.5, 0.4, 0.6, 5}, {Direction::kCloserTo, 0.5}), "worse than the noise floor");
  EXPECT_EQ(verdict({0.1, 0.05, 0.15, 5}, {0.5, 0.4, 0.6, 5}, {Direction::kHigher}), "worse than the noise floor");
  EXPECT_EQ(verdict({0.9, 0.85, 0.95, 5}, {0.5, 0.4, 0.6, 5}, {Direction::kTwoSided}), "outside the noise floor (higher)");
  EXPECT_EQ(verdict({}, {0.5, 0.4, 0.6, 5}, {Direction::kLower}), "not computed");
}

TEST(EvaluateKnown, DrawsKeepWholePatientsAndExactSizes) {
  std::vector<std::vector<int32_t>> patients = {{0, 1, 2}, {3}, {4, 5}};
  std::mt19937_64 rng(3);
  for (int k = 0; k < 20; ++k) {
    auto sub = draw_stays_by_patient(patients, 4, false, rng);
    ASSERT_EQ(sub.size(), 4u);
    std::sort(sub.begin(), sub.end());
    EXPECT_EQ(std::unique(sub.begin(), sub.end()), sub.end());  // without replacement: no repeats
    auto boot = draw_stays_by_patient(patients, 10, true, rng);
    EXPECT_EQ(boot.size(), 10u);
  }
  EXPECT_EQ(draw_stays_by_patient(patients, 10, false, rng).size(), 10u);  // too few: with replacement
  EXPECT_TRUE(draw_stays_by_patient({}, 5, true, rng).empty());
  auto [a, b] = split_patients(patients, rng);
  EXPECT_EQ(a.size() + b.size(), 6u);
}

// Privacy counts a patient once: a patient with two stays, one of them a copy of a train stay,
// is at distance 0 from train; the copy's exact-stay share is known.
TEST(EvaluateKnown, PrivacyCountsPatientsAndExactCopies) {
  StringPool pool;
  EvalConfig config;
  Database train = normal_sample(60, 0.0, 1, pool), holdout = normal_sample(30, 0.0, 2, pool, "h");
  // Candidate: stays 0..9 of train (copies) and 10 stays of the holdout; 20 stays, 50% copies.
  std::vector<StayRef> refs;
  for (int s = 0; s < 10; ++s) refs.push_back({&train, s});
  for (int s = 0; s < 10; ++s) refs.push_back({&holdout, s});
  Database candidate = database_of_stays(refs, train);
  auto scores = evaluate_privacy(train, holdout, candidate, config);
  EXPECT_DOUBLE_EQ(scores["exact_stay_copies"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(scores["exact_event_copies"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(scores["exact_row_copies"].get<double>(), 0.5);
  EXPECT_EQ(scores["patients"]["other"].get<int>(), 20);
  // Give each copied stay the patient of a holdout-derived stay: 10 patients of two stays each.
  for (int s = 0; s < 10; ++s) candidate.stays[static_cast<size_t>(s)].patient_id = candidate.stays[static_cast<size_t>(s + 10)].patient_id;
  auto grouped = evaluate_privacy(train, holdout, candidate, config);
  EXPECT_EQ(grouped["patients"]["other"].get<int>(), 10);
  EXPECT_DOUBLE_EQ(grouped["dcr_train_median"].get<double>(), 0.0);  // every patient has a copied stay
}

}  // namespace
}  // namespace rawmed::eval
