// `rawmed sample`: load WORK/temporal/model.pt, draw exactly N stays, write WORK/samples/.
#include "common/config_fields.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/torch_env.h"
#include "codec/codes_file.h"
#include "temporal/code_grammar.h"
#include "temporal/sampler.h"
#include "temporal/temporal.h"
#include "text/dataset.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace rawmed::temporal {

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

int find_gender(const Layout& layout, const std::string& wanted) {
  const std::string w = lower(wanted);
  for (size_t g = 0; g < layout.genders.size(); ++g) {
    const std::string have = lower(layout.genders[g]);
    // "F" matches "Female" and the other way round.
    if (have == w || ((have.size() == 1 || w.size() == 1) && !have.empty() && have[0] == w[0]))
      return static_cast<int>(g);
  }
  fail("--gender '{}': the cohort has no such gender (known: {})", wanted, fmt::join(layout.genders, ", "));
}

// "65-79" (a group) or "65+" (every group from 65 on).
std::vector<char> age_mask_of(const std::string& wanted) {
  std::vector<char> mask(kAgeGroups.size(), 0);
  for (size_t a = 0; a < kAgeGroups.size(); ++a)
    if (kAgeGroups[a] == wanted) mask[a] = 1;
  if (!wanted.empty() && wanted.back() == '+') {
    try {
      double from = std::stod(wanted.substr(0, wanted.size() - 1));
      for (size_t a = 0; a < kAgeGroups.size(); ++a)
        if (kAgeGroupLower[a] >= from || (a == 0 && from <= 18)) mask[a] = 1;
    } catch (const std::exception&) {
    }
  }
  if (std::find(mask.begin(), mask.end(), 1) == mask.end())
    fail("--age-group '{}': use one of {} or a lower bound such as 65+ matching a group start",
         wanted, fmt::join(kAgeGroups, ", "));
  return mask;
}

double ks_statistic(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return 1.0;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(double(i) / double(a.size()) - double(j) / double(b.size())));
  }
  return d;
}

template <typename T>
void append_bytes(std::string& out, const std::vector<T>& values) {
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
std::vector<T> read_array(const fs::path& path, size_t count) {
  std::string bytes = read_file(path);
  if (bytes.size() != count * sizeof(T))
    fail("{}: {} bytes, expected {} ({} values): truncated or not from the same sample", path.string(),
         bytes.size(), count * sizeof(T), count);
  std::vector<T> values(count);
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

}  // namespace

std::shared_ptr<const CodeGrammar> load_code_grammar(const std::filesystem::path& work, const Dataset& dataset,
                                                     const CodeGrammarSettings& settings) {
  if (settings.depth <= 0) return nullptr;
  return std::make_shared<const CodeGrammar>(codec::read_codes_file(work / "codec" / "codes.bin"), dataset,
                                             settings);
}

SampledStays sample_stays(const std::filesystem::path& work, const SampleOptions& options) {
  if (options.n < 0) fail("--n must be non-negative (got {})", options.n);
  setup_torch_threads(options.threads);
  const torch::Device device = parse_device(options.device);
  TemporalModel model = load_model(work / "temporal" / "model.pt", device);
  const Layout& layout = model.layout;
  if (options.code_grammar && !options.code_grammar->fits(layout.codebook, layout.positions, layout.depth))
    fail("{}: the temporal model's codes (K={} P={} D={}) are not those of codec/codes.bin: retrain the temporal stage",
         (work / "temporal" / "model.pt").string(), layout.codebook, layout.positions, layout.depth);
  SamplerSettings settings;
  static_cast<DrawSettings&>(settings) = options;
  settings.code_grammar = options.code_grammar.get();
  if (!options.gender.empty() || !options.age_group.empty()) {
    if (!layout.conditioned)
      fail("--gender/--age-group: this temporal model is unconditional; set `condition = true` in the [temporal] "
           "section of the config and retrain");
    if (!options.gender.empty()) settings.gender = find_gender(layout, options.gender);
    if (!options.age_group.empty()) settings.age_mask = age_mask_of(options.age_group);
  }
  SampledTokens sampled = sample_sequences(model.net, layout, options.n, settings);

  SampledStays out;
  out.positions = layout.positions;
  out.depth = layout.depth;
  out.codebook_size = layout.codebook;
  out.time_resolution_minutes = layout.resolution_minutes;
  out.max_events = layout.max_events;
  out.tokens = sampled.tokens;
  out.seconds = sampled.seconds;
  out.stays_hit_length_cap = sampled.hit_cap;
  out.stay_offsets.push_back(0);
  for (const auto& seq : sampled.sequences) {
    size_t p = static_cast<size_t>(layout.prefix_length());
    if (layout.conditioned) {
      out.genders.push_back(layout.genders.at(seq[1] - layout.gender_token(0)));
      out.age_groups.push_back(kAgeGroups.at(seq[2] - layout.age_token(0)));
    }
    int slot = 0;
    while (p < seq.size() && seq[p] != layout.end()) {
      slot = layout.read_time(&seq[p], slot);
      p += layout.time_digits;
      out.event_minutes.push_back(layout.slot_minutes(slot));
      for (int c = 0; c < layout.codes_per_event; ++c) out.codes.push_back(static_cast<uint16_t>(seq[p++]));
    }
    out.stay_offsets.push_back(out.event_minutes.size());
  }
  return out;
}

void save_samples(const std::filesystem::path& dir, const SampledStays& s, const SampleOptions& options,
                  const nlohmann::json& extra) {
  AtomicDir out(dir);
  Codes codes;
  codes.events = s.event_minutes.size();
  codes.positions = s.positions;
  codes.depth = s.depth;
  codes.codebook_size = static_cast<uint32_t>(s.codebook_size);
  codes.codes = s.codes;
  codec::write_codes_file(out.path() / "codes.bin", codes);
  std::string minutes, offsets;
  append_bytes(minutes, s.event_minutes);
  append_bytes(offsets, s.stay_offsets);
  write_file_atomic(out.path() / "event_minutes.bin", minutes);
  write_file_atomic(out.path() / "stay_offsets.bin", offsets);
  const double stays = static_cast<double>(s.num_stays());
  nlohmann::json j = {
      {"format", "rawmed-samples/1"},
      {"stays", s.num_stays()},
      {"events", s.event_minutes.size()},
      {"tokens", s.tokens},
      {"seconds", s.seconds},
      {"tokens_per_second", s.seconds > 0 ? double(s.tokens) / s.seconds : 0.0},
      {"stays_per_second", s.seconds > 0 ? stays / s.seconds : 0.0},
      {"stays_hit_length_cap", s.stays_hit_length_cap},
      {"share_hit_length_cap", stays > 0 ? double(s.stays_hit_length_cap) / stays : 0.0},
      {"positions", s.positions},
      {"depth", s.depth},
      {"codebook_size", s.codebook_size},
      {"time_resolution_minutes", s.time_resolution_minutes},
      {"max_events_per_stay", s.max_events},
      {"options", fields_to_json(options)},
      {"runtime", torch_runtime_info()}};
  if (!s.genders.empty()) {
    j["genders"] = s.genders;
    j["age_groups"] = s.age_groups;
  }
  j.update(extra);
  write_json_atomic(out.path() / "sample.json", j);
  out.commit();
}

SampledStays load_samples(const std::filesystem::path& dir) {
  const fs::path meta = dir / "sample.json";
  if (!fs::exists(meta)) fail("{}: no samples; run `rawmed sample` first", meta.string());
  nlohmann::json j = read_json(meta);
  if (j.value("format", "") != "rawmed-samples/1")
    fail("{}: format '{}' is not rawmed-samples/1", meta.string(), j.value("format", ""));
  SampledStays s;
  try {
    Codes codes = codec::read_codes_file(dir / "codes.bin");
    const size_t stays = j.at("stays").get<size_t>();
    s.stay_offsets = read_array<uint64_t>(dir / "stay_offsets.bin", stays + 1);
    s.event_minutes = read_array<int32_t>(dir / "event_minutes.bin", codes.events);
    if (s.stay_offsets.front() != 0 || s.stay_offsets.back() != codes.events ||
        !std::is_sorted(s.stay_offsets.begin(), s.stay_offsets.end()))
      fail("{}: stay offsets do not cover the {} events of codes.bin", (dir / "stay_offsets.bin").string(),
           codes.events);
    s.codes = std::move(codes.codes);
    s.positions = static_cast<int>(codes.positions);
    s.depth = static_cast<int>(codes.depth);
    s.codebook_size = static_cast<int>(codes.codebook_size);
    s.tokens = j.at("tokens");
    s.seconds = j.at("seconds");
    s.stays_hit_length_cap = j.at("stays_hit_length_cap");
    s.time_resolution_minutes = j.at("time_resolution_minutes");
    s.max_events = j.at("max_events_per_stay");
    if (j.contains("genders")) {
      s.genders = j.at("genders").get<std::vector<std::string>>();
      s.age_groups = j.at("age_groups").get<std::vector<std::string>>();
      if (s.genders.size() != stays || s.age_groups.size() != stays)
        fail("{}: genders/age_groups do not have one entry per stay", meta.string());
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: missing or bad field: {}", meta.string(), e.what());
  }
  return s;
}

nlohmann::json compare_with_train(const std::filesystem::path& work, const SampledStays& samples) {
  Dataset d = Dataset::load(work / "dataset");
  const int resolution = std::max(1, samples.time_resolution_minutes);
  const size_t cap = samples.max_events > 0 ? samples.max_events : static_cast<size_t>(d.max_events_per_stay());
  std::vector<double> real_counts, real_gaps, fake_counts, fake_gaps;
  for (size_t s = 0; s < d.num_stays(); ++s) {
    if (d.stays[s].split != kTrain) continue;
    size_t first = d.stay_offsets[s], n = std::min<size_t>(d.stay_offsets[s + 1] - first, cap);
    real_counts.push_back(double(n));
    int previous = 0;
    for (size_t e = 0; e < n; ++e) {
      int t = std::max(previous, std::max(0, d.event_minutes[first + e]) / resolution * resolution);
      if (e > 0) real_gaps.push_back(t - previous);
      previous = t;
    }
  }
  for (size_t s = 0; s < samples.num_stays(); ++s) {
    size_t first = samples.stay_offsets[s], last = samples.stay_offsets[s + 1];
    fake_counts.push_back(double(last - first));
    for (size_t e = first + 1; e < last; ++e) fake_gaps.push_back(samples.event_minutes[e] - samples.event_minutes[e - 1]);
  }
  auto mean = [](const std::vector<double>& v) {
    double t = 0;
    for (double x : v) t += x;
    return v.empty() ? 0.0 : t / double(v.size());
  };
  return {{"events_per_stay", {{"ks", ks_statistic(fake_counts, real_counts)},
                               {"mean_sampled", mean(fake_counts)}, {"mean_train", mean(real_counts)}}},
          {"time_gap_minutes", {{"ks", ks_statistic(fake_gaps, real_gaps)},
                                {"mean_sampled", mean(fake_gaps)}, {"mean_train", mean(real_gaps)}}},
          {"train_stays", real_counts.size()}};
}

}  // namespace rawmed::temporal
