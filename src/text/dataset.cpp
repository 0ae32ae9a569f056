#include "text/dataset.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>

namespace rawmed {
namespace {

constexpr const char* kFormat = "rawmed-dataset/1";

template <typename T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, uint16_t>) return "u16";
  else if constexpr (std::is_same_v<T, uint8_t>) return "u8";
  else if constexpr (std::is_same_v<T, uint64_t>) return "u64";
  else return "i32";
}

template <typename T>
void save_array(const fs::path& dir, const std::string& name, const std::vector<T>& values,
                nlohmann::json& manifest) {
  write_file_atomic(dir / name, std::string_view(reinterpret_cast<const char*>(values.data()),
                                                 values.size() * sizeof(T)));
  manifest["arrays"][name] = {{"dtype", dtype_name<T>()}, {"count", values.size()}};
}

template <typename T>
std::vector<T> load_array(const fs::path& dir, const std::string& name, const nlohmann::json& manifest) {
  fs::path path = dir / name;
  if (!manifest.contains("arrays") || !manifest["arrays"].contains(name))
    fail("{}: manifest.json has no entry for {}", dir.string(), name);
  const auto& entry = manifest["arrays"][name];
  if (entry.value("dtype", "") != dtype_name<T>())
    fail("{}: manifest dtype {} does not match the expected {}", path.string(), entry.value("dtype", "?"), dtype_name<T>());
  if (!entry.contains("count") || !entry["count"].is_number_unsigned())
    fail("{}/manifest.json: arrays.{}.count is not a non-negative integer", dir.string(), name);
  auto count = entry["count"].get<uint64_t>();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail("{}: cannot open", path.string());
  auto bytes = static_cast<size_t>(in.tellg());
  if (bytes % sizeof(T) != 0 || bytes / sizeof(T) != count)
    fail("{}: size {} bytes does not match manifest ({} x {} bytes): truncated or corrupt", path.string(), bytes,
         count, sizeof(T));
  std::vector<T> values(count);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(bytes));
  return values;
}

}  // namespace

const char* split_name(Split split) {
  static const char* names[] = {"train", "valid", "test"};
  return names[split];
}

Split Dataset::event_split(size_t e) const {
  auto it = std::upper_bound(stay_offsets.begin(), stay_offsets.end(), static_cast<uint64_t>(e));
  return stays[static_cast<size_t>(it - stay_offsets.begin()) - 1].split;
}

void Dataset::save(const fs::path& dir) const {
  AtomicDir out(dir);
  nlohmann::json m = manifest;
  m["format"] = kFormat;
  m["tables"] = table_names;
  m["arrays"] = nlohmann::json::object();
  save_array(out.path(), "tokens.bin", tokens, m);
  save_array(out.path(), "types.bin", types, m);
  save_array(out.path(), "dpe.bin", dpe, m);
  save_array(out.path(), "event_offsets.bin", event_offsets, m);
  save_array(out.path(), "event_minutes.bin", event_minutes, m);
  save_array(out.path(), "event_tables.bin", event_tables, m);
  save_array(out.path(), "stay_offsets.bin", stay_offsets, m);
  std::vector<uint8_t> splits;
  for (const auto& s : stays) splits.push_back(s.split);
  save_array(out.path(), "stay_splits.bin", splits, m);
  {
    CsvWriter csv((out.path() / "stays.csv").string());
    csv.write_row(std::vector<std::string>{"stay_index", "stay_id", "patient_id", "admission_id", "split", "events",
                                           "age", "gender"});
    for (size_t s = 0; s < stays.size(); ++s) {
      const auto& st = stays[s];
      csv.write_row(std::vector<std::string>{std::to_string(s), st.stay_id, st.patient_id, st.admission_id,
                                             split_name(st.split),
                                             std::to_string(stay_offsets[s + 1] - stay_offsets[s]),
                                             fmt::format("{}", st.age), st.gender});
    }
    csv.close();
  }
  vocab.save(out.path() / "vocab.json");
  write_json_atomic(out.path() / "columns.json", columns);
  write_json_atomic(out.path() / "manifest.json", m);
  out.commit();
}

namespace {

// The manifest keys read later through Dataset's accessors, checked once here so that a corrupt
// manifest is an error naming the file, not a JSON exception in a later stage.
void check_manifest(const nlohmann::json& m, const fs::path& dir) {
  const std::string where = (dir / "manifest.json").string();
  if (!m.is_object()) fail("{}: not a JSON object", where);
  if (m.value("format", "") != kFormat)
    fail("{}: format is '{}', expected '{}'", where, m.contains("format") ? m["format"].dump() : "", kFormat);
  if (!m.contains("arrays") || !m["arrays"].is_object()) fail("{}: 'arrays' is missing or not an object", where);
  if (!m.contains("tables") || !m["tables"].is_array()) fail("{}: 'tables' is missing or not a list", where);
  for (const auto& t : m["tables"])
    if (!t.is_string()) fail("{}: 'tables' holds a non-string entry {}", where, t.dump());
  if (m["tables"].size() > 256) fail("{}: {} tables, at most 256 (event_tables.bin is u8)", where, m["tables"].size());
  for (const char* key : {"max_tokens_per_event", "max_events_per_stay"})
    if (!m.contains(key) || !m[key].is_number_integer()) fail("{}: '{}' is missing or not an integer", where, key);
  if (m.contains("decimals") && !m["decimals"].is_number_integer()) fail("{}: 'decimals' is not an integer", where);
  for (const auto& [name, entry] : m["arrays"].items())
    if (!entry.is_object()) fail("{}: arrays.{} is not an object", where, name);
}

// Offsets index the next array: they start at 0, never decrease and end at its size.
void check_offsets(const std::vector<uint64_t>& offsets, uint64_t total, const fs::path& path) {
  if (offsets.empty() || offsets.front() != 0 || offsets.back() != total)
    fail("{}: offsets must start at 0 and end at {} (corrupt dataset)", path.string(), total);
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1]) fail("{}: offset {} decreases (corrupt dataset)", path.string(), i);
}

double parse_age(std::string_view text, const fs::path& path, int64_t line) {
  double age = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), age);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(age))
    fail("{}:{}: field 'age': \"{}\" is not a number", path.string(), line, text);
  return age;
}

std::vector<StayInfo> load_stays(const fs::path& path, const std::vector<uint8_t>& splits) {
  CsvReader csv(path.string());
  if (csv.header().size() < 8) fail("{}: {} columns, expected 8", path.string(), csv.header().size());
  std::vector<StayInfo> stays;
  while (csv.next()) {
    if (stays.size() >= splits.size()) fail("{}:{}: more rows than the {} stays of stay_splits.bin", path.string(), csv.line(), splits.size());
    StayInfo st;
    st.stay_id = std::string(csv.field(1));
    st.patient_id = std::string(csv.field(2));
    st.admission_id = std::string(csv.field(3));
    st.split = static_cast<Split>(splits[stays.size()]);
    st.age = csv.field(6).empty() ? 0.0 : parse_age(csv.field(6), path, csv.line());
    st.gender = std::string(csv.field(7));
    stays.push_back(std::move(st));
  }
  if (stays.size() != splits.size()) fail("{}: {} rows, expected {}", path.string(), stays.size(), splits.size());
  return stays;
}

Dataset load_checked(const fs::path& dir) {
  Dataset d;
  d.manifest = read_json(dir / "manifest.json");
  check_manifest(d.manifest, dir);
  d.table_names = d.manifest["tables"].get<std::vector<std::string>>();
  d.tokens = load_array<uint16_t>(dir, "tokens.bin", d.manifest);
  d.types = load_array<uint8_t>(dir, "types.bin", d.manifest);
  d.dpe = load_array<uint8_t>(dir, "dpe.bin", d.manifest);
  d.event_offsets = load_array<uint64_t>(dir, "event_offsets.bin", d.manifest);
  d.event_minutes = load_array<int32_t>(dir, "event_minutes.bin", d.manifest);
  d.event_tables = load_array<uint8_t>(dir, "event_tables.bin", d.manifest);
  d.stay_offsets = load_array<uint64_t>(dir, "stay_offsets.bin", d.manifest);
  auto splits = load_array<uint8_t>(dir, "stay_splits.bin", d.manifest);
  size_t n_events = d.event_minutes.size();
  if (d.event_offsets.size() != n_events + 1 || d.types.size() != d.tokens.size() ||
      d.dpe.size() != d.tokens.size() || d.event_tables.size() != n_events ||
      d.stay_offsets.size() != splits.size() + 1)
    fail("{}: array sizes are inconsistent (corrupt dataset)", dir.string());
  check_offsets(d.event_offsets, d.tokens.size(), dir / "event_offsets.bin");
  check_offsets(d.stay_offsets, n_events, dir / "stay_offsets.bin");
  for (size_t e = 0; e < n_events; ++e)
    if (d.event_tables[e] >= d.table_names.size())
      fail("{}: event {} names table {}, but there are {} tables", (dir / "event_tables.bin").string(), e,
           d.event_tables[e], d.table_names.size());
  for (size_t s = 0; s < splits.size(); ++s)
    if (splits[s] > kTest) fail("{}: stay {} has split {} (0-2 expected)", (dir / "stay_splits.bin").string(), s, splits[s]);
  d.stays = load_stays(dir / "stays.csv", splits);
  d.vocab = Vocab::load(dir / "vocab.json");
  d.columns = read_json(dir / "columns.json");
  return d;
}

}  // namespace

Dataset Dataset::load(const fs::path& dir) {
  if (!fs::exists(dir / "manifest.json"))
    fail("{}: not a dataset folder (no manifest.json); run `rawmed prepare` first", dir.string());
  try {
    return load_checked(dir);
  } catch (const nlohmann::json::exception& e) {
    // vocab.json entries of the wrong JSON type (the manifest is checked key by key above).
    fail("{}: corrupt dataset: {}", dir.string(), e.what());
  }
}

}  // namespace rawmed
