// The release gate and the provenance manifest on the bundled MIMIC-IV demo (prepared once):
// a database made of copied train stays is rejected on every criterion, a real split the model
// never saw passes the privacy criteria, and `verify` finds a changed, a missing and an added file.
#include "common/csv.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "generate/generate_config.h"
#include "generate/manifest.h"
#include "generate/release.h"
#include "common/config.h"
#include "ingest/prepare.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <iterator>

namespace rawmed::generate {
namespace {

namespace fs = std::filesystem;

// The bundled MIMIC-IV demo config (root made absolute) in a temp file, with `release_keys` added
// to its [release] section and `sections` (whole sections) before it.
fs::path demo_config_with(const std::string& name, const std::string& release_keys, const std::string& sections = "") {
  std::ifstream in(fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml");
  std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string root_line = "root = \"../data/mimic-iv-demo\"";
  toml.replace(toml.find(root_line), root_line.size(),
               "root = \"" + (fs::path(RAWMED_SOURCE_DIR) / "data/mimic-iv-demo").string() + "\"");
  toml.replace(toml.find("\n[release]\n"), 11, "\n" + sections + "\n[release]\n" + release_keys);
  fs::path file = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(file) << toml;
  return file;
}

// Rewrites DIR/cohort.csv.gz with every intime one minute earlier: each event of the folder then
// lies one minute later in its stay (a near copy of the stays, no longer equal event by event).
void shift_events_one_minute_later(const fs::path& dir) {
  const std::string path = (dir / "cohort.csv.gz").string();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  {
    CsvReader reader(path);
    header = reader.header();
    const int intime = reader.column_index("intime");
    while (reader.next()) {
      std::vector<std::string> row(reader.fields().begin(), reader.fields().end());
      std::tm tm{};
      ASSERT_NE(strptime(row[static_cast<size_t>(intime)].c_str(), "%Y-%m-%d %H:%M:%S", &tm), nullptr) << row[intime];
      std::time_t t = timegm(&tm) - 60;
      char buffer[32];
      std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
      row[static_cast<size_t>(intime)] = buffer;
      rows.push_back(std::move(row));
    }
  }
  CsvWriter writer(path);
  writer.write_row(header);
  for (const auto& row : rows) writer.write_row(row);
  writer.close();
}

std::string dcr_figures(const GateResult& result) {
  const auto& f = result.figures;
  return "DCR ratio " + f["dcr_ratio"].dump() + ", limit " + f["dcr_ratio_limit"].dump() + "; DCR share size-matched " +
         f["dcr_share_size_matched"].dump() + ", full size " + f["dcr_share"].dump() + " (exchangeable reference " +
         f["dcr_share_expected"].dump() + "); MIA AUC " + f["mia_auc"].dump();
}

class ReleaseGate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_path_ = fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml";
    if (!fs::exists(config_path_)) return;
    work_ = fs::temp_directory_path() / ("rawmed_release_" + std::to_string(::getpid()));
    fs::remove_all(work_);
    set_quiet(true);
    prepare(load_config(config_path_), work_);
  }
  static void TearDownTestSuite() {
    if (!work_.empty()) fs::remove_all(work_);
  }
  void SetUp() override {
    if (work_.empty()) GTEST_SKIP() << "no bundled config";
  }
  static GateResult gate(const fs::path& candidate, const ReleaseConfig& release = {}) {
    Config config = load_config(config_path_);
    return check_release_gate(work_ / "real", candidate, release, eval::EvalConfig::from_config(config),
                              config.dataset.min_patients_for_token);
  }
  static fs::path copy_of(const fs::path& dir, const std::string& name) {
    fs::path out = work_ / name;
    fs::remove_all(out);
    fs::copy(dir, out, fs::copy_options::recursive);
    return out;
  }
  static inline fs::path config_path_, work_;
};

TEST_F(ReleaseGate, RejectsADatabaseOfCopiedTrainStaysOnEveryCriterion) {
  GateResult result = gate(copy_of(work_ / "real/train", "copied_train"));
  EXPECT_FALSE(result.passed);
  ASSERT_EQ(result.reasons.size(), 4u) << result.to_json().dump(2);
  EXPECT_NE(result.reasons[0].find("exact stay copies"), std::string::npos);
  EXPECT_NE(result.reasons[1].find("DCR ratio"), std::string::npos);
  EXPECT_NE(result.reasons[2].find("membership attack AUC"), std::string::npos);
  EXPECT_NE(result.reasons[3].find("k-patient rule"), std::string::npos);
  EXPECT_GT(result.figures["exact_stay_copies"].get<double>(), 0.95);
  EXPECT_GT(result.figures["mia_auc"].get<double>(), 0.9);
  EXPECT_GT(result.figures["k_rule"]["rare_values"].get<int64_t>(), 0);
  EXPECT_EQ(result.figures["dcr_ratio"]["candidate"]["mean"].get<double>(), 0.0) << "each stay is at distance 0";
  EXPECT_GT(result.figures["dcr_ratio_limit"].get<double>(), 0.2) << "real non-members are not next to a train stay";
  std::printf("copied train stays: %s\n", dcr_figures(result).c_str());
}

// Train stays with every event one minute later are no exact stay copies, yet each lies next to
// its train original: the DCR criterion (and the membership attack) still reject them.
TEST_F(ReleaseGate, RejectsNearCopiesOfTrainStaysOnDcr) {
  fs::path shifted = copy_of(work_ / "real/train", "shifted_train");
  shift_events_one_minute_later(shifted);
  GateResult result = gate(shifted);
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.figures["exact_stay_copies"].get<double>(), 0.0) << "no stay is an exact copy any more";
  ASSERT_GE(result.reasons.size(), 2u) << result.to_json().dump(2);
  EXPECT_NE(result.reasons[0].find("DCR ratio"), std::string::npos) << result.reasons[0];
  EXPECT_GT(result.figures["dcr_ratio"]["candidate"]["mean"].get<double>(), 0.0) << "not exact copies";
  EXPECT_LT(result.figures["dcr_ratio"]["candidate"]["mean"].get<double>(), 0.01);
  std::printf("train stays one minute later: %s\n", dcr_figures(result).c_str());
}

// The valid split is real data the model never saw (the holdout is then the test split alone):
// the privacy criteria hold for it with the default thresholds; its rare real values break the
// k-patient rule, which is the only reason given.
TEST_F(ReleaseGate, ARealNonMemberSplitPassesThePrivacyCriteria) {
  fs::path valid = copy_of(work_ / "real/valid", "valid_copy");
  GateResult result = gate(valid);
  EXPECT_FALSE(result.passed);
  ASSERT_EQ(result.reasons.size(), 1u) << result.to_json().dump(2);
  EXPECT_NE(result.reasons[0].find("k-patient rule"), std::string::npos);
  EXPECT_EQ(result.figures["exact_stay_copies"].get<double>(), 0.0);
  std::printf("valid split: %s; holdout stays %d\n", dcr_figures(result).c_str(),
              result.figures["holdout_stays"].get<int>());
  ReleaseConfig no_k;
  no_k.k_rule = false;
  EXPECT_TRUE(gate(valid, no_k).passed);
}

TEST_F(ReleaseGate, ReleaseSectionOverridesTheDefaultsAndRejectsUnknownKeys) {
  fs::path file = demo_config_with("release_cfg", "max_mia_auc = 0.7\n");
  ReleaseConfig release = ReleaseConfig::from_config(load_config(file));
  EXPECT_EQ(release.max_mia_auc, 0.7);
  EXPECT_NE(release.license.find("ODbL"), std::string::npos) << "the bundled config's license note";
  EXPECT_TRUE(release.gate);
  EXPECT_EQ(release.dcr_ratio_margin, ReleaseConfig{}.dcr_ratio_margin);
  file = demo_config_with("release_cfg", "max_mia = 0.7\n");
  try {
    ReleaseConfig::from_config(load_config(file));
    ADD_FAILURE() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("release.max_mia"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

TEST_F(ReleaseGate, VerifyFindsAChangedAMissingAndAnAddedFile) {
  fs::path out = copy_of(work_ / "real/test", "released");
  ManifestInputs inputs;
  inputs.work = work_;
  inputs.config_path = config_path_;
  inputs.license = "ODbL";
  nlohmann::json manifest = write_manifest(out, inputs);
  EXPECT_EQ(manifest["config"]["text"].get<std::string>(), read_file(config_path_));
  EXPECT_EQ(manifest["outputs"].size(), static_cast<size_t>(std::distance(fs::directory_iterator(out), fs::directory_iterator())) - 1);
  EXPECT_TRUE(manifest["outputs"].contains("cohort.csv.gz"));
  EXPECT_FALSE(manifest["inputs"]["dataset"].empty());
  EXPECT_NE(manifest["versions"]["git"].get<std::string>(), "");
  EXPECT_TRUE(verify_manifest(out, true).empty());

  std::ofstream(out / "cohort.csv.gz", std::ios::app) << "x";
  auto problems = verify_manifest(out, false);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("changed"), std::string::npos) << problems[0];
  fs::remove(out / "schema.json");
  std::ofstream(out / "extra.csv") << "a\n";
  problems = verify_manifest(out, false);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[1].find("missing"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("not in the manifest"), std::string::npos) << problems[2];
}

TEST(Sha256, KnownDigest) {
  fs::path file = fs::temp_directory_path() / ("rawmed_sha_" + std::to_string(::getpid()));
  std::ofstream(file) << "abc";
  EXPECT_EQ(file_sha256(file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  fs::remove(file);
}

TEST(GenerateSettings, DefaultsFromTheFieldListAndDatasetMinEvents) {
  fs::path file = demo_config_with("gencfg", "", "[generate]\ntop_k = 7\n");
  Config config = load_config(file);
  GenerateConfig g = GenerateConfig::from_config(config);
  EXPECT_EQ(g.top_k, 7);
  EXPECT_EQ(g.min_events, config.dataset.min_events);
  EXPECT_EQ(g.invalid_events, "reject_stay");
  file = demo_config_with("gencfg", "", "[generate]\ninvalid_events = \"skip\"\n");
  try {
    GenerateConfig::from_config(load_config(file));
    ADD_FAILURE() << "bad invalid_events accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid_events"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

}  // namespace
}  // namespace rawmed::generate
