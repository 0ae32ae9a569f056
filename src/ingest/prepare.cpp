#include "ingest/prepare.h"


#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "ingest/byte_source.h"
#include "ingest/cohort.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/schema.h"
#include "ingest/table_rows.h"
#include "rawmed_version.h"
#include "text/constraints.h"
#include "text/dataset.h"
#include "text/serialize.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace rawmed {
namespace {

using Dictionary = std::unordered_map<std::string, std::string, StringHash, std::equal_to<>>;

Dictionary load_dictionary(const DictionarySpec& spec) {
  CsvReader csv(spec.file.string());
  int key = csv.column_index(spec.key), label = csv.column_index(spec.label);
  if (key < 0) fail("{}: dictionary key column '{}' not found", spec.file.string(), spec.key);
  if (label < 0) fail("{}: dictionary label column '{}' not found", spec.file.string(), spec.label);
  Dictionary dict;
  while (csv.next())
    if (!csv.field(label).empty()) dict.emplace(csv.field(key), csv.field(label));
  return dict;
}

// True when `number` (normalize_number of `text`) lost digits of `text` beyond the rounding to
// `decimals`. Up to 15 significant digits a double always holds; beyond, the number is kept only
// when the conversion reproduces its digits (12345678901234567890 would become
// 12345678901234567168).
bool lost_digits(std::string_view text, const std::string& number, size_t* digits) {
  *digits = 0;
  bool leading = true;
  for (char c : number) {
    if (c < '0' || c > '9') continue;
    leading = leading && c == '0';
    if (!leading) ++*digits;
  }
  if (*digits <= 15) return false;
  std::string_view t = text;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  std::string canonical(t);
  bool negative = !canonical.empty() && canonical[0] == '-';
  if (negative) canonical.erase(0, 1);
  if (canonical.find('.') != std::string::npos) {
    while (canonical.back() == '0') canonical.pop_back();
    if (canonical.back() == '.') canonical.pop_back();
  }
  while (canonical.size() > 1 && canonical[0] == '0' && canonical[1] != '.') canonical.erase(0, 1);
  if (negative) canonical.insert(0, "-");
  return canonical != number;
}

// [-]digits[.digits] with at most 15 significant digits: a double holds it exactly, so it is a
// number without formatting it (the fast path for values such as "0.0000").
bool is_short_plain_decimal(std::string_view text) {
  size_t i = text.size() && text[0] == '-' ? 1 : 0, digits = 0, pending_zeros = 0;
  bool any = false, point = false, leading = true;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (c < '0' || c > '9') return false;
    any = true;
    if (leading && c == '0') continue;
    leading = false;
    if (c == '0') {
      ++pending_zeros;  // significant only if a non-zero digit follows (or before the point)
      if (!point) digits += pending_zeros, pending_zeros = 0;
    } else {
      digits += pending_zeros + 1;
      pending_zeros = 0;
    }
  }
  return any && digits <= 15;
}

// Why `text` is not kept as a number, or empty when it is (already canonical, or normalized
// without losing digits).
std::string not_a_number_reason(std::string_view text, int decimals) {
  if (is_canonical_number(text, decimals) || is_short_plain_decimal(text)) return "";
  auto number = normalize_number(text, decimals);
  if (!number) return "is not a finite decimal number";
  size_t digits = 0;
  if (lost_digits(text, *number, &digits))
    return fmt::format("has {} significant digits, more than a double holds exactly (would become {})", digits,
                       *number);
  return "";
}

// normalize_number, unless that would lose digits.
std::optional<std::string> exact_number(std::string_view text, int decimals) {
  auto number = normalize_number(text, decimals);
  size_t digits = 0;
  if (number && lost_digits(text, *number, &digits)) return std::nullopt;
  return number;
}

struct TableStats {
  int64_t rows_read = 0, rows_linked = 0, rows_in_window = 0, rows_without_time = 0, rows_skipped_malformed = 0;
};

// A column declared numeric (tables.<name>.types) holds numbers or nulls: a word, NaN, inf, hex
// or a number a double cannot hold is an error, or makes the row malformed (counted, skipped)
// under dataset.skip_malformed_rows.
bool declared_numbers_ok(const CsvReader& csv, const std::vector<int>& columns, const DatasetSpec& spec,
                         const TableSpec& table) {
  for (int c : columns) {
    std::string_view value = csv.field(c);
    if (value.empty()) continue;
    std::string why = not_a_number_reason(value, spec.decimals);
    if (why.empty()) continue;
    if (spec.skip_malformed_rows) return false;
    fail("{}:{}: field '{}': \"{}\" {} (the column is declared numeric in tables.{}.types)", csv.path(), csv.line(),
         csv.header()[c], value, why, table.name);
  }
  return true;
}

// Streams one event table and keeps the rows of cohort stays inside [0, window] minutes.
TableRows stream_table(const DatasetSpec& spec, const TableSpec& table, const Cohort& cohort, TableStats* stats) {
  CsvOptions options;
  options.skip_malformed = spec.skip_malformed_rows;
  CsvReader csv(table.file.string(), options);
  TableRows rows;
  rows.header = csv.header();
  int link = csv.column_index(table.link_column);
  if (link < 0) fail("{}: column '{}' (tables.{}.link) not found in the header", table.file.string(), table.link_column, table.name);
  int time = csv.column_index(table.time_column);
  if (time < 0) fail("{}: column '{}' (tables.{}.time) not found in the header", table.file.string(), table.time_column, table.name);
  for (const auto& column : table.drop)
    if (csv.column_index(column) < 0)
      fail("{}: column '{}' (tables.{}.drop) not found in the header", table.file.string(), column, table.name);
  for (const auto& [column, type] : table.types)
    if (csv.column_index(column) < 0)
      fail("{}: column '{}' (tables.{}.types) not found in the header", table.file.string(), column, table.name);
  if (!table.item_column.empty() && csv.column_index(table.item_column) < 0)
    fail("{}: column '{}' (tables.{}.item) not found in the header", table.file.string(), table.item_column, table.name);
  if (table.dictionary && csv.column_index(table.dictionary->column) < 0)
    fail("{}: column '{}' (tables.{}.dictionary.column) not found in the header", table.file.string(),
         table.dictionary->column, table.name);
  const int64_t window_minutes = int64_t{spec.window_hours} * 60;
  const bool datetime = spec.time_kind == TimeKind::kDatetime;
  std::vector<int> declared_numeric;
  for (const auto& [column, type] : table.types)
    if (type == ColumnType::kNumeric) declared_numeric.push_back(csv.column_index(column));
  int64_t bad_numbers = 0;
  Progress progress("read " + table.name, 0, "rows");
  while (csv.next()) {
    ++stats->rows_read;
    progress.advance();
    if (!declared_numbers_ok(csv, declared_numeric, spec, table)) {
      ++bad_numbers;
      continue;
    }
    int s = cohort.find(table.link_to, csv.field(link));
    if (s < 0) continue;
    ++stats->rows_linked;
    std::string_view time_text = csv.field(time);
    int64_t minutes;
    if (datetime) {
      auto t = parse_datetime(time_text);
      if (!t) {
        if (!time_text.empty())
          fail("{}:{}: field '{}': cannot parse datetime \"{}\"", table.file.string(), csv.line(), table.time_column,
               time_text);
        ++stats->rows_without_time;
        continue;
      }
      // The window test uses exact seconds (an event at 12 h 0 min 20 s is outside a 12 h window);
      // the stored time is rounded to the nearest minute.
      int64_t seconds = *t - cohort.stays[s].intime;
      if (seconds < 0 || seconds > window_minutes * 60) continue;
      minutes = static_cast<int64_t>(std::llround(static_cast<double>(seconds) / 60.0));
    } else {
      auto number = normalize_number(time_text, 0);
      if (!number) {
        if (!time_text.empty())
          fail("{}:{}: field '{}': cannot parse minute offset \"{}\"", table.file.string(), csv.line(),
               table.time_column, time_text);
        ++stats->rows_without_time;
        continue;
      }
      auto [end, ec] = std::from_chars(number->data(), number->data() + number->size(), minutes);
      if (ec != std::errc() || end != number->data() + number->size() || minutes > (int64_t{1} << 40) ||
          minutes < -(int64_t{1} << 40))
        fail("{}:{}: field '{}': minute offset \"{}\" is out of range", table.file.string(), csv.line(),
             table.time_column, time_text);
    }
    if (minutes < 0 || minutes > window_minutes) continue;
    ++stats->rows_in_window;
    rows.add(csv.fields(), s, static_cast<int32_t>(minutes), csv.record_index());
  }
  stats->rows_skipped_malformed = csv.skipped_records() + bad_numbers;
  progress.finish();
  return rows;
}

// How one table's columns are modelled.
struct TableModel {
  std::vector<int> columns;             // modelled column indices (file order)
  std::vector<ColumnType> types;        // per modelled column
  std::vector<uint16_t> column_tokens;  // per modelled column
  int dictionary_column = -1;           // file column index
  int item_column = -1;                 // file column index
  const Dictionary* dictionary = nullptr;
  uint16_t table_token = 0;
};

// The value of a modelled column as serialized: dictionary label, canonical number, or the text
// (a view into `scratch` or into the row storage). Returns true when it is spelled as a number.
bool model_value(std::string_view raw, const TableModel& model, size_t m, int decimals, std::string* scratch,
                 std::string_view* value) {
  int column = model.columns[m];
  *value = raw;
  if (raw.empty()) return false;
  if (column == model.dictionary_column && model.dictionary) {
    auto it = model.dictionary->find(raw);
    if (it != model.dictionary->end()) *value = it->second;
    return false;
  }
  if (model.types[m] == ColumnType::kNumeric) {
    if (is_canonical_number(raw, decimals)) return true;
    auto number = exact_number(raw, decimals);
    if (number) {
      *scratch = std::move(*number);
      *value = *scratch;
      return true;
    }
  }
  return false;
}

ColumnType infer_type(const std::vector<std::string_view>& values, bool is_item) {
  if (values.empty()) return ColumnType::kCategorical;
  size_t numeric = 0;
  std::unordered_set<std::string_view> distinct;
  for (auto v : values) {
    if (exact_number(v, 4)) ++numeric;
    distinct.insert(v);
  }
  if (!is_item && numeric >= 0.95 * static_cast<double>(values.size()) && distinct.size() >= 10)
    return ColumnType::kNumeric;
  if (distinct.size() <= 1000 && distinct.size() <= 0.5 * static_cast<double>(values.size()) + 10)
    return ColumnType::kCategorical;
  return ColumnType::kText;
}

// Patient counts per string, for the k-patients vocabulary rule. Strings must be added patient
// by patient (all of one patient's strings before the next patient's), so that remembering the
// last patient per string is enough to count each patient once.
class PatientCounter {
 public:
  void add(std::string_view text, int32_t patient) {
    auto it = counts_.find(text);
    if (it == counts_.end()) it = counts_.emplace(std::string(text), Entry{}).first;
    if (it->second.last_patient != patient) ++it->second.patients;
    it->second.last_patient = patient;
  }
  std::vector<std::string> at_least(int k) const {
    std::vector<std::string> out;
    for (const auto& [text, entry] : counts_)
      if (entry.patients >= k) out.push_back(text);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  struct Entry {
    int patients = 0;
    int32_t last_patient = -1;
  };
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> counts_;
};

std::vector<Split> assign_splits(const Cohort& cohort, uint64_t seed) {
  std::map<std::string, std::vector<size_t>> by_patient;
  for (size_t s = 0; s < cohort.stays.size(); ++s) by_patient[cohort.stays[s].patient_id].push_back(s);
  std::vector<const std::vector<size_t>*> patients;
  for (const auto& [id, stays] : by_patient) patients.push_back(&stays);
  // Fisher-Yates with our own index draw, so the split does not depend on the standard library.
  std::mt19937_64 rng(seed);
  for (size_t i = patients.size(); i > 1; --i) std::swap(patients[i - 1], patients[rng() % i]);
  std::vector<Split> splits(cohort.stays.size(), kTrain);
  double n = static_cast<double>(cohort.stays.size());
  size_t test = 0, valid = 0;
  for (const auto* stays : patients) {
    Split split = kTrain;
    if (test < 0.1 * n) split = kTest, test += stays->size();
    else if (valid < 0.1 * n) split = kValid, valid += stays->size();
    for (size_t s : *stays) splits[s] = split;
  }
  return splits;
}

int percentile95(std::vector<int64_t> values) {
  if (values.empty()) return 1;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(values.size())));
  return static_cast<int>(values[std::max<size_t>(rank, 1) - 1]);
}

struct Prepared {
  const DatasetSpec* spec;
  Cohort cohort;
  std::vector<Split> splits;
  std::vector<TableRows> tables;
  std::vector<TableModel> models;
  std::vector<Dictionary> dictionaries;
};

// Drops stays with fewer than min_events window events and renumbers stays in the rows.
void apply_min_events(Prepared& p, nlohmann::json& funnel) {
  std::vector<int64_t> counts(p.cohort.stays.size(), 0);
  for (const auto& t : p.tables)
    for (int32_t s : t.stay) ++counts[s];
  std::vector<int32_t> remap(p.cohort.stays.size(), -1);
  Cohort kept;
  kept.funnel = p.cohort.funnel;
  for (size_t s = 0; s < p.cohort.stays.size(); ++s) {
    if (counts[s] < p.spec->min_events) continue;
    remap[s] = static_cast<int32_t>(kept.stays.size());
    kept.stays.push_back(std::move(p.cohort.stays[s]));
  }
  kept.funnel.push_back({fmt::format("at_least_{}_events", p.spec->min_events), static_cast<int64_t>(kept.stays.size())});
  kept.rebuild_index();
  for (auto& t : p.tables) t.keep_stays(remap);
  p.cohort = std::move(kept);
  for (const auto& [rule, n] : p.cohort.funnel) funnel.push_back({{"rule", rule}, {"stays", n}});
}

// The modelled columns of a table: all but the link, the time, the cohort id columns and the
// configured drops. `type_of(column index)` gives each modelled column's type.
template <typename TypeOf>
TableModel make_table_model(const DatasetSpec& spec, const TableSpec& ts, const std::vector<std::string>& header,
                            const Dictionary* dictionary, Vocab& vocab, TypeOf&& type_of) {
  std::set<std::string> id_columns = {spec.cohort.stay_id, spec.cohort.patient_id, spec.cohort.admission_id};
  auto index_of = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  TableModel model;
  model.table_token = vocab.add(ts.name, TokenKind::kTable);
  if (ts.dictionary) {
    model.dictionary_column = index_of(ts.dictionary->column);
    model.dictionary = dictionary;
  }
  model.item_column = ts.item_column.empty() ? -1 : index_of(ts.item_column);
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string& name = header[c];
    bool dropped = name == ts.link_column || name == ts.time_column || id_columns.count(name) ||
                   std::find(ts.drop.begin(), ts.drop.end(), name) != ts.drop.end();
    if (dropped) continue;
    model.columns.push_back(static_cast<int>(c));
    auto forced = ts.types.find(name);
    model.types.push_back(forced != ts.types.end() ? forced->second : type_of(static_cast<int>(c), model));
    model.column_tokens.push_back(vocab.add(name, TokenKind::kColumn));
  }
  return model;
}

void build_models(Prepared& p, Vocab& vocab) {
  for (size_t t = 0; t < p.spec->tables.size(); ++t) {
    const TableRows& rows = p.tables[t];
    auto infer = [&](int c, const TableModel& model) {
      std::vector<std::string_view> values;
      for (size_t r = 0; r < rows.size(); ++r)
        if (p.splits[rows.stay[r]] == kTrain && !rows.field(r, c).empty()) values.push_back(rows.field(r, c));
      return infer_type(values, c == model.item_column || c == model.dictionary_column);
    };
    p.models.push_back(make_table_model(*p.spec, p.spec->tables[t], rows.header, &p.dictionaries[t], vocab, infer));
  }
}

// Whole values and word pieces seen in at least k patients of the train split.
void build_value_vocab(const Prepared& p, Vocab& vocab) {
  // Train rows grouped by patient, across tables.
  std::unordered_map<std::string, std::vector<std::pair<uint8_t, uint32_t>>> rows_of_patient;
  for (size_t t = 0; t < p.tables.size(); ++t)
    for (size_t r = 0; r < p.tables[t].size(); ++r)
      if (p.splits[p.tables[t].stay[r]] == kTrain)
        rows_of_patient[p.cohort.stays[p.tables[t].stay[r]].patient_id].emplace_back(static_cast<uint8_t>(t),
                                                                                    static_cast<uint32_t>(r));
  PatientCounter values, words;
  std::string scratch;
  int32_t patient = 0;
  for (const auto& [patient_id, rows_of] : rows_of_patient) {
    for (auto [t, r] : rows_of) {
      const TableRows& rows = p.tables[t];
      const TableModel& model = p.models[t];
      for (size_t m = 0; m < model.columns.size(); ++m) {
        std::string_view value;
        bool numeric_value = model_value(rows.field(r, model.columns[m]), model, m, p.spec->decimals, &scratch, &value);
        if (value.empty() || numeric_value) continue;
        values.add(value, patient);
        for_each_piece(value, [&](std::string_view piece, bool is_word) {
          if (is_word && piece.size() > 1) words.add(piece, patient);
        });
      }
    }
    ++patient;
  }
  for (auto& v : values.at_least(p.spec->min_patients_for_token)) vocab.add(std::move(v), TokenKind::kValue);
  for (auto& w : words.at_least(p.spec->min_patients_for_token)) vocab.add(std::move(w), TokenKind::kWord);
}

nlohmann::json column_metadata(const Prepared& p) {
  nlohmann::json tables = nlohmann::json::array();
  std::string scratch, item_scratch;
  for (size_t t = 0; t < p.tables.size(); ++t) {
    const TableRows& rows = p.tables[t];
    const TableModel& model = p.models[t];
    const TableSpec& ts = p.spec->tables[t];
    int item_m = -1;
    for (size_t m = 0; m < model.columns.size(); ++m)
      if (model.columns[m] == model.item_column) item_m = static_cast<int>(m);
    nlohmann::json columns = nlohmann::json::array();
    for (size_t m = 0; m < model.columns.size(); ++m) {
      int64_t n = 0, nulls = 0;
      double lo = INFINITY, hi = -INFINITY;
      std::map<std::string, std::pair<double, double>> item_ranges;
      std::map<std::string, int64_t> categories;
      std::map<std::string, std::unordered_set<std::string_view>> category_patients;
      for (size_t r = 0; r < rows.size(); ++r) {
        if (p.splits[rows.stay[r]] != kTrain) continue;
        ++n;
        std::string_view value;
        model_value(rows.field(r, model.columns[m]), model, m, p.spec->decimals, &scratch, &value);
        if (value.empty()) {
          ++nulls;
          continue;
        }
        if (model.types[m] == ColumnType::kNumeric) {
          auto number = normalize_number(value, p.spec->decimals);
          if (!number) continue;
          double x = std::stod(*number);
          lo = std::min(lo, x);
          hi = std::max(hi, x);
          if (item_m >= 0 && item_m != static_cast<int>(m)) {
            std::string_view item_view;
            model_value(rows.field(r, model.columns[static_cast<size_t>(item_m)]), model, static_cast<size_t>(item_m), p.spec->decimals, &item_scratch, &item_view);
            std::string item(item_view);
            auto [it, inserted] = item_ranges.emplace(item, std::make_pair(x, x));
            if (!inserted) it->second = {std::min(it->second.first, x), std::max(it->second.second, x)};
          }
        } else {
          std::string key(value);
          ++categories[key];
          category_patients[key].insert(p.cohort.stays[rows.stay[r]].patient_id);
        }
      }
      nlohmann::json column = {{"name", rows.header[model.columns[m]]},
                               {"type", column_type_name(model.types[m])},
                               {"null_rate", n ? static_cast<double>(nulls) / static_cast<double>(n) : 0.0}};
      if (model.types[m] == ColumnType::kNumeric) {
        column["min"] = std::isfinite(lo) ? nlohmann::json(lo) : nlohmann::json(nullptr);
        column["max"] = std::isfinite(hi) ? nlohmann::json(hi) : nlohmann::json(nullptr);
        nlohmann::json ranges = nlohmann::json::object();
        for (const auto& [item, range] : item_ranges) ranges[item] = {range.first, range.second};
        column["item_ranges"] = ranges;
      } else {
        column["categories"] = categories;
        nlohmann::json patients = nlohmann::json::object();
        for (const auto& [value, holders] : category_patients) patients[value] = holders.size();
        column["category_patients"] = patients;
      }
      columns.push_back(column);
    }
    tables.push_back({{"name", ts.name},
                      {"item_column", ts.item_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(ts.item_column)},
                      {"columns", columns}});
  }
  return {{"tables", tables}};
}

// The train rows of every table as serialized (labels, canonical numbers), for the constraint schema.
std::vector<RuleTable> rule_tables(const Prepared& p) {
  std::vector<RuleTable> out;
  std::unordered_map<std::string_view, int32_t> patient_numbers;
  std::string scratch;
  for (size_t t = 0; t < p.tables.size(); ++t) {
    const TableRows& rows = p.tables[t];
    const TableModel& model = p.models[t];
    RuleTable table;
    table.name = p.spec->tables[t].name;
    for (size_t m = 0; m < model.columns.size(); ++m) {
      table.columns.push_back(rows.header[model.columns[m]]);
      table.types.push_back(model.types[m]);
      if (model.columns[m] == model.item_column) table.item = static_cast<int>(m);
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      if (p.splits[rows.stay[r]] != kTrain) continue;
      std::vector<std::string> values(model.columns.size());
      for (size_t m = 0; m < model.columns.size(); ++m) {
        std::string_view value;
        model_value(rows.field(r, model.columns[m]), model, m, p.spec->decimals, &scratch, &value);
        values[m] = std::string(value);
      }
      table.rows.push_back(std::move(values));
      const std::string& patient = p.cohort.stays[rows.stay[r]].patient_id;
      table.patients.push_back(patient_numbers.emplace(patient, static_cast<int32_t>(patient_numbers.size())).first->second);
    }
    out.push_back(std::move(table));
  }
  return out;
}

DbSchema make_schema(const Prepared& p) {
  DbSchema schema;
  schema.dataset = p.spec->name;
  schema.window_hours = p.spec->window_hours;
  schema.time_kind = p.spec->time_kind;
  for (size_t t = 0; t < p.tables.size(); ++t) {
    const TableSpec& ts = p.spec->tables[t];
    const TableModel& model = p.models[t];
    DbTable table;
    table.name = ts.name;
    table.file = ts.name + ".csv.gz";
    table.columns = p.tables[t].header;
    table.link_column = ts.link_column;
    table.link_cohort_key = ts.link_to;
    table.time_column = ts.time_column;
    table.item_column = ts.item_column;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      auto it = std::find(model.columns.begin(), model.columns.end(), static_cast<int>(c));
      if (it == model.columns.end()) {
        if (table.columns[c] != ts.link_column && table.columns[c] != ts.time_column) table.dropped.push_back(table.columns[c]);
      } else {
        table.types[table.columns[c]] = model.types[static_cast<size_t>(it - model.columns.begin())];
      }
    }
    if (ts.dictionary) {
      table.dictionary_column = ts.dictionary->column;
      // Only the codes that occur in the data, to keep the schema small.
      int column = model.dictionary_column;
      for (size_t r = 0; r < p.tables[t].size(); ++r) {
        std::string code(p.tables[t].field(r, column));
        auto label = p.dictionaries[t].find(code);
        if (label != p.dictionaries[t].end()) table.dictionary_labels[code] = label->second;
      }
    }
    schema.tables.push_back(std::move(table));
  }
  return schema;
}

// Writes WORK/real/<split>/: the cohort-window rows in the input schema.
void write_real_splits(const Prepared& p, const DbSchema& schema, const fs::path& dir) {
  AtomicDir out(dir);
  for (int split = 0; split < 3; ++split) {
    fs::path split_dir = out.path() / split_name(static_cast<Split>(split));
    fs::create_directories(split_dir);
    write_json_atomic(split_dir / "schema.json", schema.to_json());
    CsvWriter cohort((split_dir / kCohortFile).string());
    cohort.write_row(kCohortColumns);
    for (size_t s = 0; s < p.cohort.stays.size(); ++s) {
      if (p.splits[s] != split) continue;
      const CohortStay& st = p.cohort.stays[s];
      cohort.write_row(std::vector<std::string>{st.stay_id, st.patient_id, st.admission_id, st.intime_text,
                                                st.outtime_text, std::isnan(st.age) ? "" : fmt::format("{}", st.age),
                                                st.gender});
    }
    cohort.close();
    for (size_t t = 0; t < p.tables.size(); ++t) {
      const TableRows& rows = p.tables[t];
      const TableModel& model = p.models[t];
      std::vector<bool> numeric(rows.header.size(), false);
      for (size_t m = 0; m < model.columns.size(); ++m)
        numeric[model.columns[m]] = model.types[m] == ColumnType::kNumeric;
      std::vector<size_t> order(rows.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows.source_row[a] < rows.source_row[b]; });
      CsvWriter csv((split_dir / schema.tables[t].file).string());
      csv.write_row(rows.header);
      std::vector<std::string> fields(rows.header.size());
      for (size_t r : order) {
        if (p.splits[rows.stay[r]] != split) continue;
        for (size_t c = 0; c < fields.size(); ++c) {
          std::string_view raw = rows.field(r, c);
          auto number = numeric[c] ? exact_number(raw, p.spec->decimals) : std::nullopt;
          fields[c] = number ? *number : std::string(raw);
        }
        csv.write_row(fields);
      }
      csv.close();
    }
  }
  out.commit();
}

}  // namespace

EncodeThroughput encode_all_rows(const Config& config, const Dataset& dataset) {
  const DatasetSpec& spec = config.dataset;
  EncodeThroughput result;
  auto start = Clock::now();
  Vocab vocab = dataset.vocab;  // tables and columns are already in it: adding finds them
  for (size_t t = 0; t < spec.tables.size(); ++t) {
    const TableSpec& ts = spec.tables[t];
    Dictionary dictionary = ts.dictionary ? load_dictionary(*ts.dictionary) : Dictionary{};
    CsvReader csv(ts.file.string());
    std::map<std::string, ColumnType> types;
    for (const auto& c : dataset.columns.at("tables").at(t).at("columns"))
      types[c.at("name")] = *parse_column_type(c.at("type").get<std::string>());
    auto lookup = [&](int c, const TableModel&) {
      auto it = types.find(csv.header()[c]);
      return it == types.end() ? ColumnType::kText : it->second;
    };
    TableModel model = make_table_model(spec, ts, csv.header(), &dictionary, vocab, lookup);
    EventEncoder encoder(vocab, spec.max_tokens_per_event);
    EncodedEvent encoded;
    size_t n = model.columns.size();
    std::vector<std::string_view> values(n);
    std::vector<std::string> scratch(n);
    std::vector<bool> numeric(n);
    while (csv.next()) {
      for (size_t m = 0; m < n; ++m)
        numeric[m] = model_value(csv.field(model.columns[m]), model, m, spec.decimals, &scratch[m], &values[m]);
      encoder.encode(model.table_token, model.column_tokens, values, numeric, &encoded);
      ++result.rows;
      result.tokens += static_cast<int64_t>(encoded.tokens.size());
    }
  }
  result.seconds = seconds_since(start);
  return result;
}

void write_resolved_config(const Config& config, const fs::path& path) {
  toml::table root = config.root;
  fs::path dataset_root = config.path.parent_path() / root["dataset"]["root"].value_or(std::string("."));
  root["dataset"].as_table()->insert_or_assign("root", fs::absolute(dataset_root).lexically_normal().string());
  // load_config made a relative SQLite source absolute: keep it so from WORK/config.toml.
  if (auto source = root["dataset"]["source"].value<std::string>(); source && !config.dataset.cohort.stays_file.empty()) {
    std::string location = config.dataset.cohort.stays_file.string();
    if (location.rfind("sqlite:", 0) == 0)
      root["dataset"].as_table()->insert_or_assign("source", "sqlite:" + fs::absolute(location.substr(7, location.find('#') - 7)).string());
  }
  std::ostringstream text;
  text << "# Written by rawmed prepare from " << fs::absolute(config.path).string() << "\n" << root << "\n";
  write_file_atomic(path, text.str());
}

// Moves the staged outputs into `work`. prepare.json goes first and comes back last, written by
// the caller: a run killed in between leaves no prepare.json (and its lock file), never an old
// summary beside a new dataset.
void replace_outputs(const fs::path& staged, const fs::path& work, std::initializer_list<const char*> names) {
  fs::remove(work / "prepare.json");
  for (const char* name : names) {
    fs::path old = staged / (std::string(name) + ".old");
    if (fs::exists(work / name)) fs::rename(work / name, old);
    fs::rename(staged / name, work / name);
  }
}

namespace {

// Streams every event table (with its dictionary) into `p`; returns the per-table row funnel.
nlohmann::json read_tables(Prepared& p) {
  nlohmann::json table_stats = nlohmann::json::object();
  for (const auto& t : p.spec->tables) {
    p.dictionaries.push_back(t.dictionary ? load_dictionary(*t.dictionary) : Dictionary{});
    TableStats stats;
    p.tables.push_back(stream_table(*p.spec, t, p.cohort, &stats));
    table_stats[t.name] = {{"rows_read", stats.rows_read},
                           {"rows_linked_to_cohort", stats.rows_linked},
                           {"rows_in_window", stats.rows_in_window},
                           {"rows_without_time", stats.rows_without_time},
                           {"rows_skipped_malformed", stats.rows_skipped_malformed}};
  }
  return table_stats;
}

// An event's place in its stay: sorted by (time, table, source row).
struct EventRef {
  int32_t minute;
  uint8_t table;
  int64_t source_row;
  uint32_t row;
};

std::vector<std::vector<EventRef>> events_per_stay(const Prepared& p) {
  std::vector<std::vector<EventRef>> per_stay(p.cohort.stays.size());
  for (size_t t = 0; t < p.tables.size(); ++t)
    for (size_t r = 0; r < p.tables[t].size(); ++r)
      per_stay[p.tables[t].stay[r]].push_back(
          {p.tables[t].minute[r], static_cast<uint8_t>(t), p.tables[t].source_row[r], static_cast<uint32_t>(r)});
  for (auto& events : per_stay)
    std::sort(events.begin(), events.end(), [](const EventRef& a, const EventRef& b) {
      return std::tie(a.minute, a.table, a.source_row) < std::tie(b.minute, b.table, b.source_row);
    });
  return per_stay;
}

// What encoding counted: truncations, the round trip per split, events per table and stay.
struct EncodeCounts {
  int64_t truncated = 0, exact[3] = {0, 0, 0}, checked[3] = {0, 0, 0};
  std::vector<int64_t> events_per_table;
  std::vector<int64_t> train_stay_events;  // events of each train stay
  int64_t beyond(int max_events, const std::vector<std::vector<EventRef>>& per_stay) const {
    int64_t out = 0;
    for (const auto& events : per_stay) out += std::max<int64_t>(0, static_cast<int64_t>(events.size()) - max_events);
    return out;
  }
};

// Encodes every event into `d` (tokens, types, DPE, offsets, minutes, tables) and checks that
// its tokens decode back to the source row, built independently.
EncodeCounts encode_events(const Prepared& p, const std::vector<std::vector<EventRef>>& per_stay, Dataset& d) {
  const DatasetSpec& spec = *p.spec;
  EncodeCounts counts;
  counts.events_per_table.assign(p.tables.size(), 0);
  EventEncoder encoder(d.vocab, spec.max_tokens_per_event);
  EncodedEvent encoded;
  std::vector<std::string_view> values;
  std::vector<std::string> scratch;
  std::vector<bool> numeric;
  d.stay_offsets.push_back(0);
  d.event_offsets.push_back(0);
  Progress progress("encode", static_cast<int64_t>(p.cohort.stays.size()), "stays");
  for (size_t s = 0; s < per_stay.size(); ++s) {
    Split split = p.splits[s];
    if (split == kTrain) counts.train_stay_events.push_back(static_cast<int64_t>(per_stay[s].size()));
    for (const EventRef& e : per_stay[s]) {
      const TableRows& rows = p.tables[e.table];
      const TableModel& model = p.models[e.table];
      size_t n = model.columns.size();
      values.resize(n);
      scratch.resize(n);
      numeric.resize(n);
      for (size_t m = 0; m < n; ++m) numeric[m] = model_value(rows.field(e.row, model.columns[m]), model, m, spec.decimals, &scratch[m], &values[m]);
      encoder.encode(model.table_token, model.column_tokens, values, numeric, &encoded);
      d.tokens.insert(d.tokens.end(), encoded.tokens.begin(), encoded.tokens.end());
      d.types.insert(d.types.end(), encoded.types.begin(), encoded.types.end());
      d.dpe.insert(d.dpe.end(), encoded.dpe.begin(), encoded.dpe.end());
      d.event_offsets.push_back(d.tokens.size());
      d.event_minutes.push_back(e.minute);
      d.event_tables.push_back(e.table);
      ++counts.events_per_table[e.table];
      // Round trip: decode the tokens and compare with the source row, independently built.
      DecodedEvent decoded = d.vocab.decode_event(encoded.tokens.data(), encoded.types.data(), encoded.tokens.size());
      DecodedEvent expected;
      expected.ok = true;
      expected.table = spec.tables[e.table].name;
      for (size_t m = 0; m < n; ++m)
        if (!values[m].empty()) expected.pairs.emplace_back(rows.header[model.columns[m]], std::string(values[m]));
      if (encoded.truncated) {
        ++counts.truncated;
        expected.pairs.resize(encoded.pairs_kept);  // the kept prefix must still be exact
      }
      ++counts.checked[split];
      if (decoded == expected) ++counts.exact[split];
    }
    d.stay_offsets.push_back(d.event_minutes.size());
    progress.advance();
  }
  progress.finish();
  return counts;
}

void add_stays(const Prepared& p, Dataset& d) {
  for (size_t s = 0; s < p.cohort.stays.size(); ++s) {
    const CohortStay& st = p.cohort.stays[s];
    d.stays.push_back({st.stay_id, st.patient_id, st.admission_id, p.splits[s], std::isnan(st.age) ? 0.0 : st.age, st.gender});
  }
  for (const auto& t : p.spec->tables) d.table_names.push_back(t.name);
}

nlohmann::json dataset_manifest(const DatasetSpec& spec, const Dataset& d, int max_events) {
  return {{"dataset", spec.name},
          {"window_hours", spec.window_hours},
          {"time_kind", spec.time_kind == TimeKind::kDatetime ? "datetime" : "minutes"},
          {"max_tokens_per_event", spec.max_tokens_per_event},
          {"max_events_per_stay", max_events},
          {"min_patients_for_token", spec.min_patients_for_token},
          {"decimals", spec.decimals},
          {"split_seed", spec.split_seed},
          {"vocab_size", d.vocab.size()},
          {"num_token_types", kNumTokenTypes},
          {"num_dpe", kNumDpe},
          {"stays", d.stays.size()},
          {"events", d.num_events()},
          {"tokens", d.tokens.size()}};
}

// dataset/, real/ and config.toml, staged then swapped in together.
void write_outputs(const Config& config, const Prepared& p, const Dataset& d, const ConstraintSchema& constraints,
                   const fs::path& work) {
  log_info("prepare: writing {}", (work / "dataset").string());
  AtomicDir staged(work / ".prepare");
  d.save(staged.path() / "dataset");
  write_json_atomic(staged.path() / "dataset" / "constraints.json", constraints.to_json());
  DbSchema schema = make_schema(p);
  write_real_splits(p, schema, staged.path() / "real");
  write_resolved_config(config, staged.path() / "config.toml");
  replace_outputs(staged.path(), work, {"dataset", "real", "config.toml"});
}

nlohmann::json input_checksums(const DatasetSpec& spec) {
  nlohmann::json input_files = nlohmann::json::object();
  input_files[spec.cohort.stays_file.string()] = input_crc32(spec.cohort.stays_file);
  if (!spec.cohort.patients_file.empty()) input_files[spec.cohort.patients_file.string()] = input_crc32(spec.cohort.patients_file);
  for (const auto& t : spec.tables) {
    input_files[t.file.string()] = input_crc32(t.file);
    if (t.dictionary) input_files[t.dictionary->file.string()] = input_crc32(t.dictionary->file);
  }
  return input_files;
}

double rate(int64_t exact, int64_t checked) {
  return checked ? static_cast<double>(exact) / static_cast<double>(checked) : 1.0;
}

}  // namespace

nlohmann::json prepare(const Config& config, const fs::path& work) {
  auto start = Clock::now();
  const DatasetSpec& spec = config.dataset;
  const ConstraintOptions constraint_options = read_constraint_options(config);
  WorkLock lock(work, "prepare");
  if (int orphans = remove_orphan_temporaries(work))
    log_info("prepare: removed {} temporary folder(s) left in {} by a killed run", orphans, work.string());
  Prepared p;
  p.spec = &spec;
  log_info("prepare {}: building the cohort from {}", spec.name, spec.cohort.stays_file.string());
  p.cohort = build_cohort(spec);
  if (!spec.first_stay_per_admission)
    for (const auto& t : spec.tables)
      if (t.link_to == "admission_id")
        fail("{}: table {} links by admission, which needs dataset.first_stay_per_admission = true",
             config.path.string(), t.name);

  nlohmann::json table_stats = read_tables(p);
  nlohmann::json funnel = nlohmann::json::array();
  apply_min_events(p, funnel);
  if (p.cohort.stays.empty()) fail("{}: the cohort is empty after applying the rules", config.path.string());
  p.splits = assign_splits(p.cohort, spec.split_seed);

  Dataset d;
  build_models(p, d.vocab);
  build_value_vocab(p, d.vocab);
  const std::vector<std::vector<EventRef>> per_stay = events_per_stay(p);
  const EncodeCounts counts = encode_events(p, per_stay, d);
  add_stays(p, d);
  int max_events = spec.max_events_per_stay > 0 ? spec.max_events_per_stay : percentile95(counts.train_stay_events);
  d.columns = column_metadata(p);
  ConstraintSchema constraints = ConstraintSchema::learn(rule_tables(p), constraint_options);
  d.manifest = dataset_manifest(spec, d, max_events);
  write_outputs(config, p, d, constraints, work);

  std::set<std::string> patients;
  for (const auto& st : p.cohort.stays) patients.insert(st.patient_id);
  nlohmann::json splits = nlohmann::json::object(), rates = nlohmann::json::object();
  for (int s = 0; s < 3; ++s) {
    splits[split_name(static_cast<Split>(s))] = std::count(p.splits.begin(), p.splits.end(), static_cast<Split>(s));
    rates[split_name(static_cast<Split>(s))] = rate(counts.exact[s], counts.checked[s]);
  }
  nlohmann::json per_table = nlohmann::json::object();
  for (size_t t = 0; t < p.tables.size(); ++t) per_table[spec.tables[t].name] = counts.events_per_table[t];
  int64_t all_checked = counts.checked[0] + counts.checked[1] + counts.checked[2];
  int64_t all_exact = counts.exact[0] + counts.exact[1] + counts.exact[2];
  double seconds = seconds_since(start);
  nlohmann::json summary = {
      {"dataset", spec.name},
      {"stays", d.stays.size()},
      {"patients", patients.size()},
      {"events", d.num_events()},
      {"events_per_table", per_table},
      {"tokens", d.tokens.size()},
      {"vocab_size", d.vocab.size()},
      {"max_events_per_stay", max_events},
      {"events_beyond_max_events_per_stay", counts.beyond(max_events, per_stay)},
      {"truncated_events", counts.truncated},
      {"roundtrip_exact_rate", rate(all_exact, all_checked)},
      {"roundtrip_exact_rate_by_split", rates},
      {"splits", splits},
      {"cohort_funnel", funnel},
      {"constraints", {{"rules_by_table", constraints.counts()}, {"switched_off", constraints.switched_off}}},
      {"tables", table_stats},
      {"seconds", seconds},
      {"peak_rss_mb", peak_rss_mb()},
      {"config", fs::absolute(config.path).string()},
      {"split_seed", spec.split_seed},
      {"input_files_crc32", input_checksums(spec)},
      {"rawmed_version", RAWMED_VERSION}};
  write_json_atomic(work / "prepare.json", summary);
  log_info("prepare: {} stays of {} patients, {} events, vocab {}, round-trip exact {:.6f}, {:.1f} s",
           d.stays.size(), patients.size(), d.num_events(), d.vocab.size(), summary["roundtrip_exact_rate"].get<double>(),
           seconds);
  return summary;
}

}  // namespace rawmed
