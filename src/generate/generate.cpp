#include "generate/generate.h"

#include "codec/codec.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/torch_env.h"
#include "generate/validate.h"
#include "generate/writer.h"
#include "common/config.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "temporal/temporal.h"
#include "text/dataset.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <set>
#include <unordered_set>

namespace rawmed::generate {
namespace {

struct Settings {
  temporal::SampleOptions sample;
  double max_sample_factor = 10;  // give up after sampling this many times N stays
  RuleOptions rules;
  std::string anchor = "2100-01-01 00:00:00";
};

Settings read_settings(const Config& config, const GenerateArgs& args) {
  const toml::table& g = config_section(config, "generate");
  const auto& file = config.path;
  check_keys(g, {"temperature", "time_temperature", "lift_times", "top_k", "top_p", "batch_size", "max_sample_factor",
                 "max_edit_distance", "min_events", "anchor", "invalid_events"},
             "generate", file);
  Settings s;
  s.sample.temperature = args.temperature.value_or(get_double(g, "temperature", 1.0, "generate", file));
  s.sample.time_temperature = get_double(g, "time_temperature", 0.0, "generate", file);
  s.sample.lift_times = get_bool(g, "lift_times", true, "generate", file);
  s.sample.top_k = args.top_k.value_or(static_cast<int>(get_int(g, "top_k", 250, "generate", file)));
  s.sample.top_p = args.top_p.value_or(get_double(g, "top_p", 1.0, "generate", file));
  s.sample.batch_size = static_cast<int>(get_int(g, "batch_size", 64, "generate", file));
  s.sample.device = args.device;
  s.sample.threads = args.threads;
  s.max_sample_factor = get_double(g, "max_sample_factor", 10.0, "generate", file);
  s.rules.max_edit_distance = get_double(g, "max_edit_distance", 0.25, "generate", file);
  s.rules.min_events = static_cast<int>(get_int(g, "min_events", config.dataset.min_events, "generate", file));
  s.rules.min_patients = config.dataset.min_patients_for_token;
  s.anchor = get_string(g, "anchor", s.anchor, "generate", file);
  std::string invalid = get_string(g, "invalid_events", "reject_stay", "generate", file);
  if (invalid != "reject_stay" && invalid != "drop_event")
    fail("{}: 'generate.invalid_events' must be \"reject_stay\" or \"drop_event\", not \"{}\"", file.string(), invalid);
  s.rules.drop_invalid_events = invalid == "drop_event";
  if (s.max_sample_factor < 1) fail("{}: 'generate.max_sample_factor' must be at least 1", file.string());
  if (s.rules.max_edit_distance < 0 || s.rules.max_edit_distance >= 1)
    fail("{}: 'generate.max_edit_distance' must be in [0, 1)", file.string());
  if (!parse_datetime(s.anchor)) fail("{}: 'generate.anchor' is not a datetime: '{}'", file.string(), s.anchor);
  return s;
}

// Counts of every value of `column` in a database table file (dictionary codes in train).
std::map<std::string, int64_t> count_column(const fs::path& file, const std::string& column) {
  std::map<std::string, int64_t> counts;
  if (!fs::exists(file)) return counts;
  CsvReader csv(file.string());
  int index = csv.column_index(column);
  if (index < 0) fail("{}: no column '{}'", file.string(), column);
  while (csv.next())
    if (!csv.field(index).empty()) ++counts[std::string(csv.field(index))];
  return counts;
}

// Real identifiers of one kind: every real database folder's cohort file, plus the source stays
// table of the config (which also holds stays outside the cohort).
std::unordered_set<std::string> real_ids(const fs::path& work, const Config& config, const std::string& cohort_column,
                                         const std::string& source_column) {
  std::unordered_set<std::string> ids;
  auto collect = [&](const fs::path& file, const std::string& column) {
    if (!fs::exists(file) || column.empty()) return;
    CsvReader csv(file.string(), {.skip_malformed = true});
    int index = csv.column_index(column);
    if (index < 0) return;
    while (csv.next())
      if (!csv.field(index).empty()) ids.emplace(csv.field(index));
  };
  for (const char* split : {"train", "valid", "test"}) collect(work / "real" / split / kCohortFile, cohort_column);
  collect(config.dataset.cohort.stays_file, source_column);
  return ids;
}

// Cohort age and gender are not modelled: they are drawn from the train split, and only values
// held by at least k patients are written verbatim (an age held by fewer is written as the middle
// of its 5-year band; a rarer gender is left empty).
class CohortSampler {
 public:
  CohortSampler(const Dataset& dataset, int k) : k_(k) {
    std::map<std::string, std::set<std::string>> gender_patients;
    std::map<int64_t, std::set<std::string>> age_patients;
    for (const auto& s : dataset.stays) {
      if (s.split != kTrain) continue;
      train_.push_back(&s);
      gender_patients[s.gender].insert(s.patient_id);
      age_patients[static_cast<int64_t>(std::floor(s.age))].insert(s.patient_id);
    }
    for (const auto& [g, p] : gender_patients) gender_ok_[g] = static_cast<int>(p.size()) >= k_;
    for (const auto& [a, p] : age_patients) age_ok_[a] = static_cast<int>(p.size()) >= k_;
  }
  void fill(SyntheticStay* stay, std::mt19937_64& rng) const {
    if (train_.empty()) return;
    const StayInfo& s = *train_[std::uniform_int_distribution<size_t>(0, train_.size() - 1)(rng)];
    int64_t age = static_cast<int64_t>(std::floor(s.age));
    stay->age = std::to_string(age_ok_.at(age) ? age : age / 5 * 5 + 2);
    stay->gender = gender_ok_.at(s.gender) ? s.gender : "";
  }

 private:
  int k_;
  std::vector<const StayInfo*> train_;
  std::map<std::string, bool> gender_ok_;
  std::map<int64_t, bool> age_ok_;
};

nlohmann::json count_json(const std::map<std::string, int64_t>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : counts) j[k] = v;
  return j;
}

}  // namespace

nlohmann::json run_generate(const GenerateArgs& args) {
  auto start = Clock::now();
  const fs::path config_path = args.config.empty() ? args.work / "config.toml" : args.config;
  Config config = load_config(config_path);
  Settings settings = read_settings(config, args);
  const fs::path out_path = args.out.empty() ? args.work / "synthetic" : args.out;

  Dataset dataset = Dataset::load(args.work / "dataset");
  DbSchema schema = DbSchema::load(args.work / "real" / "train");
  int64_t train_stays = 0;
  for (const auto& s : dataset.stays) train_stays += s.split == kTrain;
  const int64_t n = args.n > 0 ? args.n : train_stays;
  if (n <= 0) fail("generate: --n must be positive");
  settings.rules.window_minutes = schema.window_hours * 60;
  ValidationRules rules =
      ValidationRules::from_columns_json(dataset.columns, settings.rules, (args.work / "dataset/columns.json").string());
  // A WORK prepared before constraint schemas existed has none: decoding and the editor then skip them.
  const fs::path constraints_file = args.work / "dataset" / "constraints.json";
  std::optional<ConstraintSchema> constraints;
  if (fs::exists(constraints_file)) constraints = ConstraintSchema::load(constraints_file.string());
  rules.set_constraints(constraints ? &*constraints : nullptr);

  WriterSettings writer;
  writer.schema = schema;
  const CohortSpec& cohort = config.dataset.cohort;
  writer.stay_id_column = cohort.stay_id;
  writer.patient_id_column = cohort.patient_id;
  writer.admission_id_column = cohort.admission_id;
  writer.decimals = config.dataset.decimals;
  writer.anchor_seconds = *parse_datetime(settings.anchor);
  for (const auto& t : schema.tables)
    if (!t.dictionary_column.empty())
      writer.label_to_code[t.name] = invert_dictionary(
          t.dictionary_labels, count_column(args.work / "real" / "train" / t.file, t.dictionary_column));
  IdMinter stay_ids(real_ids(args.work, config, "stay_id", cohort.stay_id));
  IdMinter patient_ids(real_ids(args.work, config, "patient_id", cohort.patient_id));
  IdMinter admission_ids(real_ids(args.work, config, "admission_id", cohort.admission_id));
  CohortSampler cohort_sampler(dataset, config.dataset.min_patients_for_token);
  EventGrammar grammar(dataset.vocab, dataset.columns, dataset.decimals(), constraints ? &*constraints : nullptr);
  std::mt19937_64 rng(args.seed ^ 0x9e3779b97f4a7c15ULL);

  const int64_t max_sampled = static_cast<int64_t>(std::ceil(settings.max_sample_factor * static_cast<double>(n)));
  std::vector<SyntheticStay> accepted;
  std::map<std::string, int64_t> failures, failure_examples_seen, dropped_events;
  std::map<std::string, int64_t> rule_violations, rule_repairs, rule_rejections;
  nlohmann::json failure_examples = nlohmann::json::object();
  int64_t sampled = 0, unchecked = 0, repaired = 0, suppressed = 0, suppressed_events = 0, rounds = 0;
  double sample_seconds = 0, decode_seconds = 0;
  Progress progress("generate", n, "stays");
  while (static_cast<int64_t>(accepted.size()) < n) {
    if (sampled >= max_sampled)
      fail("generate: only {} of {} stays passed validation after sampling {} (the bound is {} x N, "
           "[generate] max_sample_factor); rejections by reason: {}. Train longer or raise the bound.",
           accepted.size(), n, sampled, settings.max_sample_factor, count_json(failures).dump());
    int64_t need = n - static_cast<int64_t>(accepted.size());
    double accept_rate = sampled > 0 ? std::max(0.05, static_cast<double>(accepted.size()) / sampled) : 0.9;
    int64_t request = std::min(max_sampled - sampled, static_cast<int64_t>(std::ceil(need / accept_rate * 1.1)) + 1);

    temporal::SampleOptions options = settings.sample;
    options.n = request;
    options.seed = args.seed + 1000003ULL * static_cast<uint64_t>(rounds++);
    auto t0 = Clock::now();
    temporal::SampledStays samples = temporal::sample_stays(args.work, options);
    sample_seconds += seconds_since(t0);
    size_t n_events = samples.event_minutes.size();
    auto t1 = Clock::now();
    codec::DecodedTokens decoded =
        codec::decode_codes(args.work, samples.codes, n_events, grammar, args.device, args.threads);
    decode_seconds += seconds_since(t1);
    const size_t L = static_cast<size_t>(decoded.tokens_per_event);
    if (n_events > 0 && decoded.tokens.size() != n_events * L)
      fail("generate: the codec decoded {} tokens for {} events of {} tokens", decoded.tokens.size(), n_events, L);

    size_t n_stays = samples.stay_offsets.empty() ? 0 : samples.stay_offsets.size() - 1;
    for (size_t s = 0; s < n_stays; ++s) {
      if (static_cast<int64_t>(accepted.size()) >= n) {
        unchecked += static_cast<int64_t>(n_stays - s);
        break;
      }
      ++sampled;
      SyntheticStay stay;
      for (uint64_t e = samples.stay_offsets[s]; e < samples.stay_offsets[s + 1]; ++e)
        stay.events.push_back({samples.event_minutes[e],
                               dataset.vocab.decode_event(&decoded.tokens[e * L], &decoded.types[e * L], L)});
      StayVerdict verdict = rules.check_stay(stay.events);
      for (const auto& [reason, count] : verdict.dropped_invalid_events) dropped_events[reason] += count;
      for (const auto& [kind, count] : verdict.rule_violations) rule_violations[kind] += count;
      for (const auto& [kind, count] : verdict.rule_repairs) rule_repairs[kind] += count;
      if (!verdict.ok && verdict.reason == Failure::kRuleViolation) ++rule_rejections[verdict.rule_kind];
      if (!verdict.ok) {
        std::string reason = failure_name(verdict.reason);
        ++failures[reason];
        if (failure_examples_seen[reason]++ < 3) failure_examples[reason].push_back(verdict.detail);
        continue;
      }
      repaired += verdict.repaired_values;
      suppressed += verdict.suppressed_values;
      suppressed_events += verdict.suppressed_events;
      uint64_t index = accepted.size();
      stay.stay_id = stay_ids.id(index);
      stay.patient_id = patient_ids.id(index);
      stay.admission_id = admission_ids.id(index);
      cohort_sampler.fill(&stay, rng);
      accepted.push_back(std::move(stay));
      progress.advance();
    }
  }
  progress.finish();

  AtomicDir out(out_path);
  auto events_per_table = write_database(out.path(), writer, accepted);
  int64_t rejected = sampled - static_cast<int64_t>(accepted.size());
  int64_t events = 0;
  for (const auto& [t, c] : events_per_table) events += c;
  nlohmann::json summary = {
      {"format", "rawmed-generate/1"},
      {"stays", accepted.size()},
      {"stays_sampled", sampled},
      {"stays_rejected", rejected},
      {"rejection_rate", sampled > 0 ? static_cast<double>(rejected) / static_cast<double>(sampled) : 0.0},
      {"stays_sampled_unchecked", unchecked},
      {"events", events},
      {"events_per_table", count_json(events_per_table)},
      {"failures_by_reason", count_json(failures)},
      {"failure_examples", failure_examples},
      {"repaired_categorical_values", repaired},
      {"suppressed_rare_values", suppressed},
      {"suppressed_rare_item_events", suppressed_events},
      {"invalid_events", settings.rules.drop_invalid_events ? "drop_event" : "reject_stay"},
      {"dropped_invalid_events_by_reason", count_json(dropped_events)},
      {"constraints",
       {{"file", constraints ? nlohmann::json(constraints_file.string()) : nlohmann::json(nullptr)},
        {"violations_by_kind", count_json(rule_violations)},
        {"repairs_by_kind", count_json(rule_repairs)},
        {"rejected_stays_by_kind", count_json(rule_rejections)}}},
      {"rounds", rounds},
      {"seconds", seconds_since(start)},
      {"sample_seconds", sample_seconds},
      {"decode_seconds", decode_seconds},
      {"seed", args.seed},
      {"sampling",
       {{"temperature", settings.sample.temperature},
        {"time_temperature", settings.sample.time_temperature},
        {"lift_times", settings.sample.lift_times},
        {"top_k", settings.sample.top_k},
        {"top_p", settings.sample.top_p},
        {"batch_size", settings.sample.batch_size}}},
      {"validation",
       {{"window_minutes", settings.rules.window_minutes},
        {"min_patients", settings.rules.min_patients},
        {"max_edit_distance", settings.rules.max_edit_distance},
        {"min_events", settings.rules.min_events},
        {"max_sample_factor", settings.max_sample_factor}}},
      {"anchor", settings.anchor},
      {"config", config_path.string()},
      {"inputs",
       {{"codec/model.pt", fs::exists(args.work / "codec/model.pt") ? file_crc32(args.work / "codec/model.pt") : ""},
        {"temporal/model.pt",
         fs::exists(args.work / "temporal/model.pt") ? file_crc32(args.work / "temporal/model.pt") : ""}}},
      {"versions", torch_runtime_info()},
  };
  write_json_atomic(out.path() / "generate.json", summary);
  out.commit();
  log_info("generate: {} stays ({} sampled, rejection rate {:.1f}%), {} events -> {}", accepted.size(), sampled,
           100.0 * summary["rejection_rate"].get<double>(), events, out_path.string());
  return summary;
}

}  // namespace rawmed::generate
