// The code grammar (temporal/code_grammar.h): which code tuples a sampled event may have.
#include "common/error.h"
#include "common/log.h"
#include "temporal/code_grammar.h"
#include "temporal/sampler.h"

#include <gtest/gtest.h>

#include <set>

namespace rawmed::temporal {
namespace {

using Tuple = std::vector<uint16_t>;  // one event's P * D codes, position-major

// Train stays of patients A, B, C and a valid stay; P = 2, D = 2, K = 16.
//   (1,2 | 3,4): A, B, C     (1,5 | 3,6): A, B     (7,2 | 8,4): A     (9,9 | 9,9): the valid stay only
struct Fixture {
  codec::CodesFile codes;
  Dataset dataset;

  Fixture() {
    codes.positions = 2;
    codes.depth = 2;
    codes.codebook_size = 16;
    std::vector<std::pair<std::string, std::vector<Tuple>>> stays = {
        {"A", {{1, 2, 3, 4}, {1, 5, 3, 6}, {7, 2, 8, 4}}},
        {"B", {{1, 2, 3, 4}, {1, 5, 3, 6}}},
        {"C", {{1, 2, 3, 4}, {1, 2, 3, 4}}},
        {"V", {{9, 9, 9, 9}, {9, 9, 9, 9}, {9, 9, 9, 9}}},
    };
    dataset.stay_offsets.push_back(0);
    for (const auto& [patient, events] : stays) {
      StayInfo info;
      info.patient_id = patient;
      info.split = patient == "V" ? kValid : kTrain;
      dataset.stays.push_back(info);
      for (const Tuple& t : events) {
        codes.codes.insert(codes.codes.end(), t.begin(), t.end());
        dataset.event_minutes.push_back(0);
      }
      dataset.stay_offsets.push_back(dataset.event_minutes.size());
    }
    codes.events = dataset.event_minutes.size();
  }
};

// The codes the grammar allows after `prefix` (codes of the current event so far).
std::set<int> allowed_after(const CodeGrammar& grammar, const Tuple& prefix) {
  std::mt19937_64 rng(0);
  CodeGrammar::Cursor cursor;
  grammar.start(cursor, rng);
  for (uint16_t c : prefix) grammar.advance(cursor, c);
  std::vector<char> allowed(16, 1);
  grammar.restrict(cursor, allowed);
  std::set<int> out;
  for (int c = 0; c < 16; ++c)
    if (allowed[c]) out.insert(c);
  return out;
}

std::set<int> all_codes() {
  std::set<int> out;
  for (int c = 0; c < 16; ++c) out.insert(c);
  return out;
}

TEST(CodeGrammar, CoarseDepthKeepsDepthZeroOnTuplesHeldByKTrainPatients) {
  Fixture f;
  CodeGrammar grammar(f.codes, f.dataset, {/*depth=*/1, /*min_patients=*/2, /*escape=*/0});
  // (7, 8) is held by one patient and (9, 9) by a valid stay only: neither is kept.
  EXPECT_EQ(grammar.tuples(), 1);
  EXPECT_NEAR(grammar.train_event_coverage(), 6.0 / 7.0, 1e-9);
  EXPECT_EQ(allowed_after(grammar, {}), std::set<int>({1}));
  EXPECT_EQ(allowed_after(grammar, {1}), all_codes());  // depth 1 refines values: free
  EXPECT_EQ(allowed_after(grammar, {1, 9}), std::set<int>({3}));
  EXPECT_EQ(allowed_after(grammar, {1, 9, 3}), all_codes());
}

TEST(CodeGrammar, FullDepthKeepsWholeEventsAndFollowsK) {
  Fixture f;
  CodeGrammar k2(f.codes, f.dataset, {/*depth=*/2, /*min_patients=*/2, /*escape=*/0});
  EXPECT_EQ(k2.tuples(), 2);
  EXPECT_EQ(allowed_after(k2, {1}), std::set<int>({2, 5}));
  EXPECT_EQ(allowed_after(k2, {1, 5, 3}), std::set<int>({6}));
  CodeGrammar k3(f.codes, f.dataset, {/*depth=*/2, /*min_patients=*/3, /*escape=*/0});
  EXPECT_EQ(k3.tuples(), 1);
  EXPECT_EQ(allowed_after(k3, {1}), std::set<int>({2}));
  EXPECT_THROW(CodeGrammar(f.codes, f.dataset, {2, 4, 0}), Error);   // no tuple has 4 patients
  EXPECT_THROW(CodeGrammar(f.codes, f.dataset, {3, 1, 0}), Error);   // deeper than the codec
  EXPECT_THROW(CodeGrammar(f.codes, f.dataset, {1, 1, 1.5}), Error);  // escape is a share
}

TEST(CodeGrammar, SampledEventsStayOnKeptTuplesUnlessTheyEscape) {
  Fixture f;
  Layout layout = make_layout(/*codebook=*/16, /*positions=*/2, /*depth=*/2, /*window_hours=*/12,
                              /*resolution=*/1, /*max_events=*/6, false, {}, TimeEncoding::kGap);
  ModelConfig config;
  config.vocab_size = layout.vocab_size();
  config.max_length = layout.max_length();
  config.time_first = layout.time_token(0);
  config.time_count = layout.time_values();
  config.layers = 1;
  config.d_model = 16;
  config.heads = 2;
  config.ff = 32;
  set_quiet(true);
  auto events_of = [&](double escape) {
    torch::manual_seed(3);
    Transformer net(config);  // untrained: close to uniform over the allowed codes
    CodeGrammar grammar(f.codes, f.dataset, {/*depth=*/2, /*min_patients=*/2, escape});
    SamplerSettings settings;
    settings.batch_size = 8;
    settings.seed = 11;
    settings.code_grammar = &grammar;
    std::multiset<Tuple> events;
    for (const auto& seq : sample_sequences(net, layout, 24, settings).sequences)
      for (size_t p = 1; p + layout.event_length() < seq.size(); p += layout.event_length())
        events.insert(Tuple(seq.begin() + p + 1, seq.begin() + p + layout.event_length()));
    return events;
  };
  const std::multiset<Tuple> kept = events_of(0);
  ASSERT_GT(kept.size(), 20u);
  for (const Tuple& t : kept) EXPECT_TRUE(t == Tuple({1, 2, 3, 4}) || t == Tuple({1, 5, 3, 6}));
  EXPECT_GT(kept.count({1, 2, 3, 4}), 0u);
  EXPECT_GT(kept.count({1, 5, 3, 6}), 0u);
  const std::multiset<Tuple> free = events_of(1);
  size_t outside = 0;
  for (const Tuple& t : free) outside += t != Tuple({1, 2, 3, 4}) && t != Tuple({1, 5, 3, 6});
  EXPECT_GT(outside, free.size() / 2);
}

}  // namespace
}  // namespace rawmed::temporal
