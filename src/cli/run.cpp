// `rawmed run --config FILE --work DIR [--n N] [--preset demo|paper|tiny]`: prepare -> train codec ->
// train temporal -> generate -> evaluate, skipping every stage that is up to date.
//
// A stage is up to date when WORK/run/<stage>.json (written when it finished) records the same
// inputs as now and its outputs still have the recorded CRC-32s. A stage's inputs are its settings
// (its config section, preset, seed, n) and the CRC-32s of the files it reads, which are the
// outputs of the stage before it (for prepare: the config's dataset part and the raw input
// files). So editing [temporal] reruns temporal, generate and evaluate, and nothing else.
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "codec/codec.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/train_args.h"
#include "evaluate/evaluate.h"
#include "generate/generate.h"
#include "ingest/byte_source.h"
#include "ingest/db_location.h"
#include "ingest/db_tables.h"
#include "common/config.h"
#include "ingest/prepare.h"
#include "temporal/temporal.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <sstream>

namespace rawmed::cli {
namespace {

struct RunArgs : RunFlags {
  fs::path config, work;
  int64_t n = 0;
  std::string preset = "demo";
  bool force = false;
  bool no_gate = false;
  double max_train_minutes = 0;  // per training stage; 0: the preset's own limits
  double codec_minutes = -1;     // >= 0: overrides max_train_minutes for that stage
  double temporal_minutes = -1;
  std::string out;               // also publish WORK/synthetic there (a database location)

  double minutes_of(double stage_minutes) const { return stage_minutes >= 0 ? stage_minutes : max_train_minutes; }
};

std::string toml_text(const toml::table& table) {
  std::ostringstream out;
  out << toml::json_formatter{table};
  return out.str();
}

nlohmann::json crcs(const fs::path& root, const std::vector<std::string>& files) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : files) out[f] = fs::exists(root / f) ? file_crc32(root / f) : "missing";
  return out;
}

struct Stage {
  std::string name;
  nlohmann::json inputs;
  std::vector<std::string> outputs;  // relative to WORK
  std::function<void()> run;
  TrainArgs* train = nullptr;  // training stages: resumed from WORK/<stage>/checkpoint.pt when interrupted
};

// A training stage that started with the same inputs and did not finish (killed, or stopped by
// SIGINT/SIGTERM after writing its checkpoint) goes on from its checkpoint.
bool interrupted_with_same_inputs(const fs::path& work, const Stage& stage) {
  fs::path started = work / "run" / (stage.name + ".started.json");
  if (!stage.train || !fs::exists(started) || !fs::exists(work / stage.name / "checkpoint.pt")) return false;
  try {
    return read_json(started) == stage.inputs;
  } catch (const Error&) {
    return false;
  }
}

bool up_to_date(const fs::path& work, const Stage& stage) {
  fs::path stamp = work / "run" / (stage.name + ".json");
  if (!fs::exists(stamp)) return false;
  nlohmann::json recorded;
  try {
    recorded = read_json(stamp);
  } catch (const Error&) {
    return false;
  }
  if (recorded.value("inputs", nlohmann::json()) != stage.inputs) return false;
  for (const auto& f : stage.outputs)
    if (!fs::exists(work / f)) return false;
  return recorded.value("outputs", nlohmann::json()) == crcs(work, stage.outputs);
}

void run_pipeline(const RunArgs& args) {
  auto start = Clock::now();
  if (!args.out.empty() && !is_database_location(args.out))
    fail("run: --out {} is not postgresql://USER@HOST/DB?schema=NAME or sqlite:FILE", args.out);
  if (!args.out.empty()) parse_database_location(args.out);  // a password in the URL stops here
  Config config = load_config(args.config);
  const fs::path& work = args.work;
  WorkLock lock(work, "run");
  fs::create_directories(work / "run");

  TrainArgs train;
  static_cast<RunFlags&>(train) = args;
  train.work = work;
  train.preset = args.preset;
  TrainArgs codec_train = train, temporal_train = train;
  codec_train.max_minutes = args.minutes_of(args.codec_minutes);
  temporal_train.max_minutes = args.minutes_of(args.temporal_minutes);

  // Prepare's inputs: the config without the stage sections, and every raw file it reads.
  toml::table dataset_part = config.root;
  for (const char* section : {"codec", "temporal", "generate", "evaluate", "release"}) dataset_part.erase(section);
  nlohmann::json raw_files = nlohmann::json::object();
  const DatasetSpec& spec = config.dataset;
  auto add_raw = [&](const fs::path& f) {
    if (!f.empty()) raw_files[f.string()] = input_crc32(f);
  };
  add_raw(spec.cohort.stays_file);
  add_raw(spec.cohort.patients_file);
  for (const auto& t : spec.tables) {
    add_raw(t.file);
    if (t.dictionary) add_raw(t.dictionary->file);
  }

  const std::vector<std::string> prepare_out = {
      "config.toml", "prepare.json", "dataset/manifest.json", "dataset/tokens.bin", "dataset/event_minutes.bin",
      "dataset/columns.json", "real/train/schema.json", "real/test/schema.json"};
  const std::vector<std::string> codec_out = {"codec/model.pt", "codec/codes.bin"};
  const std::vector<std::string> temporal_out = {"temporal/model.pt"};
  const std::vector<std::string> generate_out = {"synthetic/generate.json", "synthetic/cohort.csv.gz",
                                                 "synthetic/MANIFEST.json"};
  const std::vector<std::string> evaluate_out = {"report/metrics.json"};
  auto section = [&](const char* name) { return toml_text(config_section(config, name)); };

  std::vector<Stage> stages;
  stages.push_back({"prepare",
                    {{"config", toml_text(dataset_part)}, {"raw_files", raw_files}},
                    prepare_out,
                    [&] { prepare(config, work); }});
  stages.push_back({"codec",
                    {{"section", section("codec")}, {"preset", args.preset}, {"seed", args.seed},
                     {"max_minutes", codec_train.max_minutes}},
                    codec_out,
                    [&] { codec::run_training(codec_train); },
                    &codec_train});
  stages.push_back({"temporal",
                    {{"section", section("temporal")}, {"preset", args.preset}, {"seed", args.seed},
                     {"max_minutes", temporal_train.max_minutes}},
                    temporal_out,
                    [&] { temporal::run_training(temporal_train); },
                    &temporal_train});
  stages.push_back({"generate",
                    {{"section", section("generate")}, {"release", section("release")}, {"n", args.n}, {"seed", args.seed},
                     {"no_gate", args.no_gate}},
                    generate_out,
                    [&] {
                      generate::GenerateArgs g;
                      static_cast<RunFlags&>(g) = args;
                      g.work = work;
                      g.n = args.n;
                      g.no_gate = args.no_gate;
                      generate::run_generate(g);
                    }});
  stages.push_back({"evaluate",
                    {{"section", section("evaluate")}, {"seed", args.seed}},
                    evaluate_out,
                    [&] {
                      eval::EvaluateOptions e;
                      e.real = work / "real";
                      e.synthetic = work / "synthetic";
                      e.out = work / "report";
                      e.seed = args.seed;
                      e.threads = args.threads;
                      e.device = args.device;
                      eval::evaluate_folders(e);
                    }});

  nlohmann::json summary = {{"config", args.config.string()}, {"preset", args.preset}, {"seed", args.seed},
                            {"stages", nlohmann::json::array()}};
  // Prepare's outputs feed codec and temporal (times); codec's feed temporal and generate; and so on.
  std::vector<std::string> upstream;
  for (auto& stage : stages) {
    stage.inputs["upstream"] = crcs(work, upstream);
    bool skip = !args.force && up_to_date(work, stage);
    auto t0 = Clock::now();
    if (skip) {
      log_info("run: {}: up to date (inputs unchanged, outputs present), skipped", stage.name);
    } else {
      bool resume = interrupted_with_same_inputs(work, stage);
      log_info("run: {}: {}", stage.name, resume ? "resuming the interrupted run from its checkpoint" : "running");
      if (stage.train) stage.train->resume = resume;
      // A fresh start must not find an older run's checkpoint when it is itself interrupted.
      if (stage.train && !resume) fs::remove(work / stage.name / "checkpoint.pt");
      fs::remove(work / "run" / (stage.name + ".json"));
      write_json_atomic(work / "run" / (stage.name + ".started.json"), stage.inputs);
      stage.run();
      fs::remove(work / "run" / (stage.name + ".started.json"));
      for (const auto& f : stage.outputs)
        if (!fs::exists(work / f)) fail("run: stage {} finished without writing {}", stage.name, (work / f).string());
      write_json_atomic(work / "run" / (stage.name + ".json"),
                        {{"inputs", stage.inputs}, {"outputs", crcs(work, stage.outputs)}});
    }
    double seconds = seconds_since(t0);
    summary["stages"].push_back({{"stage", stage.name}, {"skipped", skip}, {"seconds", seconds}});
    if (!skip) log_info("run: {}: done in {:.1f} s", stage.name, seconds);
    upstream.insert(upstream.end(), stage.outputs.begin(), stage.outputs.end());
  }
  if (!args.out.empty()) {
    publish_database_folder(work / "synthetic", args.out, source_column_types(config.dataset));
    summary["published"] = parse_database_location(args.out).display;
  }
  summary["seconds"] = seconds_since(start);
  write_json_atomic(work / "run" / "run.json", summary);
  log_info("run: finished in {:.1f} s; synthetic database: {}, report: {}", summary["seconds"].get<double>(),
           (work / "synthetic").string(), (work / "report").string());
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "prepare -> train codec -> train temporal -> generate -> evaluate (resumes)");
  auto args = std::make_shared<RunArgs>();
  cmd->add_option("--config", args->config, "dataset spec (TOML)")->required();
  cmd->add_option("--work", args->work, "working folder for this run")->required();
  cmd->add_option("--n", args->n, "synthetic stays (default: as many as the real train split)");
  cmd->add_option("--preset", args->preset, "model size: paper, demo or tiny")
      ->check(CLI::IsMember({"paper", "demo", "tiny"}));
  add_common_flags(cmd, *args);
  cmd->add_option("--max-train-minutes", args->max_train_minutes, "wall-clock limit of each training stage (0: none)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--codec-minutes", args->codec_minutes, "wall-clock limit of the codec stage (default: --max-train-minutes)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--temporal-minutes", args->temporal_minutes,
                  "wall-clock limit of the temporal stage (default: --max-train-minutes)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--out", args->out, "also publish the synthetic database to postgresql://...?schema=NAME or sqlite:FILE");
  cmd->add_flag("--force", args->force, "rerun every stage even when up to date");
  cmd->add_flag("--no-gate", args->no_gate, "generate without the release gate (recorded in synthetic/MANIFEST.json)");
  cmd->callback([args] {
    set_quiet(args->quiet);
    run_pipeline(*args);
  });
}

}  // namespace rawmed::cli
