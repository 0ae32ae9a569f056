#include "generate/writer.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "text/serialize.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace rawmed::generate {
namespace {

std::optional<uint64_t> parse_unsigned(const std::string& text) {
  uint64_t value = 0;
  auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Smaller of two codes: numerically when both are integers, else as strings.
bool code_less(const std::string& a, const std::string& b) {
  auto x = parse_unsigned(a), y = parse_unsigned(b);
  if (x && y) return *x < *y;
  return a < b;
}

}  // namespace

IdMinter::IdMinter(const std::unordered_set<std::string>& real_ids) {
  uint64_t max_id = 0;
  for (const auto& id : real_ids) {
    auto value = parse_unsigned(id);
    if (!value || *value >= 1000000000000000000ULL) {
      numeric_ = false;
      break;
    }
    max_id = std::max(max_id, *value);
  }
  if (numeric_) {
    base_ = 10;
    while (base_ <= max_id) base_ *= 10;
    return;
  }
  // Every real id that starts with the prefix and continues with a digit could collide: grow it.
  auto collides = [&] {
    for (const auto& id : real_ids)
      if (id.size() > prefix_.size() && id.compare(0, prefix_.size(), prefix_) == 0 &&
          id[prefix_.size()] >= '0' && id[prefix_.size()] <= '9')
        return true;
    return false;
  };
  while (collides()) prefix_ += 'S';
}

std::string IdMinter::id(uint64_t index) const {
  if (numeric_) return std::to_string(base_ + index + 1);
  return prefix_ + std::to_string(index + 1);
}

std::map<std::string, std::string> invert_dictionary(const std::map<std::string, std::string>& code_to_label,
                                                     const std::map<std::string, int64_t>& train_code_counts) {
  std::map<std::string, std::string> best;  // label -> code
  auto count = [&](const std::string& code) {
    auto it = train_code_counts.find(code);
    return it == train_code_counts.end() ? int64_t{0} : it->second;
  };
  for (const auto& [code, label] : code_to_label) {
    auto it = best.find(label);
    if (it == best.end()) {
      best[label] = code;
      continue;
    }
    int64_t a = count(code), b = count(it->second);
    if (a > b || (a == b && code_less(code, it->second))) it->second = code;
  }
  return best;
}

std::map<std::string, int64_t> write_database(const std::filesystem::path& dir, const WriterSettings& settings,
                                              const std::vector<SyntheticStay>& stays) {
  const DbSchema& schema = settings.schema;
  const bool datetime = schema.time_kind == TimeKind::kDatetime;
  const int64_t window_minutes = int64_t{schema.window_hours} * 60;
  // Minutes since the stay's intime, as written.
  auto time_text = [&](const SyntheticStay& stay, int64_t minutes) {
    return datetime ? format_datetime(settings.anchor_seconds + (stay.intime_offset_minutes + minutes) * 60)
                    : std::to_string(minutes);
  };

  std::map<std::string, int64_t> rows_per_table;
  for (const auto& table : schema.tables) {
    enum class Source { kNull, kStay, kPatient, kAdmission, kTime, kModelled };
    std::vector<Source> sources;
    for (const auto& c : table.columns) {
      Source s = Source::kNull;
      if (c == table.link_column) s = table.link_cohort_key == "admission_id" ? Source::kAdmission : Source::kStay;
      else if (c == table.time_column) s = Source::kTime;
      else if (table.types.count(c)) s = Source::kModelled;
      else if (c == settings.stay_id_column) s = Source::kStay;
      else if (c == settings.patient_id_column) s = Source::kPatient;
      else if (c == settings.admission_id_column) s = Source::kAdmission;
      sources.push_back(s);
    }
    const std::map<std::string, std::string>* labels = nullptr;
    if (!table.dictionary_column.empty()) {
      auto it = settings.label_to_code.find(table.name);
      if (it != settings.label_to_code.end()) labels = &it->second;
    }

    CsvWriter csv((dir / table.file).string());
    csv.write_row(table.columns);
    std::vector<std::string> row(table.columns.size());
    int64_t rows = 0;
    for (const auto& stay : stays) {
      for (const auto& event : stay.events) {
        if (event.event.table != table.name) continue;
        for (size_t i = 0; i < row.size(); ++i) {
          const std::string& column = table.columns[i];
          switch (sources[i]) {
            case Source::kNull: row[i].clear(); break;
            case Source::kStay: row[i] = stay.stay_id; break;
            case Source::kPatient: row[i] = stay.patient_id; break;
            case Source::kAdmission: row[i] = stay.admission_id; break;
            case Source::kTime: row[i] = time_text(stay, event.minutes); break;
            case Source::kModelled: {
              row[i].clear();
              for (const auto& [c, value] : event.event.pairs)
                if (c == column) row[i] = value;
              if (row[i].empty()) break;
              if (table.types.at(column) == ColumnType::kNumeric) {
                auto canonical = normalize_number(row[i], settings.decimals);
                if (!canonical) fail("generate: {}.{} value '{}' is not a number (validation missed it)", table.name,
                                     column, row[i]);
                row[i] = *canonical;
              } else if (labels && column == table.dictionary_column) {
                auto it = labels->find(row[i]);
                if (it != labels->end()) row[i] = it->second;  // else the value is a code without a label
              }
              break;
            }
          }
        }
        csv.write_row(row);
        ++rows;
      }
    }
    csv.close();
    rows_per_table[table.name] = rows;
  }

  CsvWriter cohort((dir / kCohortFile).string());
  cohort.write_row(kCohortColumns);
  for (const auto& stay : stays)
    cohort.write_row(std::vector<std::string>{stay.stay_id, stay.patient_id, stay.admission_id, time_text(stay, 0),
                                              time_text(stay, stay.length_minutes >= 0 ? stay.length_minutes : window_minutes),
                                              stay.age, stay.gender});
  cohort.close();
  write_json_atomic(dir / "schema.json", schema.to_json());
  return rows_per_table;
}

}  // namespace rawmed::generate
