#include "common/log.h"
#include "common/torch_env.h"
#include "evaluate/nep.h"
#include "../utility_test_db.h"

#include <gtest/gtest.h>

using namespace rawmed;
using namespace rawmed::eval;
using rawmed::eval::testing::make_test_db;
using rawmed::eval::testing::RowSpec;

TEST(NextEvent, ItemSetsGroupRowsByMinuteOverTheTrainVocabulary) {
  set_quiet(true);
  StringPool pool;
  std::vector<RowSpec> rows = {{0, 0, "labevents", "A", 1}, {0, 0, "prescriptions", "Heparin"},
                               {0, 0, "labevents", "A", 2}, {0, 30, "labevents", "B", 1},
                               {0, 60, "labevents", "Rare"}, {1, 5, "labevents", "A", 3}};
  Database db = make_test_db(rows, 2, pool);
  std::vector<std::string> vocabulary = nep_vocabulary(db, pool, 3);
  // By row count: A (3 rows) first; then B, Heparin, Rare with 1 each (ties by name); capped at 3.
  EXPECT_EQ(vocabulary, (std::vector<std::string>{"labevents|A", "labevents|B", "labevents|Rare"}));
  vocabulary = {"labevents|A", "labevents|B", "prescriptions|Heparin"};
  auto sequences = item_set_sequences(db, pool, vocabulary, 10);
  ASSERT_EQ(sequences.size(), 2u);
  // Minute 0: {A, Heparin}; minute 30: {B}; minute 60 only holds an unknown item: dropped.
  EXPECT_EQ(sequences[0], (ItemSetSequence{{0, 2}, {1}}));
  EXPECT_EQ(sequences[1], (ItemSetSequence{{0}}));
  EXPECT_EQ(item_set_sequences(db, pool, vocabulary, 1)[0].size(), 1u);
}

TEST(NextEvent, MicroF1PoolsAllSets) {
  std::vector<std::vector<int32_t>> truth = {{0, 1}, {2}}, predicted = {{0}, {2, 3}};
  // tp 2, fp 1, fn 1 -> 4 / 6.
  EXPECT_NEAR(micro_f1(truth, predicted), 4.0 / 6.0, 1e-12);
}

TEST(NextEvent, LstmLearnsATriviallyPredictableSequence) {
  set_quiet(true);
  setup_torch_threads(1);
  // Every stay cycles A -> {B, C} -> D -> A ..., starting at a stay-dependent phase.
  const std::vector<std::vector<int32_t>> cycle = {{0}, {1, 2}, {3}};
  auto make = [&](int stays) {
    std::vector<ItemSetSequence> out;
    for (int s = 0; s < stays; ++s) {
      ItemSetSequence seq;
      for (int t = 0; t < 10; ++t) seq.push_back(cycle[static_cast<size_t>((s + t) % 3)]);
      out.push_back(seq);
    }
    return out;
  };
  NepConfig config;
  config.hidden = 16;
  config.max_epochs = 60;
  config.patience = 60;
  config.batch_size = 16;
  config.learning_rate = 0.02;
  config.max_train_seconds = 60;
  nlohmann::json result = train_and_score_nep(make(48), make(12), 4, config);
  EXPECT_GT(result.at("micro_f1").get<double>(), 0.95) << result.dump();
  EXPECT_GT(result.at("micro_f1_one_cut").get<double>(), 0.95) << result.dump();
  // No usable training stays: the worst score, not an error.
  nlohmann::json empty = train_and_score_nep({ItemSetSequence{{0}}}, make(2), 4, config);
  EXPECT_EQ(empty.at("micro_f1").get<double>(), 0.0);
}

TEST(NextEvent, EvaluateReportsBothModelsAndABaseline) {
  set_quiet(true);
  setup_torch_threads(1);
  StringPool pool;
  std::vector<RowSpec> rows;
  for (int s = 0; s < 20; ++s)
    for (int t = 0; t < 8; ++t) rows.push_back({s, t * 10, "labevents", t % 2 ? "B" : "A", 1});
  Database db = make_test_db(rows, 20, pool);
  NepConfig config;
  config.hidden = 8;
  config.max_epochs = 5;
  nlohmann::json out = evaluate_next_event(db, db, db, pool, config);
  EXPECT_EQ(out.at("items").get<int>(), 2);
  EXPECT_EQ(out.at("real_test").at("steps").get<int>(), 160);
  EXPECT_DOUBLE_EQ(out.at("headline").at("repeat_last_step_micro_f1").get<double>(), 0.0);  // A, B alternate
  EXPECT_TRUE(out.at("headline").at("trtr_micro_f1").is_number());
  EXPECT_TRUE(out.at("headline").at("tstr_micro_f1").is_number());
}
