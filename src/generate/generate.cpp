#include "generate/generate.h"

#include "codec/codec.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/torch_env.h"
#include "generate/cohort_model.h"
#include "generate/generate_config.h"
#include "generate/manifest.h"
#include "generate/release.h"
#include "generate/shard.h"
#include "generate/validate.h"
#include "generate/writer.h"
#include "evaluate/evaluate.h"
#include "common/config.h"
#include "common/config_fields.h"
#include "common/csv.h"
#include "common/datetime.h"
#include "ingest/db_location.h"
#include "ingest/db_tables.h"
#include "temporal/code_grammar.h"
#include "temporal/layout.h"
#include "temporal/temporal.h"
#include "text/dataset.h"

#include <functional>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <set>
#include <unordered_set>

namespace rawmed::generate {
namespace {

struct Settings {
  GenerateConfig config;
  temporal::SampleOptions sample;
  RuleOptions rules;
};

Settings read_settings(const Config& config, const GenerateArgs& args) {
  Settings s;
  GenerateConfig& g = s.config;
  g = GenerateConfig::from_config(config);
  if (args.temperature) g.temperature = *args.temperature;
  if (args.top_k) g.top_k = *args.top_k;
  if (args.top_p) g.top_p = *args.top_p;
  s.sample.temperature = g.temperature;
  s.sample.time_temperature = g.time_temperature;
  s.sample.lift_times = g.lift_times;
  s.sample.top_k = g.top_k;
  s.sample.top_p = g.top_p;
  s.sample.batch_size = g.batch_size;
  s.sample.device = args.device;
  s.sample.threads = args.threads;
  s.rules.max_edit_distance = g.max_edit_distance;
  s.rules.min_events = g.min_events;
  s.rules.min_patients = config.dataset.min_patients_for_token;
  s.rules.drop_invalid_events = g.invalid_events == "drop_event";
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

// "gender=F,age=65-79" (either part optional) -> the sampler's conditions.
void parse_condition(const std::string& text, std::string* gender, std::string* age_group) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    size_t eq = part.find('=');
    std::string key = eq == std::string::npos ? part : part.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    const auto& groups = temporal::kAgeGroups;
    if (value.empty() || (key != "gender" && key != "age") ||
        (key == "age" && std::find(groups.begin(), groups.end(), value) == groups.end()))
      fail("generate: --condition '{}': expected gender=VALUE and/or age=GROUP (one of {}), separated by commas",
           text, fmt::join(temporal::kAgeGroups, ", "));
    (key == "gender" ? *gender : *age_group) = value;
    start = end + 1;
  }
}

// The stays to generate, by condition (gender, age group): --condition, one condition per
// (gender, age group) of the --like cohort's rows, or none.
struct StayCondition {
  std::string gender, age_group;
  int64_t count = 0;
};

std::vector<StayCondition> stay_conditions(const GenerateArgs& args, int64_t train_stays) {
  if (!args.like.empty() && (!args.condition.empty() || args.n > 0))
    fail("generate: --like takes the stays and their demographics from the cohort file; drop --n and --condition");
  if (args.like.empty()) {
    StayCondition c;
    c.count = args.n > 0 ? args.n : train_stays;
    parse_condition(args.condition, &c.gender, &c.age_group);
    return {c};
  }
  CsvReader csv(args.like.string());
  const int gender = csv.column_index("gender"), age = csv.column_index("age");
  if (gender < 0 || age < 0) fail("{}: --like needs the columns gender and age (a cohort file)", args.like.string());
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  int64_t line = 1;
  while (csv.next()) {
    ++line;
    double years = 0;
    if (!parse_plain_number(std::string(csv.field(age)), &years))
      fail("{}: line {}: field 'age': '{}' is not a number", args.like.string(), line, csv.field(age));
    ++counts[{std::string(csv.field(gender)), temporal::kAgeGroups.at(static_cast<size_t>(temporal::age_group_of(years)))}];
  }
  std::vector<StayCondition> out;
  for (const auto& [key, count] : counts) out.push_back({key.first, key.second, count});
  if (out.empty()) fail("{}: --like: the cohort file has no rows", args.like.string());
  return out;
}

// Requested against written demographics per condition, over the stays of this run or part
// (the written gender is empty when fewer than k train patients hold it).
nlohmann::json condition_report(const std::vector<StayCondition>& conditions, const std::vector<SyntheticStay>& stays,
                                const std::vector<size_t>& condition_of) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t c = 0; c < conditions.size(); ++c) {
    const StayCondition& condition = conditions[c];
    int64_t written = 0, gender_match = 0, age_match = 0;
    for (size_t i = 0; i < stays.size(); ++i) {
      if (condition_of[i] != c) continue;
      ++written;
      gender_match += condition.gender.empty() || stays[i].gender == condition.gender;
      double age = 0;
      age_match += condition.age_group.empty() ||
                   (parse_plain_number(stays[i].age, &age) &&
                    temporal::kAgeGroups.at(static_cast<size_t>(temporal::age_group_of(age))) == condition.age_group);
    }
    out.push_back({{"gender", condition.gender}, {"age_group", condition.age_group}, {"requested", condition.count},
                   {"written", written}, {"gender_matches", gender_match}, {"age_group_matches", age_match}});
  }
  return out;
}

// Gender and age group are the first tokens of a stay sampled by a conditioned model; the rest
// of the row comes from the cohort model (cohort_model.h).
void fill_cohort_row(const CohortModel& model, const temporal::SampledStays& samples, size_t s, SyntheticStay* stay,
                     std::mt19937_64& rng) {
  const bool conditioned = s < samples.genders.size();
  int64_t last_minute = stay->events.empty() ? 0 : stay->events.back().minutes;
  CohortDraw row = model.draw(conditioned ? samples.genders[s] : "", conditioned ? samples.age_groups[s] : "",
                              last_minute, rng);
  stay->gender = row.gender;
  stay->age = row.age;
  stay->intime_offset_minutes = row.intime_offset_minutes;
  stay->length_minutes = row.length_minutes;
}

nlohmann::json count_json(const std::map<std::string, int64_t>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : counts) j[k] = v;
  return j;
}

// Counts of the sampling and validation of one run or part (summed by `rawmed merge`).
struct Tally {
  int64_t sampled = 0, written = 0, unchecked = 0, repaired = 0, suppressed = 0, suppressed_events = 0, rounds = 0;
  double sample_seconds = 0, decode_seconds = 0;
  std::map<std::string, int64_t> failures, failure_examples_seen, dropped_events;
  std::map<std::string, int64_t> rule_violations, rule_repairs, rule_rejections;
  nlohmann::json failure_examples = nlohmann::json::object();

  void count_verdict(const StayVerdict& verdict) {
    for (const auto& [reason, count] : verdict.dropped_invalid_events) dropped_events[reason] += count;
    for (const auto& [kind, count] : verdict.rule_violations) rule_violations[kind] += count;
    for (const auto& [kind, count] : verdict.rule_repairs) rule_repairs[kind] += count;
    if (!verdict.ok && verdict.reason == Failure::kRuleViolation) ++rule_rejections[verdict.rule_kind];
    if (!verdict.ok) {
      std::string reason = failure_name(verdict.reason);
      ++failures[reason];
      if (failure_examples_seen[reason]++ < 3) failure_examples[reason].push_back(verdict.detail);
      return;
    }
    repaired += verdict.repaired_values;
    suppressed += verdict.suppressed_values;
    suppressed_events += verdict.suppressed_events;
  }

  nlohmann::json to_json() const {
    const int64_t rejected = sampled - written;
    return {{"stays_sampled", sampled},
            {"stays_rejected", rejected},
            {"rejection_rate", sampled > 0 ? static_cast<double>(rejected) / static_cast<double>(sampled) : 0.0},
            {"stays_sampled_unchecked", unchecked},
            {"failures_by_reason", count_json(failures)},
            {"failure_examples", failure_examples},
            {"repaired_categorical_values", repaired},
            {"suppressed_rare_values", suppressed},
            {"suppressed_rare_item_events", suppressed_events},
            {"dropped_invalid_events_by_reason", count_json(dropped_events)},
            {"constraints",
             {{"violations_by_kind", count_json(rule_violations)},
              {"repairs_by_kind", count_json(rule_repairs)},
              {"rejected_stays_by_kind", count_json(rule_rejections)}}},
            {"rounds", rounds},
            {"sample_seconds", sample_seconds},
            {"decode_seconds", decode_seconds}};
  }
};

// Samples, decodes and validates the stays of one block (generate/shard.h) until all its slots
// hold a valid stay. Every random choice comes from the run seed and the block or slot, never
// from what other blocks did, so a block comes out the same in any shard.
struct BlockSampler {
  const GenerateArgs& args;
  const Settings& settings;
  const Dataset& dataset;
  const ValidationRules& rules;
  const EventGrammar& grammar;
  const CohortModel& cohort_model;
  const IdMinter &stay_ids, &patient_ids, &admission_ids;

  void fill_block(const StayBlock& block, const StayCondition& condition, std::vector<SyntheticStay>* accepted,
                  Tally* tally, Progress& progress) const {
    const int64_t max_sampled =
        static_cast<int64_t>(std::ceil(settings.config.max_sample_factor * static_cast<double>(block.size)));
    int64_t written = 0, sampled = 0;
    for (int64_t round = 0; written < block.size; ++round) {
      if (sampled >= max_sampled)
        fail("generate: only {} of the {} stays of block {} (stays {} to {}) passed validation after sampling {} "
             "(the bound is {} x the block's stays, [generate] max_sample_factor); rejections by reason so far: {}. "
             "Train longer or raise the bound.",
             written, block.size, block.index, block.first_slot + 1, block.first_slot + block.size, sampled,
             settings.config.max_sample_factor, count_json(tally->failures).dump());
      const int64_t need = block.size - written;
      const double accept_rate = sampled > 0 ? std::max(0.05, static_cast<double>(written) / sampled) : 0.9;
      temporal::SampleOptions options = settings.sample;
      options.n = std::min(max_sampled - sampled, static_cast<int64_t>(std::ceil(need / accept_rate * 1.1)) + 1);
      options.gender = condition.gender;
      options.age_group = condition.age_group;
      options.seed = block_round_seed(args.seed, block.index, round);
      ++tally->rounds;
      auto t0 = Clock::now();
      temporal::SampledStays samples = temporal::sample_stays(args.work, options);
      tally->sample_seconds += seconds_since(t0);
      const size_t n_events = samples.event_minutes.size();
      auto t1 = Clock::now();
      codec::DecodedTokens decoded =
          codec::decode_codes(args.work, samples.codes, n_events, grammar, args.device, args.threads);
      tally->decode_seconds += seconds_since(t1);
      const size_t L = static_cast<size_t>(decoded.tokens_per_event);
      if (n_events > 0 && decoded.tokens.size() != n_events * L)
        fail("generate: the codec decoded {} tokens for {} events of {} tokens", decoded.tokens.size(), n_events, L);

      const size_t n_stays = samples.num_stays();
      for (size_t s = 0; s < n_stays; ++s) {
        if (written >= block.size) {
          tally->unchecked += static_cast<int64_t>(n_stays - s);
          break;
        }
        ++sampled;
        ++tally->sampled;
        SyntheticStay stay;
        for (uint64_t e = samples.stay_offsets[s]; e < samples.stay_offsets[s + 1]; ++e)
          stay.events.push_back({samples.event_minutes[e],
                                 dataset.vocab.decode_event(&decoded.tokens[e * L], &decoded.types[e * L], L)});
        StayVerdict verdict = rules.check_stay(stay.events);
        tally->count_verdict(verdict);
        if (!verdict.ok) continue;
        const int64_t slot = block.first_slot + written++;
        stay.stay_id = stay_ids.id(static_cast<uint64_t>(slot));
        stay.patient_id = patient_ids.id(static_cast<uint64_t>(slot));
        stay.admission_id = admission_ids.id(static_cast<uint64_t>(slot));
        std::mt19937_64 rng(slot_seed(args.seed, slot));
        fill_cohort_row(cohort_model, samples, s, &stay, rng);
        accepted->push_back(std::move(stay));
        ++tally->written;
        progress.advance();
      }
    }
  }
};

nlohmann::json generate_settings_json(const Settings& settings, const GenerateArgs& args, int64_t n) {
  nlohmann::json out = fields_to_json(settings.config);
  out["n"] = n;
  out["seed"] = args.seed;
  out["device"] = args.device;
  return out;
}

fs::path rejected_path(const fs::path& out) {
  fs::path p = out;
  p += ".rejected";
  return p;
}

}  // namespace

std::vector<fs::path> raw_input_files(const Config& config) {
  const DatasetSpec& spec = config.dataset;
  std::vector<fs::path> files = {spec.cohort.stays_file, spec.cohort.patients_file};
  for (const auto& t : spec.tables) {
    files.push_back(t.file);
    if (t.dictionary) files.push_back(t.dictionary->file);
  }
  return files;
}

namespace {

ManifestInputs manifest_inputs(const ReleaseArgs& args, const Config& config, const ReleaseConfig& release,
                               const nlohmann::json& gate) {
  ManifestInputs manifest;
  manifest.work = args.work;
  manifest.config_path = args.config_path;
  manifest.raw_files = raw_input_files(config);
  manifest.settings = args.settings;
  manifest.release = fields_to_json(release);
  manifest.gate = gate;
  manifest.license = release.license;
  return manifest;
}

// A part of a sharded run: the tables and generate.json, and a MANIFEST.json that says the gate
// is deferred to `rawmed merge` (so `rawmed verify` works on a part too). No gate here: the
// merged database is the one released, and the gate's figures need all of it.
void write_part(AtomicDir& out, const ReleaseArgs& args, const Config& config, nlohmann::json& summary) {
  nlohmann::json gate = {{"enabled", false}, {"deferred_to", "rawmed merge"}};
  summary["release_gate"] = gate;
  write_json_atomic(out.path() / "generate.json", summary);
  write_manifest(out.path(), manifest_inputs(args, config, ReleaseConfig::from_config(config), gate));
  out.commit();
}

}  // namespace

void release_or_reject(AtomicDir& out, const ReleaseArgs& args, const Config& config, nlohmann::json& summary) {
  ReleaseConfig release = ReleaseConfig::from_config(config);
  const bool gate_on = release.gate && !args.no_gate;
  nlohmann::json gate = {{"enabled", gate_on}};
  if (!gate_on) gate["disabled_by"] = args.no_gate ? "--no-gate" : "[release] gate = false";
  GateResult verdict;
  if (gate_on) {
    auto t0 = Clock::now();
    eval::EvalConfig eval = eval::EvalConfig::from_config(config);
    eval.seed = args.seed;
    eval.threads = args.threads;
    verdict = check_release_gate(args.work / "real", out.path(), release, eval, config.dataset.min_patients_for_token);
    gate.update(verdict.to_json());
    gate["seconds"] = seconds_since(t0);
  }
  summary["release_gate"] = gate;
  write_json_atomic(out.path() / "generate.json", summary);
  if (!verdict.passed) write_json_atomic(out.path() / "REJECTED.json", {{"reasons", verdict.reasons}, {"gate", gate}});

  write_manifest(out.path(), manifest_inputs(args, config, release, gate));

  if (verdict.passed) {
    if (is_database_location(args.out))
      publish_database_folder(out.path(), args.out, source_column_types(config.dataset));
    else
      out.commit();
    if (fs::exists(rejected_path(args.out_path))) fs::remove_all(rejected_path(args.out_path));
    if (gate_on) log_info("generate: release gate passed");
    else log_info("generate: release gate off ({}), recorded in {}", gate["disabled_by"].get<std::string>(), kManifestFile);
    return;
  }
  out.commit_as(rejected_path(args.out_path));
  std::string reasons;
  for (const auto& r : verdict.reasons) reasons += "\n  - " + r;
  fail("generate: the release gate rejected the database; it is kept under {} (REJECTED.json):{}",
       rejected_path(args.out_path).string(), reasons);
}

nlohmann::json run_generate(const GenerateArgs& args) {
  auto start = Clock::now();
  const fs::path config_path = args.config.empty() ? args.work / "config.toml" : args.config;
  Config config = load_config(config_path);
  Settings settings = read_settings(config, args);
  // --out may name a database (ingest/db_tables.h): the folder is then staged and published there.
  const bool to_database = is_database_location(args.out.string());
  if (to_database) parse_database_location(args.out.string());  // a password in the URL stops here, before sampling
  if (!args.shard.empty() && (args.out.empty() || to_database))
    fail("generate: --shard writes a part into the folder --out names (merge the parts with `rawmed merge`)");
  if (!args.shard.empty() && args.no_gate)
    fail("generate: --shard never runs the release gate (`rawmed merge` runs it on the merged database); "
         "pass --no-gate to `rawmed merge` instead");
  const fs::path out_path =
      args.out.empty() ? args.work / "synthetic" : to_database ? args.work / ".synthetic-publish" : args.out;

  Dataset dataset = Dataset::load(args.work / "dataset");
  const GenerateConfig& g = settings.config;
  settings.sample.code_grammar = temporal::load_code_grammar(
      args.work, dataset,
      {g.code_grammar_depth,
       g.code_grammar_min_patients > 0 ? g.code_grammar_min_patients : config.dataset.min_patients_for_token,
       g.code_grammar_escape});
  DbSchema schema = DbSchema::load(args.work / "real" / "train");
  int64_t train_stays = 0;
  for (const auto& s : dataset.stays) train_stays += s.split == kTrain;
  const std::vector<StayCondition> conditions = stay_conditions(args, train_stays);
  int64_t n = 0;
  for (const auto& c : conditions) n += c.count;
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
  writer.anchor_seconds = *parse_datetime(settings.config.anchor);
  for (const auto& t : schema.tables)
    if (!t.dictionary_column.empty())
      writer.label_to_code[t.name] = invert_dictionary(
          t.dictionary_labels, count_column(args.work / "real" / "train" / t.file, t.dictionary_column));
  const IdMinter stay_ids(real_ids(args.work, config, "stay_id", cohort.stay_id));
  const IdMinter patient_ids(real_ids(args.work, config, "patient_id", cohort.patient_id));
  const IdMinter admission_ids(real_ids(args.work, config, "admission_id", cohort.admission_id));
  const CohortModel cohort_model(args.work / "real" / "train" / kCohortFile, schema.time_kind, writer.anchor_seconds,
                                 config.dataset.min_patients_for_token);
  const EventGrammar grammar(dataset.vocab, dataset.columns, dataset.decimals(), constraints ? &*constraints : nullptr);
  const BlockSampler sampler{args, settings, dataset, rules, grammar, cohort_model, stay_ids, patient_ids, admission_ids};

  std::vector<int64_t> counts;
  for (const auto& c : conditions) counts.push_back(c.count);
  const std::vector<StayBlock> blocks = plan_blocks(counts, settings.config.block_stays);
  const ShardSpec shard = args.shard.empty() ? ShardSpec{} : parse_shard(args.shard);
  const auto [first_block, last_block] = shard_block_range(blocks.size(), shard);
  int64_t shard_stays = 0;
  for (size_t b = first_block; b < last_block; ++b) shard_stays += blocks[b].size;

  Tally tally;
  std::vector<SyntheticStay> accepted;
  std::vector<size_t> condition_of;
  Progress progress("generate", shard_stays, "stays");
  for (size_t b = first_block; b < last_block; ++b) {
    const size_t before = accepted.size();
    sampler.fill_block(blocks[b], conditions[blocks[b].condition], &accepted, &tally, progress);
    condition_of.resize(accepted.size(), blocks[b].condition);
    if (accepted.size() - before != static_cast<size_t>(blocks[b].size))
      fail("generate: block {} wrote {} of {} stays", b, accepted.size() - before, blocks[b].size);
  }
  progress.finish();

  AtomicDir out(out_path);
  auto events_per_table = write_database(out.path(), writer, accepted);
  int64_t events = 0;
  for (const auto& [t, c] : events_per_table) events += c;
  nlohmann::json summary = tally.to_json();
  summary.update(nlohmann::json{
      {"format", "rawmed-generate/1"},
      {"stays", accepted.size()},
      {"events", events},
      {"events_per_table", count_json(events_per_table)},
      {"invalid_events", settings.config.invalid_events},
      {"seconds", seconds_since(start)},
      {"seed", args.seed},
      {"settings", generate_settings_json(settings, args, n)},
      {"conditions", condition_report(conditions, accepted, condition_of)},
      {"code_grammar", settings.sample.code_grammar ? settings.sample.code_grammar->summary() : nlohmann::json(nullptr)},
      {"validation", {{"window_minutes", settings.rules.window_minutes}, {"min_patients", settings.rules.min_patients}}},
      {"config", config_path.string()},
      {"inputs",
       {{"codec/model.pt", fs::exists(args.work / "codec/model.pt") ? file_crc32(args.work / "codec/model.pt") : ""},
        {"temporal/model.pt",
         fs::exists(args.work / "temporal/model.pt") ? file_crc32(args.work / "temporal/model.pt") : ""}}},
      {"versions", torch_runtime_info()},
  });
  summary["constraints"]["file"] = constraints ? nlohmann::json(constraints_file.string()) : nlohmann::json(nullptr);
  ReleaseArgs release{args.work, config_path, args.out.string(), out_path, args.no_gate, args.seed, args.threads,
                      generate_settings_json(settings, args, n)};
  if (!args.shard.empty()) {
    summary["part"] = {{"index", shard.index},  {"count", shard.count},
                       {"blocks", {first_block, last_block}}, {"first_stay", first_block < last_block ? blocks[first_block].first_slot : n},
                       {"stays", shard_stays}, {"run_stays", n}};
    write_part(out, release, config, summary);
  } else {
    write_json_atomic(out.path() / "generate.json", summary);
    release_or_reject(out, release, config, summary);
  }
  log_info("generate: {} stays ({} sampled, rejection rate {:.1f}%), {} events -> {}", accepted.size(),
           tally.sampled, 100.0 * summary["rejection_rate"].get<double>(), events,
           to_database ? args.out.string() : out_path.string());
  return summary;
}

}  // namespace rawmed::generate
