// The evaluation driver: loads the real splits and the synthetic database, runs every section for
// the synthetic data and for the real test split (the noise floor), writes metrics.json and
// report.html into the report folder atomically.
#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "evaluate/evaluate.h"
#include "evaluate/rules.h"
#include "evaluate/table_util.h"
#include "evaluate/utility.h"
#include "ingest/config.h"
#include "rawmed_version.h"

#include <ctime>

namespace rawmed::eval {

nlohmann::json EvalConfig::to_json() const {
  return {{"min_item_rows", min_item_rows},
          {"min_column_values", min_column_values},
          {"min_item_rows_pcc", min_item_rows_pcc},
          {"min_item_rows_pcc_other", min_item_rows_pcc_other},
          {"max_association_rows", max_association_rows},
          {"top_items_intertable", top_items_intertable},
          {"privacy_items", privacy_items},
          {"max_privacy_stays", max_privacy_stays},
          {"histogram_items", histogram_items},
          {"seed", seed},
          {"threads", threads}};
}

EvalConfig EvalConfig::from_config(const Config& config) {
  const toml::table& section = config_section(config, "evaluate");
  const char* ctx = "evaluate";
  check_keys(section,
             {"min_item_rows", "min_column_values", "min_item_rows_pcc", "min_item_rows_pcc_other", "max_association_rows", "top_items_intertable", "privacy_items",
              "max_privacy_stays", "histogram_items", "seed", "utility", "predsim", "nep"},
             ctx, config.path);
  EvalConfig c;
  c.min_item_rows = get_int(section, "min_item_rows", c.min_item_rows, ctx, config.path);
  c.min_item_rows_pcc = get_int(section, "min_item_rows_pcc", c.min_item_rows_pcc, ctx, config.path);
  c.min_column_values = get_int(section, "min_column_values", c.min_column_values, ctx, config.path);
  c.min_item_rows_pcc_other = get_int(section, "min_item_rows_pcc_other", c.min_item_rows_pcc_other, ctx, config.path);
  c.max_association_rows = get_int(section, "max_association_rows", c.max_association_rows, ctx, config.path);
  c.top_items_intertable =
      static_cast<int>(get_int(section, "top_items_intertable", c.top_items_intertable, ctx, config.path));
  c.privacy_items = static_cast<int>(get_int(section, "privacy_items", c.privacy_items, ctx, config.path));
  c.max_privacy_stays = get_int(section, "max_privacy_stays", c.max_privacy_stays, ctx, config.path);
  c.histogram_items = static_cast<int>(get_int(section, "histogram_items", c.histogram_items, ctx, config.path));
  c.seed = static_cast<uint64_t>(get_int(section, "seed", static_cast<int64_t>(c.seed), ctx, config.path));
  if (c.min_item_rows < 1 || c.min_column_values < 1 || c.min_item_rows_pcc < 2 || c.min_item_rows_pcc_other < 2 || c.top_items_intertable < 1 || c.privacy_items < 1)
    fail("{}: [evaluate] min_item_rows >= 1, min_column_values >= 1, min_item_rows_pcc(_other) >= 2, top_items_intertable >= 1 and privacy_items >= 1 "
         "are required",
         config.path.string());
  return c;
}

namespace {

nlohmann::json input_record(const Database& db) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, crc] : db.file_crc32) files[name] = crc;
  return {{"path", fs::absolute(db.dir).lexically_normal().string()},
          {"stays", db.stays.size()},
          {"rows", db.total_rows()},
          {"crc32", files}};
}

bool same_files(const Database& a, const Database& b) { return a.file_crc32 == b.file_crc32; }

nlohmann::json get_or_null(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
  }
  return *cur;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

// The headline table: each score for the synthetic data next to the real test split's.
nlohmann::json build_summary(const nlohmann::json& sections) {
  nlohmann::json rows = nlohmann::json::array();
  auto add = [&](const char* section, const char* key, const char* label, const char* better,
                 nlohmann::json expected = nullptr) {
    const auto& s = sections.value(section, nlohmann::json::object());
    rows.push_back({{"section", section},
                    {"metric", key},
                    {"label", label},
                    {"better", better},
                    {"synthetic", get_or_null(s, {"synthetic", key})},
                    {"noise_floor", get_or_null(s, {"real_test", key})},
                    {"expected", expected}});
  };
  add("fidelity", "cde", "CDE (KS / JS distance per column)", "lower");
  add("fidelity", "icde", "I-CDE (per item; absent items score 1)", "lower");
  add("fidelity", "missing_rate_diff", "Missing-rate difference per column", "lower");
  add("associations", "pcc", "PCC (association matrices, mean |diff|)", "lower");
  add("associations", "ipcc", "I-PCC (per item)", "lower");
  add("associations", "ipcc_share_scored", "I-PCC share of items scored", "higher");
  add("intertable", "intertable", "Inter-table item association (mean |phi diff|)", "lower");
  add("temporal", "gap_ks", "Inter-event gap KS", "lower");
  add("temporal", "time_ks", "Event time KS", "lower");
  add("temporal", "count_ks", "Events per stay KS", "lower");
  const auto& privacy = sections.value("privacy", nlohmann::json::object());
  add("privacy", "dcr_share", "DCR share (closer to train than holdout)", "closer to expected",
      get_or_null(privacy, {"synthetic", "dcr_share_expected"}));
  add("privacy", "mia_auc", "Membership attack AUC", "closer to 0.5", 0.5);
  add("privacy", "mia_accuracy", "Membership attack accuracy", "closer to 0.5", 0.5);
  add("privacy", "exact_stay_copies", "Exact stay copies (share)", "lower");
  add("privacy", "exact_event_copies", "Exact event copies (share)", "lower");
  add("validity", "invalid_share", "Invalid rows (range / category / window)", "lower");
  add("validity", "broken_references", "Broken references (rows)", "lower");
  add("rules", "share_satisfying_all", "Rows satisfying every rule learned from train (share)", "higher");
  const auto& utility = sections.value("utility", nlohmann::json::object());
  if (utility.contains("headline"))
    rows.push_back({{"section", "utility"},
                    {"metric", "tstr_auroc_mean"},
                    {"label", "Utility AUROC: TSTR (synthetic) vs TRTR (real)"},
                    {"better", "higher"},
                    {"synthetic", get_or_null(utility, {"headline", "tstr_auroc_mean"})},
                    {"noise_floor", get_or_null(utility, {"headline", "trtr_auroc_mean"})},
                    {"expected", nullptr}});
  const auto& predsim = sections.value("predictive_similarity", nlohmann::json::object());
  if (predsim.contains("headline")) {
    rows.push_back({{"section", "predictive_similarity"},
                    {"metric", "tstr_smape_mean"},
                    {"label", "Column prediction SMAPE: TSTR vs TRTR"},
                    {"better", "lower"},
                    {"synthetic", get_or_null(predsim, {"headline", "tstr_smape_mean"})},
                    {"noise_floor", get_or_null(predsim, {"headline", "trtr_smape_mean"})},
                    {"expected", nullptr}});
    rows.push_back({{"section", "predictive_similarity"},
                    {"metric", "tstr_error_rate_mean"},
                    {"label", "Column prediction error rate: TSTR vs TRTR"},
                    {"better", "lower"},
                    {"synthetic", get_or_null(predsim, {"headline", "tstr_error_rate_mean"})},
                    {"noise_floor", get_or_null(predsim, {"headline", "trtr_error_rate_mean"})},
                    {"expected", nullptr}});
  }
  const auto& nep = sections.value("next_event", nlohmann::json::object());
  if (nep.contains("headline") && nep["headline"].is_object())
    for (auto& [key, value] : nep["headline"].items())
      if (key.rfind("tstr", 0) == 0 && (value.is_number() || value.is_null())) {
        std::string trtr = "trtr" + key.substr(4);
        rows.push_back({{"section", "next_event"},
                        {"metric", key},
                        {"label", "Next-event prediction " + key.substr(5) + ": TSTR vs TRTR"},
                        {"better", key.find("loss") != std::string::npos ? "lower" : "higher"},
                        {"synthetic", value},
                        {"noise_floor", get_or_null(nep, {"headline", trtr.c_str()})},
                        {"expected", nullptr}});
      }
  return rows;
}

}  // namespace

nlohmann::json run_evaluation(const EvaluateRequest& request) {
  auto start = Clock::now();
  const EvalConfig& config = request.eval;
  StringPool pool;
  fs::path train_dir = request.real / "train", test_dir = request.real / "test", valid_dir = request.real / "valid";
  Database train = load_database(train_dir, pool);
  Database test = load_database(test_dir, pool, {.fallback_schema = &train.schema});
  check_same_schema(train.schema, test.schema, test_dir.string());
  std::optional<Database> valid;
  if (fs::exists(valid_dir / kCohortFile)) valid = load_database(valid_dir, pool, {.fallback_schema = &train.schema});
  Database synthetic = load_database(request.synthetic, pool, {.fallback_schema = &train.schema});
  check_same_schema(train.schema, synthetic.schema, request.synthetic.string());
  log_info("evaluate: train {} stays / {} rows, test {} / {}, synthetic {} / {}", train.stays.size(), train.total_rows(),
           test.stays.size(), test.total_rows(), synthetic.stays.size(), synthetic.total_rows());

  // Holdout for privacy: the test split, unless the synthetic data is the test split itself.
  const Database* syn_holdout = &test;
  std::string holdout_note = "test split";
  if (same_files(synthetic, test) || fs::equivalent(synthetic.dir, test.dir)) {
    syn_holdout = valid ? &*valid : nullptr;
    holdout_note = valid ? "valid split (the synthetic folder is the test split)" : "none";
  }
  const Database* floor_holdout = valid ? &*valid : nullptr;

  nlohmann::json sections = nlohmann::json::object(), timing = nlohmann::json::object();
  Progress progress("evaluate", 10, "sections");
  auto timed = [&](const std::string& name, auto&& fn) {
    progress.set_postfix(name);
    auto t0 = Clock::now();
    try {
      sections[name] = fn();
    } catch (const std::exception& e) {
      sections[name] = {{"error", e.what()}};
      log_info("evaluate: section {} failed: {}", name, e.what());
    }
    timing[name] = seconds_since(t0);
    progress.advance();
  };
  auto both = [&](auto&& fn) {
    return nlohmann::json{{"synthetic", fn(synthetic)}, {"real_test", fn(test)}};
  };
  timed("fidelity", [&] { return both([&](const Database& o) { return evaluate_fidelity(train, o, pool, config); }); });
  timed("associations", [&] { return both([&](const Database& o) { return evaluate_associations(train, o, config); }); });
  timed("intertable", [&] { return both([&](const Database& o) { return evaluate_intertable(train, o, pool, config); }); });
  timed("temporal", [&] { return both([&](const Database& o) { return evaluate_temporal(train, o, config); }); });
  timed("privacy", [&] {
    nlohmann::json out;
    out["synthetic"] = syn_holdout ? evaluate_privacy(train, *syn_holdout, synthetic, config)
                                   : nlohmann::json{{"not_computed", "no holdout split (valid) to compare with"}};
    out["synthetic"]["holdout"] = holdout_note;
    out["real_test"] = floor_holdout ? evaluate_privacy(train, *floor_holdout, test, config)
                                     : nlohmann::json{{"not_computed", "no valid split to serve as holdout"}};
    out["real_test"]["holdout"] = floor_holdout ? "valid split" : "none";
    return out;
  });
  timed("validity", [&] { return both([&](const Database& o) { return evaluate_validity(train, o, config); }); });
  timed("rules", [&] {
    ConstraintSchema rules = rules_for_evaluation(request.real, train, pool);
    return both([&](const Database& o) { return evaluate_rules(rules, o, pool); });
  });
  static const toml::table kEmpty;
  const toml::table& evaluate_table = request.config ? config_section(*request.config, "evaluate") : kEmpty;
  timed("utility", [&] {
    UtilityConfig utility = parse_utility_config(evaluate_table, request.config_path);
    if (config.threads > 0) utility.xgb.threads = config.threads;
    return evaluate_utility(train, test, synthetic, pool, utility);
  });
  timed("predictive_similarity", [&] {
    PredsimConfig predsim = parse_predsim_config(evaluate_table, request.config_path);
    if (config.threads > 0) predsim.xgb.threads = config.threads;
    return evaluate_predictive_similarity(train, test, synthetic, pool, predsim);
  });
  timed("next_event", [&] {
    if (!request.next_event) return nlohmann::json{{"not_computed", "next-event prediction is not available in this build"}};
    return request.next_event(train, test, synthetic, pool);
  });
  progress.finish();

  nlohmann::json inputs = {{"real_train", input_record(train)},
                           {"real_test", input_record(test)},
                           {"synthetic", input_record(synthetic)}};
  if (valid) inputs["real_valid"] = input_record(*valid);
  nlohmann::json metrics = {
      {"format", "rawmed-report/1"},
      {"rawmed_version", RAWMED_VERSION},
      {"created_utc", utc_now()},
      {"dataset", train.schema.dataset},
      {"inputs", inputs},
      {"config", config.to_json()},
      {"config_file", request.config_path.empty() ? nlohmann::json() : nlohmann::json(request.config_path.string())},
      {"seeds", {{"evaluate", config.seed}}},
      {"versions", request.versions},
      {"sections", sections},
  };
  metrics["summary"] = build_summary(sections);
  metrics["seconds"] = timing;
  metrics["seconds"]["total"] = seconds_since(start);

  std::string html = render_report_html(metrics, train, test, synthetic, pool, config);
  AtomicDir out(request.out);
  write_json_atomic(out.path() / "metrics.json", metrics);
  write_file_atomic(out.path() / "report.html", html);
  out.commit();
  log_info("evaluate: wrote {} ({:.1f} s)", request.out.string(), metrics["seconds"]["total"].get<double>());
  return metrics;
}

}  // namespace rawmed::eval
