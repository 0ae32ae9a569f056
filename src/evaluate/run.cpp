// The evaluation driver: loads the real splits and the candidate, scores both the candidate and the
// real holdout (the noise floor) against real train, at full size and over size-matched resamples
// (intervals and verdicts), and writes metrics.json and report.html into the report folder atomically.
#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "evaluate/evaluate.h"
#include "evaluate/resample.h"
#include "evaluate/rules.h"
#include "evaluate/table_util.h"
#include "evaluate/utility.h"
#include "common/config.h"
#include "common/config_fields.h"
#include "rawmed_version.h"

#include <ctime>
#include <map>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace rawmed::eval {

nlohmann::json EvalConfig::to_json() const {
  nlohmann::json out = fields_to_json(*this);
  out["threads"] = threads;
  return out;
}

EvalConfig EvalConfig::from_config(const Config& config) {
  EvalConfig c;
  // The sub-tables belong to their sections (utility.cpp, nep_config.cpp).
  apply_fields(c, config_section(config, "evaluate"), "evaluate", config.path, {"utility", "predsim", "nep"});
  if (c.resamples < 0 || c.attribute_items < 0)
    fail("{}: [evaluate] resamples and attribute_items must be >= 0", config.path.string());
  if (c.min_item_rows < 1 || c.min_column_values < 1 || c.min_item_rows_pcc < 2 || c.min_item_rows_pcc_other < 2 || c.top_items_intertable < 1 || c.privacy_items < 1)
    fail("{}: [evaluate] min_item_rows >= 1, min_column_values >= 1, min_item_rows_pcc(_other) >= 2, top_items_intertable >= 1 and privacy_items >= 1 "
         "are required",
         config.path.string());
  return c;
}

namespace {

// A headline number of a section: summary row, interval and verdict.
struct MetricSpec {
  const char* key;
  const char* label;
  Direction better;
};

// A section scored on the candidate and on the real holdout, full size and resampled. `privacy`:
// scored against non-member stays (the resamples split the holdout by patient: one half is scored,
// the other half are the non-members, for both sides).
struct SectionSpec {
  const char* name;
  ScorerFactory make;
  std::vector<MetricSpec> metrics;
  bool privacy = false;
};

constexpr Direction kLower{Direction::kLower};
constexpr Direction kHigher{Direction::kHigher};
constexpr Direction kTwoSided{Direction::kTwoSided};
constexpr Direction kHalf{Direction::kCloserTo, 0.5};
constexpr Direction kZero{Direction::kCloserTo, 0.0};

// The resampled sections, in report order. Adding a section is one entry (per_call() adapts a
// plain `json f(train, other, pool, config)` function).
const std::vector<SectionSpec>& resampled_sections() {
  static const std::vector<SectionSpec> sections = {
      {"fidelity", fidelity_scorer(),
       {{"cde", "CDE (KS / JS distance per column)", kLower},
        {"icde", "I-CDE (per item; absent items score 1)", kLower},
        {"missing_rate_diff", "Missing-rate difference per column", kLower}}},
      {"associations", associations_scorer(),
       {{"pcc", "PCC (association matrices, mean |diff|)", kLower},
        {"ipcc", "I-PCC (per item)", kLower},
        {"ipcc_share_scored", "I-PCC share of items scored", kHigher}}},
      {"intertable", intertable_scorer(), {{"intertable", "Inter-table item association (mean |phi diff|)", kLower}}},
      {"temporal", temporal_scorer(),
       {{"gap_ks", "Inter-event gap KS", kLower},
        {"time_ks", "Event time KS", kLower},
        {"count_ks", "Events per stay KS", kLower}}},
      {"privacy", privacy_scorer(),
       {{"dcr_train_median", "DCR to train, median (per patient)", kTwoSided},
        {"dcr_share", "DCR share (closer to train than to non-members)", kLower},
        {"dcr_ratio", "DCR ratio (distance to train / (to train + to non-members))", kHigher},
        {"mia_auc", "Membership attack AUC (per patient)", kHalf},
        {"mia_accuracy", "Membership attack accuracy", kHalf},
        {"attribute_advantage", "Attribute inference advantage (members - non-members)", kZero},
        {"exact_stay_copies", "Exact stay copies (share)", kLower},
        {"exact_event_copies", "Exact event copies (share)", kLower},
        {"exact_row_copies", "Exact row copies, time ignored (share)", kLower}},
       true},
      {"validity", validity_scorer(), {{"invalid_share", "Invalid rows (range / category / window)", kLower}}},
      {"rules", rules_scorer(), {{"share_satisfying_all", "Rows satisfying every rule learned from train (share)", kHigher}}},
  };
  return sections;
}

// Figures reported for full MIMIC-IV (12 h window) in the RawMed paper, shown beside ours; they
// come from tens of thousands of stays, so only the noise floor on the same data is a fair bar.
nlohmann::json paper_anchor(const std::string& metric) {
  static const std::map<std::string, double> anchors = {{"cde", 0.04},      {"icde", 0.05},    {"pcc", 0.04},
                                                        {"ipcc", 0.10},     {"gap_ks", 0.01},  {"count_ks", 0.02},
                                                        {"mia_accuracy", 0.498}, {"tstr_auroc_mean", 0.87},
                                                        {"trtr_auroc_mean", 0.90}};
  auto it = anchors.find(metric);
  return it == anchors.end() ? nlohmann::json() : nlohmann::json(it->second);
}

nlohmann::json input_record(const Database& db) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, crc] : db.file_crc32) files[name] = crc;
  return {{"path", fs::absolute(db.dir).lexically_normal().string()},
          {"stays", db.stays.size()},
          {"rows", db.total_rows()},
          {"crc32", files}};
}

nlohmann::json get_or_null(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
  }
  return *cur;
}

double number_or_nan(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : NAN; }

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

// The real non-train stays that serve as the noise floor (and as privacy non-members).
struct Holdout {
  Database db;
  std::string note;
};

Holdout make_holdout(const Database& train, const Database& test, const Database* valid, const Database& candidate,
                     bool pool) {
  const bool candidate_is_test = same_data(candidate, test);
  const bool candidate_is_valid = valid && same_data(candidate, *valid);
  std::vector<const Database*> parts;
  std::vector<std::string> names;
  if (!candidate_is_test) parts.push_back(&test), names.push_back("test");
  if (valid && !candidate_is_valid && (pool || parts.empty())) parts.push_back(valid), names.push_back("valid");
  std::vector<StayRef> refs;
  for (const Database* part : parts)
    for (size_t s = 0; s < part->stays.size(); ++s) refs.push_back({part, static_cast<int32_t>(s)});
  Holdout h{database_of_stays(refs, train), ""};
  h.db.dir = parts.empty() ? fs::path() : parts.front()->dir;
  if (names.empty()) h.note = "none: the candidate is the only real holdout split";
  else if (names.size() == 2) h.note = "valid + test splits pooled";
  else h.note = names.front() + " split" + (candidate_is_test || candidate_is_valid ? " (the candidate is the other holdout split)" : "");
  return h;
}

// One resample's headline values: [section][metric] for the candidate and for the holdout.
struct ResampleValues {
  std::vector<std::vector<double>> candidate, floor;
};

std::vector<double> headline_values(const SectionSpec& spec, const nlohmann::json& scored) {
  std::vector<double> out;
  for (const MetricSpec& m : spec.metrics) out.push_back(number_or_nan(get_or_null(scored, {m.key})));
  return out;
}

// Resample r: the candidate and the holdout bootstrapped (or the candidate subsampled) at n =
// holdout stays, whole patients; for privacy, the holdout's patients split in halves: one half scored, the other the
// non-members, and the candidate subsampled to the scored half's size.
ResampleValues run_resample(int r, const std::vector<std::unique_ptr<SectionScorer>>& scorers, const Database& candidate,
                            const Database& holdout, const EvalConfig& config) {
  const auto& specs = resampled_sections();
  const ResampleDraw draw = draw_resample(candidate, holdout, config.seed, r, config.candidate_bootstrap);
  Database c = database_of_stays(candidate, draw.candidate), b = database_of_stays(holdout, draw.holdout_bootstrap);
  Database h1 = database_of_stays(holdout, draw.scored_half), h2 = database_of_stays(holdout, draw.nonmember_half);
  Database c1 = database_of_stays(candidate, draw.candidate_half);
  ResampleValues out;
  for (size_t k = 0; k < specs.size(); ++k) {
    const SectionSpec& spec = specs[k];
    auto safe = [&](const Database& other, const Database* nonmembers) {
      try {
        return headline_values(spec, scorers[k]->score(other, nonmembers));
      } catch (const std::exception&) {
        return std::vector<double>(spec.metrics.size(), NAN);
      }
    };
    out.candidate.push_back(spec.privacy ? safe(c1, &h2) : safe(c, nullptr));
    out.floor.push_back(spec.privacy ? safe(h1, &h2) : safe(b, nullptr));
  }
  return out;
}

std::vector<ResampleValues> run_resamples(const std::vector<std::unique_ptr<SectionScorer>>& scorers,
                                          const Database& candidate, const Database& holdout, const EvalConfig& config) {
  const int R = holdout.stays.empty() || candidate.stays.empty() ? 0 : config.resamples;
  std::vector<ResampleValues> results(static_cast<size_t>(R));
  int threads = config.threads > 0 ? config.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min(threads, R));
  Progress progress("evaluate resamples", R, "resamples");
  std::mutex mutex;
  std::exception_ptr first_error;  // a worker's exception is rethrown after every thread is joined
  auto worker = [&](int first) {
    try {
      for (int r = first; r < R; r += threads) {
        results[static_cast<size_t>(r)] = run_resample(r, scorers, candidate, holdout, config);
        std::lock_guard lock(mutex);
        progress.advance();
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  if (R > 0) worker(0);
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
  progress.finish();
  return results;
}

nlohmann::json summary_row(const char* section, const MetricSpec& m, const nlohmann::json& synthetic,
                           const nlohmann::json& floor, const Interval& syn_interval, const Interval& floor_interval,
                           const nlohmann::json& expected = nullptr) {
  return {{"section", section},
          {"metric", m.key},
          {"label", m.label},
          {"better", m.better.text()},
          {"synthetic", synthetic},
          {"noise_floor", floor},
          {"synthetic_interval", syn_interval.to_json()},
          {"noise_floor_interval", floor_interval.to_json()},
          {"verdict", verdict(syn_interval, floor_interval, m.better)},
          {"anchor_paper", paper_anchor(m.key)},
          {"expected", expected}};
}

// The interval of a utility-style headline: mean and interval given by the section itself.
Interval interval_from(const nlohmann::json& j) {
  Interval out;
  if (!j.is_object()) return out;
  out.mean = number_or_nan(j.value("mean", nlohmann::json()));
  out.lo = number_or_nan(j.value("lo", nlohmann::json()));
  out.hi = number_or_nan(j.value("hi", nlohmann::json()));
  out.n = std::isnan(out.lo) || std::isnan(out.hi) ? 0 : j.value("resamples", size_t{1});
  return out;
}

// What a model section reads: the real splits, the candidate and the [evaluate] table.
struct ModelSectionInputs {
  const Database& train;
  const Database& holdout;
  const Database& candidate;
  const StringPool& pool;
  const toml::table& evaluate;  // [evaluate] (empty without a config)
  const fs::path& config_path;
  const EvaluateRequest& request;
};

// A section scored once, outside the shared resamples (most train a model per side, real train
// and synthetic; subgroups draws its own): its run function and the summary rows it adds.
struct ModelSectionSpec {
  const char* name;
  std::function<nlohmann::json(const ModelSectionInputs&)> run;
  std::function<void(nlohmann::json& rows, const nlohmann::json& section)> summary;
};

void utility_rows(nlohmann::json& rows, const nlohmann::json& utility) {
  if (!utility.contains("headline")) return;
  const auto& h = utility["headline"];
  MetricSpec m{"tstr_auroc_mean", "Utility AUROC: TSTR (synthetic) vs TRTR (real)", kHigher};
  rows.push_back(summary_row("utility", m, get_or_null(h, {"tstr_auroc_mean"}), get_or_null(h, {"trtr_auroc_mean"}),
                             interval_from(get_or_null(h, {"tstr_interval"})),
                             interval_from(get_or_null(h, {"trtr_interval"}))));
  rows.back()["noise_floor_anchor_paper"] = paper_anchor("trtr_auroc_mean");
  MetricSpec ratio{"tstr_trtr_ratio", "Utility ratio TSTR / TRTR", kHigher};
  Interval ratio_interval = interval_from(get_or_null(h, {"ratio_interval"}));
  rows.push_back(summary_row("utility", ratio, get_or_null(h, {"tstr_trtr_ratio"}), 1.0, ratio_interval,
                             Interval{1.0, 1.0, 1.0, 1}));
}

void predsim_rows(nlohmann::json& rows, const nlohmann::json& predsim) {
  if (!predsim.contains("headline")) return;
  for (const char* key : {"smape", "error_rate"}) {
    std::string tstr = std::string("tstr_") + key + "_mean", trtr = std::string("trtr_") + key + "_mean";
    rows.push_back({{"section", "predictive_similarity"},
                    {"metric", tstr},
                    {"label", std::string("Column prediction ") + key + ": TSTR vs TRTR"},
                    {"better", "lower"},
                    {"synthetic", get_or_null(predsim, {"headline", tstr.c_str()})},
                    {"noise_floor", get_or_null(predsim, {"headline", trtr.c_str()})},
                    {"verdict", "no interval (one model per side)"}});
  }
}

void next_event_rows(nlohmann::json& rows, const nlohmann::json& nep) {
  if (!nep.contains("headline") || !nep["headline"].is_object()) return;
  for (auto& [key, value] : nep["headline"].items())
    if (key.rfind("tstr", 0) == 0 && (value.is_number() || value.is_null())) {
      std::string trtr = "trtr" + key.substr(4);
      rows.push_back({{"section", "next_event"},
                      {"metric", key},
                      {"label", "Next-event prediction " + key.substr(5) + ": TSTR vs TRTR"},
                      {"better", key.find("loss") != std::string::npos ? "lower" : "higher"},
                      {"synthetic", value},
                      {"noise_floor", get_or_null(nep, {"headline", trtr.c_str()})},
                      {"verdict", "no interval (one model per side)"}});
    }
}

// The model sections, in report order. Adding one is one entry.
const std::vector<ModelSectionSpec>& model_sections() {
  static const std::vector<ModelSectionSpec> sections = {
      {"utility",
       [](const ModelSectionInputs& in) {
         // XGBoost keeps its own thread count ([evaluate.utility] threads, default 1): its OpenMP
         // threads spin-wait, which on a busy machine costs far more than it gains (utility.h).
         UtilityConfig utility = parse_utility_config(in.evaluate, in.config_path);
         return evaluate_utility(in.train, in.holdout, in.candidate, in.pool, utility);
       },
       utility_rows},
      {"predictive_similarity",
       [](const ModelSectionInputs& in) {
         PredsimConfig predsim = parse_predsim_config(in.evaluate, in.config_path);
         return evaluate_predictive_similarity(in.train, in.holdout, in.candidate, in.pool, predsim);
       },
       predsim_rows},
      {"subgroups",
       [](const ModelSectionInputs& in) { return evaluate_subgroups(in.train, in.holdout, in.candidate, in.request.eval); },
       [](nlohmann::json&, const nlohmann::json&) {}},
      {"next_event",
       [](const ModelSectionInputs& in) {
         if (!in.request.next_event)
           return nlohmann::json{{"not_computed", "next-event prediction is not available in this build"}};
         return in.request.next_event(in.train, in.holdout, in.candidate, in.pool);
       },
       next_event_rows},
  };
  return sections;
}

}  // namespace

ScorerFactory validity_scorer() { return per_call([](const Database& train, const Database& other, const StringPool&,
                                                     const EvalConfig& config) { return evaluate_validity(train, other, config); }); }

ScorerFactory per_call(std::function<nlohmann::json(const Database&, const Database&, const StringPool&, const EvalConfig&)> section) {
  class PerCall final : public SectionScorer {
   public:
    PerCall(const SectionContext& context, decltype(section) fn) : context_(context), fn_(std::move(fn)) {}
    nlohmann::json score(const Database& other, const Database*) const override {
      return fn_(context_.train, other, context_.pool, context_.config);
    }

   private:
    SectionContext context_;
    decltype(section) fn_;
  };
  return [section](const SectionContext& context) { return std::make_unique<PerCall>(context, section); };
}

nlohmann::json run_evaluation(const EvaluateRequest& request) {
  auto start = Clock::now();
  EvalConfig config = request.eval;
  if (config.threads <= 0) config.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  StringPool pool;
  fs::path train_dir = request.real / "train", test_dir = request.real / "test", valid_dir = request.real / "valid";
  Database train = load_database(train_dir, pool);
  Database test = load_database(test_dir, pool, {.fallback_schema = &train.schema});
  check_same_schema(train.schema, test.schema, test_dir.string());
  std::optional<Database> valid;
  if (fs::exists(valid_dir / kCohortFile)) valid = load_database(valid_dir, pool, {.fallback_schema = &train.schema});
  Database synthetic = load_database(request.synthetic, pool, {.fallback_schema = &train.schema});
  check_same_schema(train.schema, synthetic.schema, request.synthetic.string());
  Holdout holdout = make_holdout(train, test, valid ? &*valid : nullptr, synthetic, config.pool_holdout);
  log_info("evaluate: train {} stays / {} rows, holdout ({}) {} / {}, candidate {} / {}", train.stays.size(),
           train.total_rows(), holdout.note, holdout.db.stays.size(), holdout.db.total_rows(), synthetic.stays.size(),
           synthetic.total_rows());
  if (synthetic.stays.empty()) log_info("evaluate: the candidate has no stays: its scores are the worst or null");

  nlohmann::json sections = nlohmann::json::object(), timing = nlohmann::json::object();
  const auto& specs = resampled_sections();
  const SectionContext context{train, pool, config, request.real};
  std::vector<std::unique_ptr<SectionScorer>> scorers;
  std::vector<bool> usable;
  for (const SectionSpec& spec : specs) {
    auto t0 = Clock::now();
    try {
      scorers.push_back(spec.make(context));
      const Database* nonmembers = holdout.db.stays.empty() ? nullptr : &holdout.db;
      nlohmann::json s = {{"synthetic", scorers.back()->score(synthetic, spec.privacy ? nonmembers : nullptr)}};
      if (spec.privacy) {
        std::mt19937_64 rng(config.seed);
        auto [scored, others] = split_patients(stays_by_patient(holdout.db), rng);
        Database h1 = database_of_stays(holdout.db, scored), h2 = database_of_stays(holdout.db, others);
        s["real_holdout"] = scorers.back()->score(h1, h2.stays.empty() ? nullptr : &h2);
        s["real_holdout"]["note"] = "one half of the holdout's patients scored, the other half as non-members";
      } else {
        s["real_holdout"] = scorers.back()->score(holdout.db, nullptr);
      }
      sections[spec.name] = s;
      usable.push_back(true);
    } catch (const std::exception& e) {
      if (scorers.size() < usable.size() + 1) scorers.push_back(nullptr);
      sections[spec.name] = {{"error", e.what()}};
      usable.push_back(false);
      log_info("evaluate: section {} failed: {}", spec.name, e.what());
    }
    timing[spec.name] = seconds_since(t0);
  }

  auto t_resample = Clock::now();
  std::vector<ResampleValues> resamples;
  bool all_usable = std::all_of(usable.begin(), usable.end(), [](bool u) { return u; });
  if (all_usable) resamples = run_resamples(scorers, synthetic, holdout.db, config);
  timing["resamples"] = seconds_since(t_resample);

  nlohmann::json rows = nlohmann::json::array();
  for (size_t k = 0; k < specs.size(); ++k) {
    const SectionSpec& spec = specs[k];
    nlohmann::json intervals = nlohmann::json::object();
    for (size_t m = 0; m < spec.metrics.size(); ++m) {
      std::vector<double> cv, fv;
      for (const auto& r : resamples) cv.push_back(r.candidate[k][m]), fv.push_back(r.floor[k][m]);
      Interval ci = interval_of(cv), fi = interval_of(fv);
      const MetricSpec& metric = spec.metrics[m];
      rows.push_back(summary_row(spec.name, metric, get_or_null(sections[spec.name], {"synthetic", metric.key}),
                                 get_or_null(sections[spec.name], {"real_holdout", metric.key}), ci, fi));
      intervals[metric.key] = rows.back();
    }
    if (!sections[spec.name].contains("error")) sections[spec.name]["intervals"] = intervals;
  }

  static const toml::table kEmpty;
  const toml::table& evaluate_table = request.config ? config_section(*request.config, "evaluate") : kEmpty;
  const ModelSectionInputs model_inputs{train, holdout.db, synthetic, pool, evaluate_table, request.config_path, request};
  for (const ModelSectionSpec& spec : model_sections()) {
    auto t0 = Clock::now();
    try {
      sections[spec.name] = spec.run(model_inputs);
    } catch (const std::exception& e) {
      sections[spec.name] = {{"error", e.what()}};
      log_info("evaluate: section {} failed: {}", spec.name, e.what());
    }
    timing[spec.name] = seconds_since(t0);
  }
  for (const ModelSectionSpec& spec : model_sections())
    spec.summary(rows, sections.value(spec.name, nlohmann::json::object()));

  nlohmann::json inputs = {{"real_train", input_record(train)},
                           {"real_test", input_record(test)},
                           {"synthetic", input_record(synthetic)}};
  if (valid) inputs["real_valid"] = input_record(*valid);
  if (!request.synthetic_location.empty()) inputs["synthetic"]["location"] = request.synthetic_location;
  if (!request.real_location.empty())
    for (const char* split : {"train", "valid", "test"})
      if (inputs.contains(std::string("real_") + split))
        inputs[std::string("real_") + split]["location"] = request.real_location + " (" + split + ")";
  nlohmann::json metrics = {
      {"format", "rawmed-report/2"},
      {"rawmed_version", RAWMED_VERSION},
      {"created_utc", utc_now()},
      {"dataset", train.schema.dataset},
      {"inputs", inputs},
      {"holdout", {{"splits", holdout.note}, {"stays", holdout.db.stays.size()}, {"patients", stays_by_patient(holdout.db).size()}}},
      {"resampling",
       {{"resamples", resamples.size()},
        {"n", holdout.db.stays.size()},
        {"candidate", config.candidate_bootstrap
                          ? "bootstrap resamples of n stays, whole patients, with replacement"
                          : "subsamples of n stays, whole patients, without replacement (with, when the candidate has fewer)"},
        {"noise_floor", "bootstrap resamples of n holdout stays, whole patients, with replacement"},
        {"privacy", "holdout patients split in halves: one half scored, the other the non-members; the candidate "
                    "subsampled to the scored half's size"},
        {"interval", "5th to 95th percentile over the resamples (90%)"}}},
      {"config", config.to_json()},
      {"config_file", request.config_path.empty() ? nlohmann::json() : nlohmann::json(request.config_path.string())},
      {"seeds", {{"evaluate", config.seed}}},
      {"versions", request.versions},
      {"sections", sections},
  };
  metrics["summary"] = rows;
  metrics["seconds"] = timing;
  metrics["seconds"]["total"] = seconds_since(start);

  std::string html = render_report_html(metrics, train, holdout.db, synthetic, pool, config);
  AtomicDir out(request.out);
  write_json_atomic(out.path() / "metrics.json", metrics);
  write_file_atomic(out.path() / "report.html", html);
  out.commit();
  log_info("evaluate: wrote {} ({:.1f} s)", request.out.string(), metrics["seconds"]["total"].get<double>());
  return metrics;
}

}  // namespace rawmed::eval
