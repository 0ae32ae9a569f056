// End to end on the bundled MIMIC-IV demo with the tiny preset: `rawmed run` writes a synthetic
// database in the input schema with synthetic ids, and a second run skips every stage.
#include "common/fs.h"
#include "common/csv.h"
#include "ingest/schema.h"
#include "run_command.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace rawmed {
namespace {

namespace fs = std::filesystem;

std::set<std::string> column_values(const fs::path& file, const std::string& column) {
  std::set<std::string> out;
  CsvReader csv(file.string());
  int index = csv.column_index(column);
  EXPECT_GE(index, 0) << file << " " << column;
  while (index >= 0 && csv.next()) out.emplace(csv.field(index));
  return out;
}

// A copy of the bundled MIMIC-IV demo config whose root points at the source tree, with an editor
// that drops invalid events instead of whole stays ([generate] invalid_events = "drop_event",
// min_events = 1): a tiny model's stays would mostly be rejected otherwise, and these tests are
// about the pipeline, not the model's quality. Returns an empty path when the bundle is missing.
fs::path tiny_run_config(const std::string& name) {
  fs::path bundled = fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml";
  if (!fs::exists(bundled)) return {};
  std::stringstream text;
  text << std::ifstream(bundled).rdbuf();
  std::string toml = text.str();
  std::string root_line = "root = \"../data/mimic-iv-demo\"";
  EXPECT_NE(toml.find(root_line), std::string::npos);
  toml.replace(toml.find(root_line), root_line.size(),
               "root = \"" + (fs::path(RAWMED_SOURCE_DIR) / "data/mimic-iv-demo").string() + "\"");
  EXPECT_EQ(toml.find("\n[generate]"), std::string::npos) << "the bundled config sets [generate] itself";
  toml += "\n[generate]\ninvalid_events = \"drop_event\"\nmin_events = 1\nmax_sample_factor = 50\n";
  fs::path config = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(config) << toml;
  return config;
}

// Trains two tiny models (about a minute on 2 cores) and runs every stage.
TEST(GenerateEndToEnd, TinyPresetRunWritesSyntheticDatabaseAndResumes) {
  fs::path config = tiny_run_config("rawmed_gen_e2e");
  if (config.empty()) GTEST_SKIP() << "no bundled config";
  fs::path work = fs::temp_directory_path() / ("rawmed_gen_e2e_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  std::string command = std::string(RAWMED_BINARY) + " run --config " + config.string() + " --work " + work.string() +
                        " --preset tiny --n 8 --threads 2 --max-train-minutes 1 --temporal-minutes 2 --quiet";
  int status = 0;
  std::string log = run_command(command, &status);
  ASSERT_EQ(status, 0) << log;

  fs::path syn = work / "synthetic";
  nlohmann::json summary;
  std::ifstream(syn / "generate.json") >> summary;
  EXPECT_EQ(summary.at("stays"), 8);
  EXPECT_GE(summary.at("stays_sampled").get<int64_t>(), 8);
  double rate = summary.at("rejection_rate");
  EXPECT_GE(rate, 0.0);
  EXPECT_LT(rate, 1.0);
  EXPECT_TRUE(summary.contains("failures_by_reason"));
  EXPECT_TRUE(summary.contains("events_per_table"));
  EXPECT_TRUE(fs::exists(work / "report/metrics.json"));
  // --temporal-minutes overrides --max-train-minutes for its stage only.
  EXPECT_EQ(read_json(work / "run/codec.json")["inputs"]["max_minutes"], 1.0);
  EXPECT_EQ(read_json(work / "run/temporal.json")["inputs"]["max_minutes"], 2.0);

  // Same tables, same column names in the same order as the real split.
  DbSchema real = DbSchema::load(work / "real/train");
  for (const auto& table : real.tables) {
    CsvReader real_csv((work / "real/train" / table.file).string());
    CsvReader syn_csv((syn / table.file).string());
    EXPECT_EQ(syn_csv.header(), real_csv.header()) << table.name;
  }
  // Synthetic identifiers never equal a real one, and every event row links to a synthetic stay.
  for (const char* key : {"stay_id", "patient_id", "admission_id"}) {
    std::set<std::string> synthetic = column_values(syn / kCohortFile, key);
    EXPECT_EQ(synthetic.size(), 8u) << key;
    for (const char* split : {"train", "valid", "test"})
      for (const auto& id : column_values(work / "real" / split / kCohortFile, key))
        EXPECT_FALSE(synthetic.count(id)) << key << " " << id << " is a real id";
  }
  for (const auto& table : real.tables) {
    std::set<std::string> cohort = column_values(syn / kCohortFile, table.link_cohort_key);
    for (const auto& link : column_values(syn / table.file, table.link_column))
      EXPECT_TRUE(cohort.count(link)) << table.name << " row links to unknown " << link;
  }

  // The same model writes to SQLite (docs/formats/databases.md), and evaluate reads it back from
  // there: same stays, the location recorded.
  const std::string sqlite = "sqlite:" + (work / "syn.db").string();
  log = run_command(std::string(RAWMED_BINARY) + " generate --work " + work.string() + " --n 8 --threads 2 --quiet --out " +
                        sqlite,
                    &status);
  ASSERT_EQ(status, 0) << log;
  EXPECT_FALSE(fs::exists(work / "synthetic/syn.db"));
  log = run_command(std::string(RAWMED_BINARY) + " evaluate --real " + (work / "real").string() + " --synthetic " +
                        sqlite + " --out " + (work / "report_db").string() + " --threads 2 --quiet",
                    &status);
  ASSERT_EQ(status, 0) << log;
  nlohmann::json from_db = read_json(work / "report_db/metrics.json");
  EXPECT_EQ(from_db["inputs"]["synthetic"]["stays"], 8);
  EXPECT_EQ(from_db["inputs"]["synthetic"]["location"], sqlite);
  // A password in the URL stops generate before it samples, without echoing the password.
  log = run_command(std::string(RAWMED_BINARY) + " generate --work " + work.string() +
                        " --n 8 --out postgresql://u:pw-in-url@localhost/db",
                    &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(log.find("password must not be written"), std::string::npos) << log;
  EXPECT_EQ(log.find("pw-in-url"), std::string::npos) << log;

  // The release gate passed on the generated database and MANIFEST.json describes it: `verify`
  // accepts it as written and finds a table changed afterwards.
  nlohmann::json manifest = read_json(syn / "MANIFEST.json");
  EXPECT_EQ(manifest["gate"]["enabled"], true);
  EXPECT_EQ(manifest["gate"]["passed"], true) << manifest["gate"].dump(2);
  EXPECT_EQ(manifest["config"]["text"].get<std::string>(), read_file(work / "config.toml"));
  EXPECT_TRUE(manifest["inputs"]["models"].contains("temporal/model.pt"));
  EXPECT_EQ(manifest["settings"]["n"], 8);
  std::printf("tiny model, 8 stays: gate %s\n", manifest["gate"]["figures"].dump().substr(0, 300).c_str());
  run_command(std::string(RAWMED_BINARY) + " verify " + syn.string(), &status);
  EXPECT_EQ(status, 0);

  // A gate that cannot pass (membership AUC at most 0): no OUT, OUT.rejected with the reasons and
  // a non-zero exit; then --no-gate writes OUT, records it, and removes the stale OUT.rejected.
  fs::path strict = work / "strict.toml";
  std::string strict_text = read_file(work / "config.toml");
  ASSERT_NE(strict_text.find("\n[release]\n"), std::string::npos) << "the bundled config has a [release] section";
  strict_text.replace(strict_text.find("\n[release]\n"), 11, "\n[release]\nmax_mia_auc = 0.0\n");
  std::ofstream(strict) << strict_text;
  fs::path gated = work / "gated", rejected = work / "gated.rejected";
  std::string generate = std::string(RAWMED_BINARY) + " generate --work " + work.string() + " --config " +
                         strict.string() + " --n 8 --threads 2 --quiet --out " + gated.string();
  log = run_command(generate, &status);
  EXPECT_NE(status, 0) << log;
  EXPECT_NE(log.find("release gate rejected"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(gated));
  nlohmann::json reasons = read_json(rejected / "REJECTED.json")["reasons"];
  ASSERT_EQ(reasons.size(), 1u) << reasons.dump();
  EXPECT_NE(reasons[0].get<std::string>().find("membership attack AUC"), std::string::npos);
  log = run_command(generate + " --no-gate", &status);
  ASSERT_EQ(status, 0) << log;
  nlohmann::json ungated = read_json(gated / "MANIFEST.json")["gate"];
  EXPECT_EQ(ungated["enabled"], false);
  EXPECT_EQ(ungated["disabled_by"], "--no-gate");
  EXPECT_FALSE(fs::exists(rejected));
  {
    std::ofstream(gated / "labevents.csv.gz", std::ios::app) << "tampered";
  }
  log = run_command(std::string(RAWMED_BINARY) + " verify " + gated.string(), &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(log.find("changed: " + (gated / "labevents.csv.gz").string()), std::string::npos) << log;
  fs::remove_all(gated);
  fs::remove(strict);

  // Nothing changed: every stage is skipped.
  log = run_command(std::string(RAWMED_BINARY) + " run --config " + config.string() + " --work " + work.string() +
                        " --preset tiny --n 8 --threads 2 --max-train-minutes 1 --temporal-minutes 2",
                    &status);
  ASSERT_EQ(status, 0) << log;
  for (const char* stage : {"prepare", "codec", "temporal", "generate", "evaluate"})
    EXPECT_NE(log.find(std::string("run: ") + stage + ": up to date"), std::string::npos) << stage << "\n" << log;
  fs::remove_all(work);
  fs::remove(config);
}

// `kill -TERM` during training, then the same `rawmed run` again: the stage resumes from its
// checkpoint and ends with the same weights as a run that was never stopped. The signal is raised
// by the process itself at a fixed training step (RAWMED_TEST_SIGTERM_AT_CHECK), through the same
// handler a `kill -TERM` reaches, so the test does not depend on timing. Epoch-bounded (no minute
// caps), so both runs do the same work.
TEST(GenerateEndToEnd, SigtermDuringTrainingThenRunAgainGivesTheSameWeights) {
  fs::path config = tiny_run_config("rawmed_sigterm_e2e");
  if (config.empty()) GTEST_SKIP() << "no bundled config";
  fs::path base = fs::temp_directory_path() / ("rawmed_sigterm_e2e_" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto run = [&](const fs::path& work, const std::string& env) {
    int status = 0;
    std::string log = run_command(env + std::string(RAWMED_BINARY) + " run --config " + config.string() +
                                      " --work " + work.string() + " --preset tiny --n 4 --threads 2",
                                  &status);
    return std::make_pair(status, log);
  };
  auto [status_a, log_a] = run(base / "uninterrupted", "");
  ASSERT_EQ(status_a, 0) << log_a;
  auto [status_b, log_b] = run(base / "interrupted", "RAWMED_TEST_SIGTERM_AT_CHECK=25 ");
  ASSERT_NE(status_b, 0) << log_b;
  EXPECT_NE(log_b.find("stopped by SIGTERM"), std::string::npos) << log_b;
  EXPECT_TRUE(fs::exists(base / "interrupted/codec/checkpoint.pt"));
  auto [status_c, log_c] = run(base / "interrupted", "");
  ASSERT_EQ(status_c, 0) << log_c;
  EXPECT_NE(log_c.find("resuming the interrupted run"), std::string::npos) << log_c;
  for (const char* model : {"codec/model.pt", "temporal/model.pt"})
    EXPECT_EQ(file_crc32(base / "uninterrupted" / model), file_crc32(base / "interrupted" / model)) << model;
  fs::remove_all(base);
  fs::remove(config);
}

}  // namespace
}  // namespace rawmed
