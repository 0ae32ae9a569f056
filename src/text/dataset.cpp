#include "text/dataset.h"

#include "common/error.h"
#include "common/fs.h"
#include "ingest/csv.h"

#include <algorithm>
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
  size_t count = entry.at("count");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail("{}: cannot open", path.string());
  auto bytes = static_cast<size_t>(in.tellg());
  if (bytes != count * sizeof(T))
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

Dataset Dataset::load(const fs::path& dir) {
  if (!fs::exists(dir / "manifest.json"))
    fail("{}: not a dataset folder (no manifest.json); run `rawmed prepare` first", dir.string());
  Dataset d;
  d.manifest = read_json(dir / "manifest.json");
  if (d.manifest.value("format", "") != kFormat)
    fail("{}/manifest.json: format is '{}', expected '{}'", dir.string(), d.manifest.value("format", ""), kFormat);
  d.table_names = d.manifest.at("tables").get<std::vector<std::string>>();
  d.tokens = load_array<uint16_t>(dir, "tokens.bin", d.manifest);
  d.types = load_array<uint8_t>(dir, "types.bin", d.manifest);
  d.dpe = load_array<uint8_t>(dir, "dpe.bin", d.manifest);
  d.event_offsets = load_array<uint64_t>(dir, "event_offsets.bin", d.manifest);
  d.event_minutes = load_array<int32_t>(dir, "event_minutes.bin", d.manifest);
  d.event_tables = load_array<uint8_t>(dir, "event_tables.bin", d.manifest);
  d.stay_offsets = load_array<uint64_t>(dir, "stay_offsets.bin", d.manifest);
  auto splits = load_array<uint8_t>(dir, "stay_splits.bin", d.manifest);
  size_t n_events = d.event_minutes.size();
  if (d.event_offsets.size() != n_events + 1 || d.event_offsets.back() != d.tokens.size() ||
      d.types.size() != d.tokens.size() || d.dpe.size() != d.tokens.size() || d.event_tables.size() != n_events ||
      d.stay_offsets.size() != splits.size() + 1 || d.stay_offsets.back() != n_events)
    fail("{}: array sizes are inconsistent (corrupt dataset)", dir.string());
  CsvReader csv((dir / "stays.csv").string());
  while (csv.next()) {
    StayInfo st;
    st.stay_id = std::string(csv.field(1));
    st.patient_id = std::string(csv.field(2));
    st.admission_id = std::string(csv.field(3));
    st.split = static_cast<Split>(splits.at(d.stays.size()));
    st.age = csv.field(6).empty() ? 0.0 : std::stod(std::string(csv.field(6)));
    st.gender = std::string(csv.field(7));
    d.stays.push_back(std::move(st));
  }
  if (d.stays.size() != splits.size()) fail("{}/stays.csv: {} rows, expected {}", dir.string(), d.stays.size(), splits.size());
  d.vocab = Vocab::load(dir / "vocab.json");
  d.columns = read_json(dir / "columns.json");
  return d;
}

}  // namespace rawmed
