// Data-parallel training on Gloo (common/distributed.h): on the bundled MIMIC-IV demo, one epoch
// of the tiny temporal model with `train --nproc 2` reaches the weights of one process with the
// same global batches, and a run resumed with another world size continues it.
#include "common/fs.h"
#include "run_command.h"
#include "temporal/sampler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace rawmed {
namespace {

namespace fs = std::filesystem;

std::string rawmed(const std::string& arguments, int* status) {
  return run_command(std::string(RAWMED_BINARY) + " " + arguments, status);
}

// All parameters of a temporal model as one vector.
torch::Tensor flat_weights(const fs::path& model) {
  auto m = temporal::load_model(model, torch::kCPU);
  std::vector<torch::Tensor> parts;
  for (const auto& item : m.net->named_parameters()) parts.push_back(item.value().detach().reshape(-1).to(torch::kFloat64));
  return torch::cat(parts);
}

// |a - b| / |a - start| (L2 over every parameter): how far apart two trainings ended, relative
// to how far training moved the weights. Float summation order alone gives about 1e-6 per step;
// Adam's division by the root of the second moment magnifies it on near-zero gradients.
double relative_difference(const fs::path& a, const fs::path& b, const fs::path& start) {
  torch::Tensor x = flat_weights(a), y = flat_weights(b), s = flat_weights(start);
  std::printf("  max |dw| %.3g, |dw| %.3g, |w - w0| %.3g\n", (x - y).abs().max().item<double>(),
              (x - y).norm().item<double>(), (x - s).norm().item<double>());
  return (x - y).norm().item<double>() / (x - s).norm().item<double>();
}

std::string train(const fs::path& work, const std::string& stage, const std::string& extra, int* status) {
  return rawmed("train --quiet --preset tiny --threads 1 --stage " + stage + " --work " + work.string() + " " + extra,
                status);
}

TEST(DataParallelTraining, TwoGlooRanksMatchOneProcessAndResumeWithAnotherWorldSize) {
  fs::path bundled = fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml";
  if (!fs::exists(bundled)) GTEST_SKIP() << "no bundled config";
  fs::path base = fs::temp_directory_path() / ("rawmed_ddp_" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  std::string toml = read_file(bundled);
  const std::string root_line = "root = \"../data/mimic-iv-demo\"";
  toml.replace(toml.find(root_line), root_line.size(),
               "root = \"" + (fs::path(RAWMED_SOURCE_DIR) / "data/mimic-iv-demo").string() + "\"");
  std::ofstream(base / "config.toml") << toml;
  const fs::path one = base / "one", two = base / "two";
  int status = 0;
  std::string log = rawmed("prepare --quiet --config " + (base / "config.toml").string() + " --work " + one.string(),
                           &status);
  ASSERT_EQ(status, 0) << log;
  log = train(one, "codec", "--max-epochs 1", &status);
  ASSERT_EQ(status, 0) << log;
  fs::copy(one, two, fs::copy_options::recursive);
  // The codec refuses ranks for now (its EMA codebooks), with a message saying so.
  log = train(two, "codec", "--max-epochs 1 --nproc 2", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(log.find("not available for the codec"), std::string::npos) << log;

  // The initial weights (no epoch), then one epoch. The tiny temporal preset has no dropout, so
  // ranks and one process compute the same function.
  log = train(one, "temporal", "--max-epochs 0", &status);
  ASSERT_EQ(status, 0) << log;
  fs::copy_file(one / "temporal/model.pt", base / "initial.pt");
  fs::remove_all(one / "temporal");
  log = train(one, "temporal", "--max-epochs 1", &status);
  ASSERT_EQ(status, 0) << log;
  log = train(two, "temporal", "--max-epochs 1 --nproc 2", &status);
  ASSERT_EQ(status, 0) << log;
  nlohmann::json report = read_json(two / "temporal/train.json");
  EXPECT_EQ(report["ranks"], 2);
  nlohmann::json single = read_json(one / "temporal/train.json");
  EXPECT_NEAR(report["epochs"][0]["train_loss"].get<double>(), single["epochs"][0]["train_loss"].get<double>(), 1e-5);
  EXPECT_NEAR(report["epochs"][0]["valid_loss"].get<double>(), single["epochs"][0]["valid_loss"].get<double>(), 1e-5);
  const double after_one = relative_difference(one / "temporal/model.pt", two / "temporal/model.pt", base / "initial.pt");
  std::printf("one epoch: 1 process vs 2 Gloo ranks: |dw| / |w - w0| = %.3g\n", after_one);
  EXPECT_LT(after_one, 1e-3) << "one epoch, 1 process against 2 ranks";

  // Epoch 2: one process from the 2-rank checkpoint, against one process from its own.
  log = train(two, "temporal", "--max-epochs 2 --resume", &status);
  ASSERT_EQ(status, 0) << log;
  log = train(one, "temporal", "--max-epochs 2 --resume", &status);
  ASSERT_EQ(status, 0) << log;
  const double after_two = relative_difference(one / "temporal/model.pt", two / "temporal/model.pt", base / "initial.pt");
  std::printf("two epochs: 2 ranks then 1 process vs 1 process: |dw| / |w - w0| = %.3g\n", after_two);
  EXPECT_LT(after_two, 1e-3) << "2 ranks then 1 process against 1 process twice";
  nlohmann::json epochs_two = read_json(two / "temporal/train.json")["epochs"];
  nlohmann::json epochs_one = read_json(one / "temporal/train.json")["epochs"];
  ASSERT_EQ(epochs_two.size(), 2u);
  ASSERT_EQ(epochs_one.size(), 2u);
  EXPECT_NEAR(epochs_two[1]["train_loss"].get<double>(), epochs_one[1]["train_loss"].get<double>(), 1e-5);
  EXPECT_LT(epochs_one[1]["train_loss"].get<double>(), epochs_one[0]["train_loss"].get<double>()) << "epoch 2 trained";
  fs::remove_all(base);
}

}  // namespace
}  // namespace rawmed
