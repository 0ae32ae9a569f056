// TSTR vs TRTR utility over the config's second-half tasks ([[evaluate.utility.task]]; the bundled
// configs list the paper's 11, docs/method.md, sections 6 and 7).
// The reference trains a hierarchical Transformer on event text; we use XGBoost on a tabular
// encoding of the first half (per item: row count and last value of each numeric column), which
// trains in seconds on 2 cores and keeps the comparison TSTR vs TRTR the same.
#include "evaluate/utility.h"

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "evaluate/metrics.h"
#include "evaluate/resample.h"
#include "evaluate/xgb.h"
#include "common/config_fields.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <unordered_map>

namespace rawmed::eval {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool same_name(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

double half_window_minutes(const Database& db) { return db.schema.window_hours * 60.0 / 2.0; }

// A numeric reading of a column value (numeric columns, or text that parses as a number).
double numeric_value(const Column& column, size_t row, const StringPool& pool) {
  if (column.is_numeric()) return column.values[row];
  if (column.ids[row] < 0) return NAN;
  const std::string& text = pool.str(column.ids[row]);
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  return (end != text.c_str() && *end == '\0') ? value : NAN;
}

// Does a row's item match the task? Cached per table and item string id.
class ItemMatcher {
 public:
  ItemMatcher(const UtilityTask& task, const StringPool& pool) : task_(task), pool_(pool) {
    for (const auto& item : task.items) items_.push_back(lower(item));
    if (!task.pattern.empty()) {
      try {
        regex_ = std::regex(task.pattern, std::regex::icase | std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        fail("utility task '{}': bad pattern '{}': {}", task.name, task.pattern, e.what());
      }
    }
  }
  bool matches(const Table& table, size_t row) {
    if (table.item < 0) return false;
    const Column& column = table.columns[static_cast<size_t>(table.item)];
    if (column.is_numeric()) return matches_text(row_item(table, row, pool_));
    int32_t id = column.ids[row];
    if (id < 0) return false;
    auto [it, inserted] = cache_.try_emplace(id, false);
    if (inserted) it->second = matches_text(pool_.str(id));
    return it->second;
  }

 private:
  bool matches_text(const std::string& text) const {
    if (text.empty()) return false;
    std::string low = lower(text);
    for (const auto& item : items_)
      if (low == item) return true;
    return !task_.pattern.empty() && std::regex_search(text, regex_);
  }
  const UtilityTask& task_;
  const StringPool& pool_;
  std::vector<std::string> items_;
  std::regex regex_;
  std::unordered_map<int32_t, bool> cache_;
};

// Per table of `db`: whether the task reads it, and the value column there (-1 when none).
struct TaskTables {
  std::vector<bool> used;
  std::vector<int> value_column;
};

TaskTables task_tables(const Database& db, const UtilityTask& task) {
  TaskTables out{std::vector<bool>(db.tables.size(), false), std::vector<int>(db.tables.size(), -1)};
  for (size_t t = 0; t < db.tables.size(); ++t) {
    for (const auto& name : task.tables) out.used[t] = out.used[t] || same_name(name, db.tables[t].name());
    if (!out.used[t] || task.kind != TaskKind::kLastValueBin) continue;
    for (size_t c = 0; c < db.tables[t].columns.size(); ++c)
      if (same_name(db.tables[t].columns[c].name, task.value_column)) out.value_column[t] = static_cast<int>(c);
    if (out.value_column[t] < 0) out.used[t] = false;
  }
  return out;
}

int64_t count_matching_rows(const Database& db, const StringPool& pool, const UtilityTask& task) {
  TaskTables tables = task_tables(db, task);
  ItemMatcher matcher(task, pool);
  int64_t count = 0;
  for (size_t t = 0; t < db.tables.size(); ++t)
    if (tables.used[t])
      for (size_t r = 0; r < db.tables[t].rows(); ++r) count += matcher.matches(db.tables[t], r);
  return count;
}

// ---- the tabular encoding of a stay's first half ----

struct TableFeatures {
  std::string name;
  std::vector<std::string> numeric_columns;  // numeric modelled columns other than the item
  int count_feature = 0;                     // rows of this table in the first half
  std::unordered_map<std::string, int> item_base;  // item -> [count, last value per numeric column]
};

struct FeatureSpace {
  std::vector<TableFeatures> tables;
  int total_feature = 0;  // all rows in the first half
  int cols = 0;
};

FeatureSpace build_feature_space(const Database& db, const StringPool& pool, std::span<const int> stays,
                                 const UtilityConfig& config) {
  const double half = half_window_minutes(db);
  FeatureSpace space;
  space.cols = 1;
  std::map<std::pair<int, std::string>, int> item_stays;  // (table, item) -> stays seen in first half
  for (int s : stays) {
    std::set<std::pair<int, std::string>> seen;
    for (const EventRef& e : db.stay_events(static_cast<size_t>(s)))
      if (e.minute <= half) seen.emplace(e.table, row_item(db.tables[static_cast<size_t>(e.table)], static_cast<size_t>(e.row), pool));
    for (const auto& key : seen) ++item_stays[key];
  }
  std::vector<std::pair<int, std::pair<int, std::string>>> ranked;  // (-stays, key): most frequent first
  for (const auto& [key, n] : item_stays)
    if (n >= config.min_item_stays) ranked.push_back({-n, key});
  std::sort(ranked.begin(), ranked.end());
  if (static_cast<int>(ranked.size()) > config.max_items) ranked.resize(static_cast<size_t>(config.max_items));

  for (const Table& table : db.tables) {
    TableFeatures tf;
    tf.name = table.name();
    for (size_t c = 0; c < table.columns.size(); ++c)
      if (table.columns[c].is_numeric() && static_cast<int>(c) != table.item) tf.numeric_columns.push_back(table.columns[c].name);
    tf.count_feature = space.cols++;
    space.tables.push_back(std::move(tf));
  }
  for (const auto& [negative_stays, key] : ranked) {
    TableFeatures& tf = space.tables[static_cast<size_t>(key.first)];
    tf.item_base[key.second] = space.cols;
    space.cols += 1 + static_cast<int>(tf.numeric_columns.size());
  }
  return space;
}

xgb::Matrix encode_stays(const Database& db, const StringPool& pool, std::span<const int> stays, const FeatureSpace& space) {
  const double half = half_window_minutes(db);
  // Map this database's tables and columns onto the space (built from another database) by name.
  std::vector<const TableFeatures*> table_map(db.tables.size(), nullptr);
  std::vector<std::vector<int>> column_map(db.tables.size());
  for (size_t t = 0; t < db.tables.size(); ++t) {
    for (const auto& tf : space.tables)
      if (tf.name == db.tables[t].name()) table_map[t] = &tf;
    if (!table_map[t]) continue;
    for (const auto& name : table_map[t]->numeric_columns) {
      int c = db.tables[t].column_index(name);
      column_map[t].push_back(c >= 0 && db.tables[t].columns[static_cast<size_t>(c)].is_numeric() ? c : -1);
    }
  }
  xgb::Matrix m(static_cast<int64_t>(stays.size()), space.cols);
  for (size_t i = 0; i < stays.size(); ++i) {
    float* row = m.row(static_cast<int64_t>(i));
    row[space.total_feature] = 0;
    // Item counts stay missing (NaN) for absent items: the matrix stays sparse for XGBoost's hist.
    for (const auto& tf : space.tables) row[tf.count_feature] = 0;
    for (const EventRef& e : db.stay_events(static_cast<size_t>(stays[i]))) {
      if (e.minute > half) break;  // events are sorted by minute
      row[space.total_feature] += 1;
      const TableFeatures* tf = table_map[static_cast<size_t>(e.table)];
      if (!tf) continue;
      row[tf->count_feature] += 1;
      const Table& table = db.tables[static_cast<size_t>(e.table)];
      auto it = tf->item_base.find(row_item(table, static_cast<size_t>(e.row), pool));
      if (it == tf->item_base.end()) continue;
      row[it->second] = std::isnan(row[it->second]) ? 1 : row[it->second] + 1;
      const auto& columns = column_map[static_cast<size_t>(e.table)];
      for (size_t k = 0; k < columns.size(); ++k) {
        if (columns[k] < 0) continue;
        double v = table.columns[static_cast<size_t>(columns[k])].values[static_cast<size_t>(e.row)];
        if (!std::isnan(v)) row[it->second + 1 + static_cast<int>(k)] = static_cast<float>(v);
      }
    }
  }
  return m;
}

xgb::Matrix select_rows(const xgb::Matrix& m, std::span<const int> rows) {
  xgb::Matrix out(static_cast<int64_t>(rows.size()), m.cols);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(m.row(rows[i]), m.cols, out.row(static_cast<int64_t>(i)));
  return out;
}

double sample_std(std::span<const double> values) {
  std::vector<double> finite;
  for (double v : values)
    if (!std::isnan(v)) finite.push_back(v);
  if (finite.size() < 2) return finite.empty() ? NAN : 0.0;
  double m = mean(finite), sum = 0;
  for (double v : finite) sum += (v - m) * (v - m);
  return std::sqrt(sum / static_cast<double>(finite.size() - 1));
}

nlohmann::json number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

nlohmann::json class_counts(std::span<const int> labels, int classes) {
  std::vector<int64_t> counts(static_cast<size_t>(classes), 0);
  for (int y : labels)
    if (y >= 0) ++counts[static_cast<size_t>(y)];
  return counts;
}

// One model's (TRTR or TSTR) scores for the labelled test stays: class probabilities, row-major.
struct TaskScores {
  std::vector<float> scores;
  std::string note;  // why no model was trained, if so
};

TaskScores train_and_score(const xgb::Matrix& train_x, std::span<const int> train_labels, const xgb::Matrix& test_x,
                           int classes, const XgbSettings& settings, uint64_t seed) {
  std::vector<int> rows;
  std::vector<int64_t> counts(static_cast<size_t>(classes), 0);
  for (size_t i = 0; i < train_labels.size(); ++i)
    if (train_labels[i] >= 0) {
      rows.push_back(static_cast<int>(i));
      ++counts[static_cast<size_t>(train_labels[i])];
    }
  int present = static_cast<int>(std::count_if(counts.begin(), counts.end(), [](int64_t n) { return n > 0; }));
  const int outputs = classes == 2 ? 1 : classes;
  TaskScores out;
  if (present < 2) {
    // One class (or none) to learn from: a constant score, which ranks nothing (AUROC 0.5).
    out.note = rows.empty() ? "no labelled training stays: constant score" : "one class in the training labels: constant score";
    out.scores.assign(static_cast<size_t>(test_x.rows * outputs), 0.5f);
    return out;
  }
  std::vector<float> y;
  for (int r : rows) y.push_back(static_cast<float>(train_labels[static_cast<size_t>(r)]));
  xgb::Params params;
  params.objective = classes == 2 ? xgb::Objective::kBinary : xgb::Objective::kMulticlass;
  params.num_class = classes;
  params.trees = settings.trees;
  params.max_depth = settings.max_depth;
  params.learning_rate = settings.learning_rate;
  params.threads = settings.threads;
  params.seed = seed;
  xgb::Booster booster(select_rows(train_x, rows), y, params);
  out.scores = booster.predict(test_x);
  return out;
}

struct TaskAurocs {
  double macro = NAN, micro = NAN;
};

TaskAurocs task_aurocs(std::span<const float> scores, std::span<const int> labels, int classes) {
  TaskAurocs out;
  if (classes == 2) {
    std::vector<double> s(scores.begin(), scores.end());
    std::vector<uint8_t> y;
    for (int v : labels) y.push_back(static_cast<uint8_t>(v == 1));
    out.macro = out.micro = auroc(s, y);
    return out;
  }
  out.macro = macro_auroc(scores, labels, classes);
  // Micro: all (stay, class) pairs of the classes present in the labels, pooled.
  std::vector<bool> present(static_cast<size_t>(classes), false);
  for (int y : labels) present[static_cast<size_t>(y)] = true;
  std::vector<double> s;
  std::vector<uint8_t> y;
  for (size_t i = 0; i < labels.size(); ++i)
    for (int c = 0; c < classes; ++c)
      if (present[static_cast<size_t>(c)]) {
        s.push_back(scores[i * static_cast<size_t>(classes) + static_cast<size_t>(c)]);
        y.push_back(static_cast<uint8_t>(labels[i] == c));
      }
  out.micro = auroc(s, y);
  return out;
}

std::vector<int> all_stays(const Database& db, int cap) {
  int n = static_cast<int>(db.stays.size());
  if (cap > 0) n = std::min(n, cap);
  std::vector<int> stays(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) stays[static_cast<size_t>(i)] = i;
  return stays;
}

const char* kCandidateIsTest =
    "the candidate is the real test split itself: training on it and testing on it measures nothing, so TSTR is not "
    "computed (pass the valid split, or synthetic data, as the candidate)";

constexpr const char* kNoTasks =
    "not computed: the config lists no [[evaluate.utility.task]] (configs/mimic-iv-demo.toml and "
    "configs/eicu-demo.toml hold the paper's 11 tasks)";

const char* kind_name(TaskKind kind) { return kind == TaskKind::kGiven ? "given" : "last_value_bin"; }

std::vector<std::string> string_list(const toml::table& t, std::string_view key, std::string_view context,
                                     const std::filesystem::path& file) {
  std::vector<std::string> out;
  const toml::node* node = t.get(key);
  if (!node) return out;
  if (auto s = node->value<std::string>()) return {*s};
  const toml::array* array = node->as_array();
  if (!array) fail("{}: '{}.{}' must be a string or a list of strings", file.string(), context, key);
  for (const auto& v : *array) {
    auto s = v.value<std::string>();
    if (!s) fail("{}: '{}.{}' must be a list of strings", file.string(), context, key);
    out.push_back(*s);
  }
  return out;
}

template <typename T>
std::vector<T> number_list(const toml::table& t, std::string_view key, std::string_view context,
                           const std::filesystem::path& file) {
  std::vector<T> out;
  const toml::node* node = t.get(key);
  if (!node) return out;
  const toml::array* array = node->as_array();
  if (!array) fail("{}: '{}.{}' must be a list of numbers", file.string(), context, key);
  for (const auto& v : *array) {
    auto x = v.value<T>();
    if (!x) fail("{}: '{}.{}' must be a list of numbers", file.string(), context, key);
    out.push_back(*x);
  }
  return out;
}

void check_pattern(const std::string& pattern, std::string_view context, const std::string& at) {
  try {
    std::regex(pattern, std::regex::icase | std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    fail("{}: '{}.pattern': bad regular expression '{}': {}", at, context, pattern, e.what());
  }
}

UtilityTask parse_task(const toml::table& t, size_t index, const std::filesystem::path& file) {
  std::string context = fmt::format("evaluate.utility.task[{}]", index);
  const std::string at = fmt::format("{}:{}", file.string(), t.source().begin.line);  // where the entry starts
  check_keys(t, {"name", "kind", "tables", "items", "pattern", "value_column", "bins", "labels"}, context, file);
  UtilityTask task;
  task.name = get_string(t, "name", "", context, file);
  if (task.name.empty()) fail("{}: '{}.name' is required", at, context);
  std::string kind = get_string(t, "kind", "", context, file);
  if (kind == "given") task.kind = TaskKind::kGiven;
  else if (kind == "last_value_bin") task.kind = TaskKind::kLastValueBin;
  else fail("{}: '{}.kind' must be \"given\" or \"last_value_bin\", not \"{}\"", at, context, kind);
  task.tables = string_list(t, "tables", context, file);
  if (task.tables.empty()) fail("{}: '{}.tables' is required", at, context);
  task.items = string_list(t, "items", context, file);
  task.pattern = get_string(t, "pattern", "", context, file);
  if (task.items.empty() && task.pattern.empty()) fail("{}: '{}' needs 'items' or 'pattern'", at, context);
  if (!task.pattern.empty()) check_pattern(task.pattern, context, at);
  task.value_column = get_string(t, "value_column", "", context, file);
  task.bin_edges = number_list<double>(t, "bins", context, file);
  task.bin_labels = number_list<int>(t, "labels", context, file);
  if (task.kind == TaskKind::kLastValueBin) {
    if (task.value_column.empty() || task.bin_edges.empty())
      fail("{}: '{}' (last_value_bin) needs 'value_column' and 'bins'", at, context);
    if (!std::is_sorted(task.bin_edges.begin(), task.bin_edges.end()))
      fail("{}: '{}.bins' must be ascending", at, context);
    if (!task.bin_labels.empty()) {
      if (task.bin_labels.size() != task.bin_edges.size() + 1)
        fail("{}: '{}.labels' needs {} entries (one per bin)", at, context, task.bin_edges.size() + 1);
      std::vector<int> sorted = task.bin_labels;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i)
        if (sorted[i] != static_cast<int>(i))
          fail("{}: '{}.labels' must be a permutation of 0..{}", at, context, sorted.size() - 1);
    }
  }
  return task;
}

void check_xgb(const XgbSettings& s, std::string_view context, const std::filesystem::path& file) {
  if (s.trees < 1 || s.max_depth < 1 || s.threads < 1 || !(s.learning_rate > 0))
    fail("{}: '{}': trees, max_depth, threads must be >= 1 and learning_rate > 0", file.string(), context);
}

const toml::table* sub_table(const toml::table& evaluate, std::string_view name, const std::filesystem::path& file) {
  const toml::node* node = evaluate.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) fail("{}: 'evaluate.{}' must be a table", file.string(), name);
  return node->as_table();
}

}  // namespace

bool same_data(const Database& a, const Database& b) {
  std::error_code error;
  if (!a.dir.empty() && !b.dir.empty() && std::filesystem::equivalent(a.dir, b.dir, error)) return true;
  return !a.file_crc32.empty() && a.file_crc32 == b.file_crc32;
}

std::string row_item(const Table& table, size_t row, const StringPool& pool) {
  if (table.item < 0) return {};
  const Column& column = table.columns[static_cast<size_t>(table.item)];
  if (column.is_numeric()) return std::isnan(column.values[row]) ? std::string() : fmt::format("{}", column.values[row]);
  return column.ids[row] < 0 ? std::string() : pool.str(column.ids[row]);
}

int UtilityTask::num_classes() const {
  return kind == TaskKind::kGiven ? 2 : static_cast<int>(bin_edges.size()) + 1;
}

int UtilityTask::bin_of(double value) const {
  // Right-closed: the first edge >= value closes the bin.
  size_t bin = static_cast<size_t>(std::lower_bound(bin_edges.begin(), bin_edges.end(), value) - bin_edges.begin());
  return bin_labels.empty() ? static_cast<int>(bin) : bin_labels[bin];
}

UtilityConfig parse_utility_config(const toml::table& evaluate, const std::filesystem::path& file) {
  UtilityConfig config;
  const toml::table* t = sub_table(evaluate, "utility", file);
  if (!t) return config;
  const char* context = "evaluate.utility";
  if (t->contains("preset"))
    fail("{}: 'evaluate.utility.preset' is no longer read: list the tasks as [[evaluate.utility.task]] entries "
         "(configs/mimic-iv-demo.toml and configs/eicu-demo.toml hold the paper's 11)",
         file.string());
  apply_fields(config, *t, context, file, {"task"});
  check_xgb(config.xgb, context, file);
  if (config.seeds < 1 || config.cv_seeds < 1) fail("{}: 'evaluate.utility.seeds' and 'cv_seeds' must be >= 1", file.string());
  if (config.cv_folds < 2) fail("{}: 'evaluate.utility.cv_folds' must be >= 2", file.string());
  if (const toml::node* node = t->get("task")) {
    const toml::array* tasks = node->as_array();
    if (!tasks) fail("{}: 'evaluate.utility.task' must be an array of tables ([[evaluate.utility.task]])", file.string());
    for (size_t i = 0; i < tasks->size(); ++i) {
      const toml::table* task = (*tasks)[i].as_table();
      if (!task) fail("{}: 'evaluate.utility.task[{}]' must be a table", file.string(), i);
      config.tasks.push_back(parse_task(*task, i, file));
      for (size_t j = 0; j < i; ++j)
        if (config.tasks[j].name == config.tasks[i].name)
          fail("{}:{}: 'evaluate.utility.task[{}].name': '{}' is already task[{}]", file.string(),
               task->source().begin.line, i, config.tasks[i].name, j);
    }
  }
  return config;
}

PredsimConfig parse_predsim_config(const toml::table& evaluate, const std::filesystem::path& file) {
  PredsimConfig config;
  const toml::table* t = sub_table(evaluate, "predsim", file);
  if (!t) return config;
  const char* context = "evaluate.predsim";
  apply_fields(config, *t, context, file);
  check_xgb(config.xgb, context, file);
  if (config.max_rows < 10 || config.max_classes < 2)
    fail("{}: 'evaluate.predsim': max_rows must be >= 10 and max_classes >= 2", file.string());
  return config;
}

std::vector<int> extract_task_labels(const Database& db, const StringPool& pool, const UtilityTask& task,
                                     int min_first_half_events) {
  const double half = half_window_minutes(db);
  TaskTables tables = task_tables(db, task);
  ItemMatcher matcher(task, pool);
  std::vector<int> labels(db.stays.size(), -1);
  for (size_t s = 0; s < db.stays.size(); ++s) {
    int first_half_events = 0;
    bool has_table_rows = false, given = false;
    double last = NAN;
    for (const EventRef& e : db.stay_events(s)) {
      if (e.minute <= half) ++first_half_events;
      size_t t = static_cast<size_t>(e.table), row = static_cast<size_t>(e.row);
      if (!tables.used[t]) continue;
      has_table_rows = true;
      if (e.minute <= half || e.minute > 2 * half || !matcher.matches(db.tables[t], row)) continue;
      if (task.kind == TaskKind::kGiven) {
        given = true;
      } else {
        double v = numeric_value(db.tables[t].columns[static_cast<size_t>(tables.value_column[t])], row, pool);
        if (!std::isnan(v)) last = v;  // events are in time order: the last one wins
      }
    }
    if (first_half_events < min_first_half_events) continue;
    if (task.kind == TaskKind::kGiven) {
      if (has_table_rows) labels[s] = given ? 1 : 0;  // stays without rows in the table get no label
    } else if (!std::isnan(last)) {
      labels[s] = task.bin_of(last);
    }
  }
  return labels;
}

double smape(std::span<const double> truth, std::span<const double> predicted) {
  if (truth.empty() || truth.size() != predicted.size()) return NAN;
  double sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    double denominator = std::abs(truth[i]) + std::abs(predicted[i]);
    if (denominator > 0) sum += std::abs(truth[i] - predicted[i]) / denominator;
  }
  return 200.0 * sum / static_cast<double>(truth.size());
}

double macro_auroc(std::span<const float> scores, std::span<const int> labels, int classes) {
  std::vector<double> per_class;
  for (int c = 0; c < classes; ++c) {
    std::vector<double> s;
    std::vector<uint8_t> y;
    for (size_t i = 0; i < labels.size(); ++i) {
      s.push_back(scores[i * static_cast<size_t>(classes) + static_cast<size_t>(c)]);
      y.push_back(static_cast<uint8_t>(labels[i] == c));
    }
    double a = auroc(s, y);
    if (!std::isnan(a)) per_class.push_back(a);
  }
  return per_class.empty() ? NAN : mean(per_class);
}

namespace {

// Whether a task can be scored on this dataset at all; the reason when not.
std::string unavailable_reason(const Database& train, const Database& real, const StringPool& pool, const UtilityTask& task) {
  bool table_present = false;
  for (const auto& name : task.tables)
    for (const auto& t : train.tables) table_present = table_present || same_name(name, t.name());
  if (!table_present) return fmt::format("table {} not in this dataset", fmt::join(task.tables, "/"));
  if (count_matching_rows(real, pool, task) == 0) return "no real row has a matching item";
  return "";
}

// Patient-grouped folds: fold of each stay of `db` (patients shuffled with `seed`, dealt round-robin).
std::vector<int> patient_folds(const Database& db, int folds, uint64_t seed) {
  auto patients = stays_by_patient(db);
  std::mt19937_64 rng(seed);
  std::shuffle(patients.begin(), patients.end(), rng);
  std::vector<int> fold(db.stays.size(), 0);
  for (size_t p = 0; p < patients.size(); ++p)
    for (int32_t s : patients[p]) fold[static_cast<size_t>(s)] = static_cast<int>(p % static_cast<size_t>(folds));
  return fold;
}

nlohmann::json interval_json(std::span<const double> values) {
  std::vector<double> finite;
  for (double v : values)
    if (std::isfinite(v)) finite.push_back(v);
  if (finite.empty()) return nullptr;
  return {{"mean", mean(finite)}, {"lo", quantile(finite, 0.05)}, {"hi", quantile(finite, 0.95)}, {"resamples", finite.size()}};
}

// Per fold (or seed): TSTR / TRTR of the mean AUROCs.
std::vector<double> ratios(std::span<const double> tstr, std::span<const double> trtr) {
  std::vector<double> out;
  for (size_t i = 0; i < std::min(tstr.size(), trtr.size()); ++i) out.push_back(trtr[i] > 0 ? tstr[i] / trtr[i] : NAN);
  return out;
}

}  // namespace

// Cross-validated utility: the real stays (train + holdout) in patient-grouped folds; for each
// fold, TRTR trains on the other folds and TSTR on the whole candidate, both tested on the fold.
static nlohmann::json evaluate_utility_cv(const Database& train, const Database& holdout, const Database& candidate,
                                   const StringPool& pool, const UtilityConfig& config, const std::vector<UtilityTask>& tasks) {
  auto start = Clock::now();
  std::vector<StayRef> refs;
  for (const Database* part : {&train, &holdout})
    for (size_t s = 0; s < part->stays.size(); ++s) refs.push_back({part, static_cast<int32_t>(s)});
  const Database real = database_of_stays(refs, train);
  const int K = config.cv_folds;
  const std::vector<int> fold = patient_folds(real, K, config.seed);
  log_info("utility: {}-fold patient-grouped cross-validation over {} real stays (holdout {} < {}), {} tasks", K,
           real.stays.size(), holdout.stays.size(), config.cv_below_stays, tasks.size());
  std::vector<int> real_stays = all_stays(real, 0), candidate_stays = all_stays(candidate, config.max_train_stays);
  FeatureSpace tstr_space = build_feature_space(candidate, pool, candidate_stays, config);
  xgb::Matrix tstr_x = encode_stays(candidate, pool, candidate_stays, tstr_space);
  xgb::Matrix real_tstr_x = encode_stays(real, pool, real_stays, tstr_space);
  std::vector<std::vector<int>> train_rows(static_cast<size_t>(K)), test_rows(static_cast<size_t>(K));
  for (size_t s = 0; s < real.stays.size(); ++s)
    for (int f = 0; f < K; ++f) (fold[s] == f ? test_rows : train_rows)[static_cast<size_t>(f)].push_back(static_cast<int>(s));
  // Like with like: TRTR trains on no more real stays than TSTR has candidate stays.
  std::mt19937_64 rng(config.seed + 17);
  for (auto& rows : train_rows)
    if (rows.size() > candidate_stays.size()) {
      std::shuffle(rows.begin(), rows.end(), rng);
      rows.resize(candidate_stays.size());
      std::sort(rows.begin(), rows.end());
    }
  std::vector<xgb::Matrix> real_trtr_x;
  for (int f = 0; f < K; ++f)
    real_trtr_x.push_back(encode_stays(real, pool, real_stays, build_feature_space(real, pool, train_rows[static_cast<size_t>(f)], config)));

  nlohmann::json task_results = nlohmann::json::array();
  std::vector<std::vector<double>> fold_trtr(static_cast<size_t>(K)), fold_tstr(static_cast<size_t>(K));
  std::vector<std::string> applies, not_available, too_few_labels;
  Progress progress("utility tasks (cross-validated)", static_cast<int64_t>(tasks.size()), "tasks");
  for (const UtilityTask& task : tasks) {
    const int classes = task.num_classes();
    nlohmann::json result = {{"name", task.name}, {"kind", kind_name(task.kind)}, {"classes", classes}, {"tables", task.tables}};
    std::string reason = unavailable_reason(train, real, pool, task);
    if (!reason.empty()) {
      result["available"] = false;
      result["reason"] = reason;
      not_available.push_back(task.name);
      task_results.push_back(result);
      progress.advance();
      continue;
    }
    result["available"] = true;
    std::vector<int> real_y = extract_task_labels(real, pool, task, config.min_first_half_events);
    std::vector<int> cand_all = extract_task_labels(candidate, pool, task, config.min_first_half_events);
    std::vector<int> cand_y(cand_all.begin(), cand_all.begin() + static_cast<long>(candidate_stays.size()));
    nlohmann::json real_counts = class_counts(real_y, classes);
    result["labels"] = {{"real", real_counts}, {"candidate", class_counts(cand_y, classes)}};
    int qualifying = 0;
    for (int64_t n : real_counts.get<std::vector<int64_t>>()) qualifying += n >= config.min_test_positives;
    const bool averaged = qualifying >= 2;
    result["averaged"] = averaged;
    if (!averaged) {
      result["reason"] = fmt::format("too few labels: {} class(es) with >= {} real stays (need 2)", qualifying,
                                     config.min_test_positives);
      too_few_labels.push_back(task.name);
    } else {
      applies.push_back(task.name);
    }
    std::vector<double> trtr_folds, tstr_folds;
    // TSTR trains on the same data for every fold: one model per seed scores every real stay.
    std::vector<TaskScores> tstr_scores;
    for (int k = 0; k < config.cv_seeds; ++k)
      tstr_scores.push_back(train_and_score(tstr_x, cand_y, real_tstr_x, classes, config.xgb, config.seed + static_cast<uint64_t>(k)));
    const size_t outputs = classes == 2 ? 1 : static_cast<size_t>(classes);
    for (int f = 0; f < K; ++f) {
      std::vector<int> rows, y;
      for (int s : test_rows[static_cast<size_t>(f)])
        if (real_y[static_cast<size_t>(s)] >= 0) rows.push_back(s), y.push_back(real_y[static_cast<size_t>(s)]);
      std::vector<int> fold_train_y(real.stays.size(), -1);
      for (int s : train_rows[static_cast<size_t>(f)]) fold_train_y[static_cast<size_t>(s)] = real_y[static_cast<size_t>(s)];
      std::vector<double> trtr_seeds, tstr_seeds;
      if (!rows.empty())
        for (int k = 0; k < config.cv_seeds; ++k) {
          const xgb::Matrix& x = real_trtr_x[static_cast<size_t>(f)];
          TaskScores trtr = train_and_score(x, fold_train_y, select_rows(x, rows), classes, config.xgb,
                                            config.seed + static_cast<uint64_t>(k));
          trtr_seeds.push_back(task_aurocs(trtr.scores, y, classes).macro);
          std::vector<float> tstr;
          for (int s : rows)
            tstr.insert(tstr.end(), tstr_scores[static_cast<size_t>(k)].scores.begin() + static_cast<long>(s * outputs),
                        tstr_scores[static_cast<size_t>(k)].scores.begin() + static_cast<long>((s + 1) * outputs));
          tstr_seeds.push_back(task_aurocs(tstr, y, classes).macro);
        }
      trtr_folds.push_back(mean(trtr_seeds));
      tstr_folds.push_back(mean(tstr_seeds));
      if (averaged) {
        fold_trtr[static_cast<size_t>(f)].push_back(trtr_folds.back());
        fold_tstr[static_cast<size_t>(f)].push_back(tstr_folds.back());
      }
    }
    result["trtr"] = {{"auroc_mean", number(mean(trtr_folds))}, {"auroc_per_fold", trtr_folds},
                      {"auroc_interval", interval_json(trtr_folds)}};
    result["tstr"] = {{"auroc_mean", number(mean(tstr_folds))}, {"auroc_per_fold", tstr_folds},
                      {"auroc_interval", interval_json(tstr_folds)}};
    if (!tstr_scores.front().note.empty()) result["tstr"]["note"] = tstr_scores.front().note;
    task_results.push_back(result);
    progress.advance();
  }
  progress.finish();
  std::vector<double> trtr_means, tstr_means;
  for (int f = 0; f < K; ++f) {
    trtr_means.push_back(mean(fold_trtr[static_cast<size_t>(f)]));
    tstr_means.push_back(mean(fold_tstr[static_cast<size_t>(f)]));
  }
  std::vector<double> fold_ratios = ratios(tstr_means, trtr_means);
  const double trtr = mean(trtr_means), tstr = mean(tstr_means);
  nlohmann::json headline = {{"mode", "cross-validation"},
                             {"folds", K},
                             {"tasks_averaged", applies.size()},
                             {"tasks_applying", applies},
                             {"trtr_auroc_mean", number(trtr)},
                             {"tstr_auroc_mean", number(tstr)},
                             {"tstr_trtr_ratio", number(trtr > 0 ? tstr / trtr : NAN)},
                             {"trtr_interval", interval_json(trtr_means)},
                             {"tstr_interval", interval_json(tstr_means)},
                             {"ratio_interval", interval_json(fold_ratios)},
                             {"per_fold", {{"trtr", trtr_means}, {"tstr", tstr_means}, {"ratio", fold_ratios}}},
                             {"tasks_not_available", not_available},
                             {"tasks_too_few_labels", too_few_labels}};
  double seconds = seconds_since(start);
  log_info("utility: TRTR AUROC {:.3f}, TSTR AUROC {:.3f}, ratio {:.3f} over {} tasks, {} folds ({:.1f} s)", trtr, tstr,
           trtr > 0 ? tstr / trtr : NAN, applies.size(), K, seconds);
  return {{"headline", headline},
          {"method",
           fmt::format("patient-grouped {}-fold cross-validation over the {} real stays (train + holdout; the holdout "
                       "has fewer than {} stays): TRTR trains on the other folds (at most as many stays as the "
                       "candidate has, drawn at random), TSTR on the whole candidate, both tested on each fold; XGBoost on first-half counts and last values per item; AUROC (multi-class: "
                       "macro one-vs-rest). Intervals: 5th-95th percentile of the per-fold means. The folds include "
                       "real train stays the generator saw, so TSTR may be slightly optimistic.",
                       K, real.stays.size(), config.cv_below_stays)},
          {"stays", {{"real", real.stays.size()}, {"candidate", candidate_stays.size()}}},
          {"features", {{"tstr", tstr_space.cols}}},
          {"config",
           {{"cv_folds", K}, {"cv_seeds", config.cv_seeds}, {"seed", config.seed}, {"trees", config.xgb.trees},
            {"max_depth", config.xgb.max_depth}, {"learning_rate", config.xgb.learning_rate},
            {"threads", config.xgb.threads}, {"min_test_positives", config.min_test_positives},
            {"min_first_half_events", config.min_first_half_events}, {"max_items", config.max_items},
            {"tasks", config.tasks.size()}}},
          {"tasks", task_results},
          {"seconds", seconds}};
}

nlohmann::json evaluate_utility(const Database& train, const Database& test, const Database& candidate,
                                const StringPool& pool, const UtilityConfig& config) {
  auto start = Clock::now();
  const std::vector<UtilityTask>& tasks = config.tasks;
  if (tasks.empty()) {
    log_info("utility: {}", kNoTasks);
    return {{"note", kNoTasks}, {"tasks", nlohmann::json::array()}};
  }
  if (static_cast<int>(test.stays.size()) < config.cv_below_stays && !same_data(candidate, test))
    return evaluate_utility_cv(train, test, candidate, pool, config, tasks);
  log_info("utility: {} tasks, {} seeds, TSTR on {} candidate stays vs TRTR on {} real train stays ({} XGBoost threads)",
           tasks.size(), config.seeds, candidate.stays.size(), train.stays.size(), config.xgb.threads);

  const bool candidate_is_test = same_data(candidate, test);
  if (candidate_is_test) log_info("utility: the candidate is the real test split: TSTR not computed, TRTR only");
  std::vector<int> train_stays = all_stays(train, config.max_train_stays);
  std::vector<int> candidate_stays = all_stays(candidate, config.max_train_stays);
  std::vector<int> test_stays = all_stays(test, 0);
  // Each model has the feature space of its own training data; the test stays are encoded in both.
  FeatureSpace trtr_space = build_feature_space(train, pool, train_stays, config);
  FeatureSpace tstr_space = build_feature_space(candidate, pool, candidate_stays, config);
  xgb::Matrix trtr_x = encode_stays(train, pool, train_stays, trtr_space);
  xgb::Matrix tstr_x = encode_stays(candidate, pool, candidate_stays, tstr_space);
  xgb::Matrix test_trtr_x = encode_stays(test, pool, test_stays, trtr_space);
  xgb::Matrix test_tstr_x = encode_stays(test, pool, test_stays, tstr_space);

  nlohmann::json task_results = nlohmann::json::array();
  std::vector<std::vector<double>> per_seed_trtr(static_cast<size_t>(config.seeds)),
      per_seed_tstr(static_cast<size_t>(config.seeds));
  std::vector<std::string> not_available, too_few_labels;
  std::vector<double> computable_trtr, computable_tstr;  // tasks with an AUROC, averaged or not
  Progress progress("utility tasks", static_cast<int64_t>(tasks.size()), "tasks");
  for (const UtilityTask& task : tasks) {
    const int classes = task.num_classes();
    nlohmann::json result = {{"name", task.name}, {"kind", kind_name(task.kind)}, {"classes", classes},
                             {"tables", task.tables}};
    bool table_present = false;
    for (const auto& name : task.tables)
      for (const auto& t : train.tables) table_present = table_present || same_name(name, t.name());
    int64_t matching_rows = table_present ? count_matching_rows(train, pool, task) + count_matching_rows(test, pool, task) : 0;
    if (!table_present || matching_rows == 0) {
      result["available"] = false;
      result["reason"] = !table_present ? fmt::format("table {} not in this dataset", fmt::join(task.tables, "/"))
                                        : "no real train or test row has a matching item";
      not_available.push_back(task.name);
      task_results.push_back(result);
      progress.advance();
      continue;
    }
    result["available"] = true;
    std::vector<int> trtr_all = extract_task_labels(train, pool, task, config.min_first_half_events);
    std::vector<int> tstr_all = extract_task_labels(candidate, pool, task, config.min_first_half_events);
    std::vector<int> test_all = extract_task_labels(test, pool, task, config.min_first_half_events);
    std::vector<int> trtr_y(trtr_all.begin(), trtr_all.begin() + static_cast<long>(train_stays.size()));
    std::vector<int> tstr_y(tstr_all.begin(), tstr_all.begin() + static_cast<long>(candidate_stays.size()));
    std::vector<int> test_rows, test_y;
    for (size_t i = 0; i < test_all.size(); ++i)
      if (test_all[i] >= 0) {
        test_rows.push_back(static_cast<int>(i));
        test_y.push_back(test_all[i]);
      }
    nlohmann::json test_counts = class_counts(test_y, classes);
    result["labels"] = {{"real_train", class_counts(trtr_y, classes)},
                        {"candidate", class_counts(tstr_y, classes)},
                        {"real_test", test_counts}};
    int qualifying = 0;
    for (int64_t n : test_counts.get<std::vector<int64_t>>()) qualifying += n >= config.min_test_positives;
    bool averaged = qualifying >= 2;
    result["averaged"] = averaged;
    if (!averaged) {
      result["reason"] = fmt::format("too few test labels: {} class(es) with >= {} real test stays (need 2)",
                                     qualifying, config.min_test_positives);
      too_few_labels.push_back(task.name);
    }
    if (test_rows.empty()) {
      task_results.push_back(result);
      progress.advance();
      continue;
    }
    xgb::Matrix test_trtr = select_rows(test_trtr_x, test_rows), test_tstr = select_rows(test_tstr_x, test_rows);
    for (const char* mode : {"trtr", "tstr"}) {
      bool trtr = std::string_view(mode) == "trtr";
      if (!trtr && candidate_is_test) {
        result[mode] = {{"not_computed", kCandidateIsTest}};
        continue;
      }
      std::vector<double> macro, micro;
      std::string note;
      for (int k = 0; k < config.seeds; ++k) {
        uint64_t seed = config.seed + static_cast<uint64_t>(k);
        TaskScores scores = trtr ? train_and_score(trtr_x, trtr_y, test_trtr, classes, config.xgb, seed)
                                 : train_and_score(tstr_x, tstr_y, test_tstr, classes, config.xgb, seed);
        note = scores.note;
        TaskAurocs a = task_aurocs(scores.scores, test_y, classes);
        macro.push_back(a.macro);
        micro.push_back(a.micro);
        if (averaged) (trtr ? per_seed_trtr : per_seed_tstr)[static_cast<size_t>(k)].push_back(a.macro);
      }
      nlohmann::json m = {{"auroc_mean", number(mean(macro))},
                          {"auroc_std", number(sample_std(macro))},
                          {"auroc_per_seed", macro},
                          {"auroc_micro_mean", number(mean(micro))}};
      if (!note.empty()) m["note"] = note;
      result[mode] = m;
      if (!std::isnan(mean(macro))) (trtr ? computable_trtr : computable_tstr).push_back(mean(macro));
    }
    task_results.push_back(result);
    progress.advance();
  }
  progress.finish();

  auto summary = [](const std::vector<std::vector<double>>& per_seed) {
    std::vector<double> means;
    for (const auto& v : per_seed) means.push_back(v.empty() ? NAN : mean(v));
    return std::pair{mean(means), sample_std(means)};
  };
  auto [trtr_mean, trtr_std] = summary(per_seed_trtr);
  auto [tstr_mean, tstr_std] = summary(per_seed_tstr);
  double seconds = seconds_since(start);
  std::vector<double> seed_trtr, seed_tstr;
  for (size_t k = 0; k < per_seed_trtr.size(); ++k) seed_trtr.push_back(mean(per_seed_trtr[k])), seed_tstr.push_back(mean(per_seed_tstr[k]));
  nlohmann::json headline = {{"mode", "holdout"},
                             {"tasks_averaged", per_seed_trtr.front().size()},
                             {"tstr_trtr_ratio", number(trtr_mean > 0 ? tstr_mean / trtr_mean : NAN)},
                             {"trtr_interval", interval_json(seed_trtr)},
                             {"tstr_interval", interval_json(seed_tstr)},
                             {"ratio_interval", interval_json(ratios(seed_tstr, seed_trtr))},
                             {"trtr_auroc_mean", number(trtr_mean)},
                             {"trtr_auroc_std", number(trtr_std)},
                             {"tstr_auroc_mean", number(tstr_mean)},
                             {"tstr_auroc_std", number(tstr_std)},
                             {"tasks_not_available", not_available},
                             {"tasks_too_few_test_labels", too_few_labels},
                             {"indicative",
                              {{"note", "every task with a computable AUROC, including those with too few test labels: "
                                        "unreliable, for small test splits only"},
                               {"tasks", computable_trtr.size()},
                               {"trtr_auroc_mean", number(mean(computable_trtr))},
                               {"tstr_auroc_mean", number(mean(computable_tstr))}}}};
  nlohmann::json out = {
      {"headline", headline},
      {"method",
       "XGBoost on first-half counts and last values per item; label from the second half; AUROC on real test "
       "(multi-class: macro one-vs-rest over classes present); mean and sample std over seeds"},
      {"stays", {{"real_train", train_stays.size()}, {"candidate", candidate_stays.size()}, {"real_test", test_stays.size()}}},
      {"features", {{"trtr", trtr_space.cols}, {"tstr", tstr_space.cols}}},
      {"config",
       {{"seeds", config.seeds}, {"seed", config.seed}, {"trees", config.xgb.trees}, {"max_depth", config.xgb.max_depth},
        {"learning_rate", config.xgb.learning_rate}, {"threads", config.xgb.threads},
        {"min_test_positives", config.min_test_positives}, {"min_first_half_events", config.min_first_half_events},
        {"max_items", config.max_items}, {"min_item_stays", config.min_item_stays},
        {"max_train_stays", config.max_train_stays}, {"tasks", config.tasks.size()}}},
      {"tasks", task_results},
      {"seconds", seconds}};
  if (candidate_is_test) out["note"] = kCandidateIsTest;
  log_info("utility: TRTR AUROC {:.3f}, TSTR AUROC {:.3f} over {} tasks ({:.1f} s)", trtr_mean, tstr_mean,
           per_seed_trtr.front().size(), seconds);
  return out;
}

}  // namespace rawmed::eval
