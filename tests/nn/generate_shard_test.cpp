// Sharded generation (generate/shard.h, generate/merge.h): the block plan and shard ranges, and
// on the bundled MIMIC-IV demo with tiny models, `generate --shard i/n` + `merge` for n = 1, 2, 3
// writing the same bytes as an unsharded run.
#include "common/csv.h"
#include "common/error.h"
#include "common/fs.h"
#include "generate/shard.h"
#include "ingest/schema.h"
#include "run_command.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace rawmed::generate {
namespace {

namespace fs = std::filesystem;

TEST(ShardPlan, BlocksFollowConditionsAndNeverSpanTwo) {
  std::vector<StayBlock> blocks = plan_blocks({5, 3}, 2);
  ASSERT_EQ(blocks.size(), 5u);
  const int64_t expected[5][4] = {{0, 0, 0, 2}, {1, 0, 2, 2}, {2, 0, 4, 1}, {3, 1, 5, 2}, {4, 1, 7, 1}};
  for (size_t b = 0; b < blocks.size(); ++b) {
    EXPECT_EQ(blocks[b].index, expected[b][0]);
    EXPECT_EQ(static_cast<int64_t>(blocks[b].condition), expected[b][1]);
    EXPECT_EQ(blocks[b].first_slot, expected[b][2]);
    EXPECT_EQ(blocks[b].size, expected[b][3]);
  }
  EXPECT_THROW(plan_blocks({5}, 0), Error);
}

TEST(ShardPlan, ShardsAreContiguousDisjointAndCoverEveryBlock) {
  for (size_t total : {0u, 1u, 3u, 7u, 64u})
    for (int n = 1; n <= 5; ++n) {
      size_t next = 0;
      for (int i = 0; i < n; ++i) {
        auto [first, last] = shard_block_range(total, {i, n});
        EXPECT_EQ(first, next) << total << " blocks, shard " << i << "/" << n;
        EXPECT_LE(first, last);
        next = last;
      }
      EXPECT_EQ(next, total) << total << " blocks, " << n << " shards";
    }
}

TEST(ShardPlan, ParsesIOverNAndRejectsTheRest) {
  ShardSpec s = parse_shard("2/3");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 3);
  for (const char* bad : {"3/3", "-1/2", "1", "a/2", "1/0", "1/2x", "/2"}) EXPECT_THROW(parse_shard(bad), Error) << bad;
}

TEST(ShardPlan, SeedsDependOnBlockRoundAndSlot) {
  std::set<uint64_t> seeds;
  for (int64_t block = 0; block < 50; ++block)
    for (int64_t round = 0; round < 5; ++round) seeds.insert(block_round_seed(7, block, round));
  for (int64_t slot = 0; slot < 250; ++slot) seeds.insert(slot_seed(7, slot));
  EXPECT_EQ(seeds.size(), 500u);
  EXPECT_NE(block_round_seed(7, 0, 0), block_round_seed(8, 0, 0));
  EXPECT_EQ(slot_seed(7, 3), slot_seed(7, 3));
}

std::string rawmed(const std::string& arguments, int* status) {
  return run_command(std::string(RAWMED_BINARY) + " " + arguments, status);
}

// The bundled MIMIC-IV demo config with its root in the source tree, an editor that drops invalid
// events (a one-epoch model's stays would mostly be rejected otherwise) and blocks of 4 stays, so
// that 10 stays make 3 blocks (4, 4, 2) and every shard count below splits them differently.
fs::path shard_config(const fs::path& dir) {
  fs::path bundled = fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml";
  if (!fs::exists(bundled)) return {};
  std::string toml = read_file(bundled);
  const std::string root_line = "root = \"../data/mimic-iv-demo\"";
  EXPECT_NE(toml.find(root_line), std::string::npos);
  toml.replace(toml.find(root_line), root_line.size(),
               "root = \"" + (fs::path(RAWMED_SOURCE_DIR) / "data/mimic-iv-demo").string() + "\"");
  toml += "\n[generate]\ninvalid_events = \"drop_event\"\nmin_events = 1\nmax_sample_factor = 50\nblock_stays = 4\n";
  fs::path config = dir / "config.toml";
  std::ofstream(config) << toml;
  return config;
}

std::vector<std::string> written_files(const fs::path& db) {
  std::vector<std::string> files = {kCohortFile, "schema.json"};
  for (const auto& t : DbSchema::load(db).tables) files.push_back(t.file);
  return files;
}

TEST(ShardedGeneration, MergedPartsEqualAnUnshardedRunForOneTwoAndThreeShards) {
  fs::path base = fs::temp_directory_path() / ("rawmed_shard_" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  fs::path config = shard_config(base);
  if (config.empty()) GTEST_SKIP() << "no bundled config";
  const fs::path work = base / "work";
  int status = 0;
  std::string log = rawmed("prepare --quiet --config " + config.string() + " --work " + work.string(), &status);
  ASSERT_EQ(status, 0) << log;
  for (const char* stage : {"codec", "temporal"}) {
    log = rawmed(std::string("train --quiet --preset tiny --max-epochs 1 --threads 2 --stage ") + stage + " --work " +
                     work.string(),
                 &status);
    ASSERT_EQ(status, 0) << log;
  }
  const std::string generate = "generate --quiet --threads 2 --n 10 --work " + work.string();
  const std::string seed = " --seed 11";
  log = rawmed(generate + seed + " --no-gate --out " + (base / "whole").string(), &status);
  ASSERT_EQ(status, 0) << log;

  for (int n = 1; n <= 3; ++n) {
    std::string parts;
    std::set<std::string> ids;
    int64_t part_stays = 0;
    for (int i = n - 1; i >= 0; --i) {  // any order
      fs::path part = base / ("part" + std::to_string(n) + "_" + std::to_string(i));
      log = rawmed(generate + seed + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " --out " + part.string(),
                   &status);
      ASSERT_EQ(status, 0) << log;
      nlohmann::json summary = read_json(part / "generate.json");
      EXPECT_EQ(summary["release_gate"]["deferred_to"], "rawmed merge");
      part_stays += summary["stays"].get<int64_t>();
      CsvReader cohort((part / kCohortFile).string());
      while (cohort.next()) EXPECT_TRUE(ids.emplace(cohort.field(0)).second) << "stay id " << cohort.field(0) << " twice";
      parts += " " + part.string();
    }
    EXPECT_EQ(part_stays, 10);
    fs::path merged = base / ("merged" + std::to_string(n));
    // The gate runs on the merged database (n = 2); the other merges skip it.
    log = rawmed("merge --quiet --threads 2" + parts + " --out " + merged.string() + (n == 2 ? "" : " --no-gate"),
                 &status);
    if (n == 2 && status != 0) merged += ".rejected";  // a one-epoch model may fail the gate: the bytes still count
    ASSERT_TRUE(fs::exists(merged / "MANIFEST.json")) << log;
    nlohmann::json manifest = read_json(merged / "MANIFEST.json");
    EXPECT_EQ(manifest["gate"]["enabled"], n == 2);
    EXPECT_EQ(manifest["settings"]["n"], 10);
    EXPECT_EQ(read_json(merged / "generate.json")["parts"].size(), static_cast<size_t>(n));
    if (n != 2) {
      rawmed("verify " + merged.string(), &status);
      EXPECT_EQ(status, 0);
    }
    for (const auto& file : written_files(base / "whole"))
      EXPECT_EQ(read_file(merged / file), read_file(base / "whole" / file)) << file << " with " << n << " shard(s)";
  }

  // A part missing, or a part of another run: an error naming it, and no output.
  log = rawmed("merge --no-gate " + (base / "part3_0").string() + " " + (base / "part3_2").string() + " --out " +
                   (base / "bad").string(),
               &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(log.find("every part is needed once"), std::string::npos) << log;
  log = rawmed(generate + " --seed 12 --shard 1/3 --out " + (base / "other").string(), &status);
  ASSERT_EQ(status, 0) << log;
  log = rawmed("merge --no-gate " + (base / "part3_0").string() + " " + (base / "other").string() + " " +
                   (base / "part3_2").string() + " --out " + (base / "bad").string(),
               &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(log.find("different runs"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(base / "bad"));
  fs::remove_all(base);
}

}  // namespace
}  // namespace rawmed::generate
