// Predictive similarity (docs/method.md, section 7): within each table, every numeric or categorical
// column in turn is predicted from the others by XGBoost, trained on real train (TRTR) or on the
// candidate (TSTR), tested on real test rows that are not exact copies of a training row.
// Categorical targets: error rate (and macro-F1); numeric targets: SMAPE (and MAE).
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "evaluate/metrics.h"
#include "evaluate/utility.h"
#include "evaluate/xgb.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace rawmed::eval {
namespace {

nlohmann::json number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

// All modelled values of a row as bytes: equal keys = duplicate rows.
std::string row_key(const Table& table, size_t row) {
  std::string key;
  for (const Column& c : table.columns) {
    if (c.is_numeric()) {
      double v = std::isnan(c.values[row]) ? NAN : c.values[row];  // one NaN bit pattern
      key.append(reinterpret_cast<const char*>(&v), sizeof v);
    } else {
      key.append(reinterpret_cast<const char*>(&c.ids[row]), sizeof(int32_t));
    }
  }
  return key;
}

// First occurrence of each distinct row, minus rows whose key is in `exclude`; then a seeded sample.
std::vector<int> distinct_rows(const Table* table, const std::vector<const std::unordered_set<std::string>*>& exclude,
                               std::unordered_set<std::string>* keys_out, int max_rows, uint64_t seed, int64_t* removed) {
  std::vector<int> rows;
  if (!table) return rows;
  std::unordered_set<std::string> seen;
  for (size_t r = 0; r < table->rows(); ++r) {
    std::string key = row_key(*table, r);
    if (!seen.insert(key).second) continue;
    bool copy = false;
    for (const auto* set : exclude) copy = copy || set->count(key);
    if (copy) {
      ++*removed;
      continue;
    }
    rows.push_back(static_cast<int>(r));
  }
  if (keys_out) *keys_out = std::move(seen);
  if (static_cast<int>(rows.size()) > max_rows) {
    std::mt19937_64 rng(seed);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(static_cast<size_t>(max_rows));
    std::sort(rows.begin(), rows.end());
  }
  return rows;
}

// How one column becomes features, fixed from the real train rows: a numeric column is one
// feature; a categorical one is its frequency rank (unseen: missing) plus a one-hot of the top ones.
struct ColumnEncoding {
  std::string name;
  bool numeric = false;
  std::unordered_map<int32_t, int> rank;
  std::vector<int32_t> one_hot;
  int start = 0, width = 0;
};

std::vector<ColumnEncoding> column_encodings(const Table& train, std::span<const int> rows, int one_hot_categories) {
  std::vector<ColumnEncoding> out;
  int start = 0;
  for (const Column& c : train.columns) {
    if (c.type == ColumnType::kText) continue;
    ColumnEncoding e;
    e.name = c.name;
    e.numeric = c.is_numeric();
    e.start = start;
    if (e.numeric) {
      e.width = 1;
    } else {
      std::unordered_map<int32_t, int64_t> counts;
      for (int r : rows)
        if (c.ids[static_cast<size_t>(r)] >= 0) ++counts[c.ids[static_cast<size_t>(r)]];
      std::vector<std::pair<int64_t, int32_t>> ranked;
      for (auto [id, n] : counts) ranked.push_back({-n, id});
      std::sort(ranked.begin(), ranked.end());
      for (size_t i = 0; i < ranked.size(); ++i) e.rank[ranked[i].second] = static_cast<int>(i);
      for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < one_hot_categories; ++i)
        e.one_hot.push_back(ranked[i].second);
      e.width = 1 + static_cast<int>(e.one_hot.size());
    }
    start += e.width;
    out.push_back(std::move(e));
  }
  return out;
}

xgb::Matrix encode_rows(const Table& table, std::span<const int> rows, const std::vector<ColumnEncoding>& encodings) {
  int cols = encodings.empty() ? 0 : encodings.back().start + encodings.back().width;
  xgb::Matrix m(static_cast<int64_t>(rows.size()), cols);
  for (const auto& e : encodings) {
    int c = table.column_index(e.name);
    if (c < 0) continue;  // all missing
    const Column& column = table.columns[static_cast<size_t>(c)];
    for (size_t i = 0; i < rows.size(); ++i) {
      size_t r = static_cast<size_t>(rows[i]);
      float* out = &m.at(static_cast<int64_t>(i), e.start);
      if (e.numeric) {
        if (column.is_numeric()) out[0] = static_cast<float>(column.values[r]);
        continue;
      }
      int32_t id = column.is_numeric() ? -1 : column.ids[r];
      for (size_t k = 0; k < e.one_hot.size(); ++k) out[1 + k] = id >= 0 && id == e.one_hot[k] ? 1.0f : 0.0f;
      auto it = e.rank.find(id);
      if (id >= 0 && it != e.rank.end()) out[0] = static_cast<float>(it->second);
    }
  }
  return m;
}

// The rows of `m` in `rows`, without the feature columns [skip_start, skip_start + skip_width).
xgb::Matrix without_columns(const xgb::Matrix& m, std::span<const int> rows, int skip_start, int skip_width) {
  xgb::Matrix out(static_cast<int64_t>(rows.size()), m.cols - skip_width);
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* in = m.row(rows[i]);
    float* o = out.row(static_cast<int64_t>(i));
    std::copy(in, in + skip_start, o);
    std::copy(in + skip_start + skip_width, in + m.cols, o + skip_start);
  }
  return out;
}

double macro_f1(std::span<const int> truth, std::span<const int> predicted, int classes) {
  std::vector<double> f1;
  for (int c = 0; c < classes; ++c) {
    double tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      tp += truth[i] == c && predicted[i] == c;
      fp += truth[i] != c && predicted[i] == c;
      fn += truth[i] == c && predicted[i] != c;
    }
    if (tp + fp + fn > 0) f1.push_back(2 * tp / (2 * tp + fp + fn));
  }
  return f1.empty() ? NAN : mean(f1);
}

struct Target {
  const ColumnEncoding* encoding;
  std::unordered_map<int32_t, int> classes;  // categorical: pool id -> class
};

// Target values of `rows`: a class id, or the number; rows without a usable target are left out.
struct Labelled {
  std::vector<int> rows;  // positions in the encoded matrix
  std::vector<float> y;
};

Labelled labelled_rows(const Table* table, std::span<const int> rows, const Target& target) {
  Labelled out;
  if (!table) return out;
  int c = table->column_index(target.encoding->name);
  if (c < 0) return out;
  const Column& column = table->columns[static_cast<size_t>(c)];
  for (size_t i = 0; i < rows.size(); ++i) {
    size_t r = static_cast<size_t>(rows[i]);
    if (target.encoding->numeric) {
      if (column.is_numeric() && !std::isnan(column.values[r])) {
        out.rows.push_back(static_cast<int>(i));
        out.y.push_back(static_cast<float>(column.values[r]));
      }
    } else if (!column.is_numeric()) {
      auto it = target.classes.find(column.ids[r]);
      if (it != target.classes.end()) {
        out.rows.push_back(static_cast<int>(i));
        out.y.push_back(static_cast<float>(it->second));
      }
    }
  }
  return out;
}

// Trains on (x, y) and scores the test rows; an empty training set gives the worst score.
nlohmann::json fit_and_score(const xgb::Matrix& train_x, const Labelled& train, const xgb::Matrix& test_x,
                             const std::vector<float>& test_y, const Target& target, const PredsimConfig& config) {
  nlohmann::json out = {{"train_rows", train.rows.size()}};
  const bool numeric = target.encoding->numeric;
  if (train.rows.empty()) {
    out["note"] = "no training rows with this target: worst score";
    if (numeric) out["smape"] = 200.0;
    else out["error_rate"] = 1.0;
    return out;
  }
  const int classes = static_cast<int>(target.classes.size());
  xgb::Params params;
  params.objective = numeric ? xgb::Objective::kRegression
                             : classes == 2 ? xgb::Objective::kBinary : xgb::Objective::kMulticlass;
  params.num_class = classes;
  params.trees = config.xgb.trees;
  params.max_depth = config.xgb.max_depth;
  params.learning_rate = config.xgb.learning_rate;
  params.threads = config.xgb.threads;
  params.seed = config.seed;
  xgb::Booster booster(train_x, train.y, params);
  std::vector<float> p = booster.predict(test_x);
  if (numeric) {
    std::vector<double> truth(test_y.begin(), test_y.end()), predicted(p.begin(), p.end());
    double mae = 0;
    for (size_t i = 0; i < truth.size(); ++i) mae += std::abs(truth[i] - predicted[i]);
    out["smape"] = number(smape(truth, predicted));
    out["mae"] = number(mae / static_cast<double>(truth.size()));
    return out;
  }
  std::vector<int> truth, predicted;
  double errors = 0;
  for (size_t i = 0; i < test_y.size(); ++i) {
    int pred = 0;
    if (classes == 2) {
      pred = p[i] > 0.5f ? 1 : 0;
    } else {
      const float* row = &p[i * static_cast<size_t>(classes)];
      pred = static_cast<int>(std::max_element(row, row + classes) - row);
    }
    truth.push_back(static_cast<int>(test_y[i]));
    predicted.push_back(pred);
    errors += pred != truth.back();
  }
  out["error_rate"] = errors / static_cast<double>(truth.size());
  out["macro_f1"] = number(macro_f1(truth, predicted, classes));
  return out;
}

const Table* find_table(const Database& db, const std::string& name) {
  int t = db.table_index(name);
  return t < 0 ? nullptr : &db.tables[static_cast<size_t>(t)];
}

}  // namespace

nlohmann::json evaluate_predictive_similarity(const Database& train, const Database& test,
                                              const Database& candidate, const StringPool& pool,
                                              const PredsimConfig& config) {
  (void)pool;  // categorical values are compared by pool id
  if (same_data(candidate, test))
    return {{"not_computed",
             "the candidate is the real test split itself: every test row is a copy of a candidate row (pass the "
             "valid split, or synthetic data, as the candidate)"}};
  auto start = Clock::now();
  nlohmann::json tables = nlohmann::json::array(), columns = nlohmann::json::array();
  std::vector<double> smape_trtr, smape_tstr, error_trtr, error_tstr;
  Progress progress("predictive similarity", static_cast<int64_t>(train.tables.size()), "tables");
  for (const Table& real : train.tables) {
    const Table* cand = find_table(candidate, real.name());
    const Table* held_out = find_table(test, real.name());
    std::unordered_set<std::string> train_keys, candidate_keys;
    int64_t removed = 0, ignored = 0;
    std::vector<int> train_rows = distinct_rows(&real, {}, &train_keys, config.max_rows, config.seed, &ignored);
    std::vector<int> cand_rows = distinct_rows(cand, {}, &candidate_keys, config.max_rows, config.seed + 1, &ignored);
    std::vector<int> test_rows =
        distinct_rows(held_out, {&train_keys, &candidate_keys}, nullptr, config.max_rows, config.seed + 2, &removed);
    tables.push_back({{"table", real.name()},
                      {"real_train_rows", train_rows.size()},
                      {"candidate_rows", cand_rows.size()},
                      {"real_test_rows", test_rows.size()},
                      {"test_rows_removed_as_copies", removed}});
    std::vector<ColumnEncoding> encodings = column_encodings(real, train_rows, config.one_hot_categories);
    xgb::Matrix train_x = encode_rows(real, train_rows, encodings);
    xgb::Matrix cand_x = cand ? encode_rows(*cand, cand_rows, encodings) : xgb::Matrix(0, train_x.cols);
    xgb::Matrix test_x = held_out ? encode_rows(*held_out, test_rows, encodings) : xgb::Matrix(0, train_x.cols);

    for (const ColumnEncoding& e : encodings) {
      nlohmann::json result = {{"table", real.name()}, {"column", e.name}, {"type", e.numeric ? "numeric" : "categorical"}};
      Target target{&e, {}};
      if (!e.numeric) {
        // Classes: real-train values with at least min_class_share of the rows, the most frequent first.
        const Column& column = real.columns[static_cast<size_t>(real.column_index(e.name))];
        int64_t nonnull = 0;
        std::unordered_map<int32_t, int64_t> counts;
        for (int r : train_rows)
          if (column.ids[static_cast<size_t>(r)] >= 0) ++nonnull, ++counts[column.ids[static_cast<size_t>(r)]];
        std::vector<std::pair<int64_t, int32_t>> ranked;
        for (auto [id, n] : counts)
          if (static_cast<double>(n) >= config.min_class_share * static_cast<double>(nonnull)) ranked.push_back({-n, id});
        std::sort(ranked.begin(), ranked.end());
        for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < config.max_classes; ++i)
          target.classes[ranked[i].second] = static_cast<int>(i);
        result["classes"] = target.classes.size();
        if (target.classes.size() < 2) {
          result["skipped"] = "fewer than 2 classes in real train";
          columns.push_back(result);
          continue;
        }
      }
      Labelled trtr = labelled_rows(&real, train_rows, target);
      Labelled tstr = labelled_rows(cand, cand_rows, target);
      Labelled held = labelled_rows(held_out, test_rows, target);
      if (trtr.rows.size() < 10 || held.rows.empty()) {
        result["skipped"] = fmt::format("{} real train and {} real test rows with this target", trtr.rows.size(),
                                        held.rows.size());
        columns.push_back(result);
        continue;
      }
      xgb::Matrix test_features = without_columns(test_x, held.rows, e.start, e.width);
      result["test_rows"] = held.rows.size();
      result["trtr"] = fit_and_score(without_columns(train_x, trtr.rows, e.start, e.width), trtr, test_features,
                                     held.y, target, config);
      result["tstr"] = fit_and_score(without_columns(cand_x, tstr.rows, e.start, e.width), tstr, test_features,
                                     held.y, target, config);
      const char* metric = e.numeric ? "smape" : "error_rate";
      if (result["trtr"][metric].is_number() && result["tstr"][metric].is_number()) {
        (e.numeric ? smape_trtr : error_trtr).push_back(result["trtr"][metric].get<double>());
        (e.numeric ? smape_tstr : error_tstr).push_back(result["tstr"][metric].get<double>());
      }
      columns.push_back(result);
    }
    progress.advance();
  }
  progress.finish();
  double seconds = seconds_since(start);
  nlohmann::json headline = {{"numeric_columns", smape_trtr.size()},
                             {"trtr_smape_mean", number(mean(smape_trtr))},
                             {"tstr_smape_mean", number(mean(smape_tstr))},
                             {"categorical_columns", error_trtr.size()},
                             {"trtr_error_rate_mean", number(mean(error_trtr))},
                             {"tstr_error_rate_mean", number(mean(error_tstr))}};
  log_info("predictive similarity: SMAPE TRTR {:.1f} / TSTR {:.1f} ({} numeric), error TRTR {:.3f} / TSTR {:.3f} "
           "({} categorical) ({:.1f} s)",
           mean(smape_trtr), mean(smape_tstr), smape_trtr.size(), mean(error_trtr), mean(error_tstr),
           error_trtr.size(), seconds);
  return {{"headline", headline},
          {"method",
           "per table, XGBoost predicts each column from the others; rows deduplicated, real test rows equal to a "
           "train or candidate row removed; the same real test rows score both models"},
          {"config",
           {{"trees", config.xgb.trees}, {"max_depth", config.xgb.max_depth}, {"learning_rate", config.xgb.learning_rate},
            {"threads", config.xgb.threads}, {"seed", config.seed}, {"max_rows", config.max_rows},
            {"max_classes", config.max_classes}, {"min_class_share", config.min_class_share},
            {"one_hot_categories", config.one_hot_categories}}},
          {"tables", tables},
          {"columns", columns},
          {"seconds", seconds}};
}

}  // namespace rawmed::eval
