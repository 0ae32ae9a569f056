// Temporal model: sequence grammar, KV-cache sampling == full-prefix sampling, training,
// checkpoints/resume and the samples folder, on tiny synthetic data.
#include "common/error.h"
#include "common/fs.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "temporal/corpus.h"
#include "temporal/sampler.h"
#include "temporal/temporal.h"

#include <gtest/gtest.h>

#include <random>

namespace rawmed::temporal {
namespace {

Layout small_layout(bool conditioned = false) {
  return make_layout(/*codebook=*/16, /*positions=*/2, /*depth=*/2, /*window_hours=*/12, /*resolution=*/10,
                     /*max_events=*/6, conditioned, {"F", "M"});
}

// One time token per event at one-minute resolution (721 values for 12 h).
Layout minute_layout(TimeEncoding encoding, bool conditioned = false) {
  return make_layout(/*codebook=*/16, /*positions=*/2, /*depth=*/2, /*window_hours=*/12, /*resolution=*/1,
                     /*max_events=*/6, conditioned, {"F", "M"}, encoding);
}

ModelConfig tiny_model(const Layout& layout) {
  ModelConfig c;
  c.vocab_size = layout.vocab_size();
  c.max_length = layout.max_length();
  if (layout.time_encoding != TimeEncoding::kDigits) {
    c.time_first = layout.time_token(0);
    c.time_count = layout.time_values();
    c.running_clock = layout.time_encoding == TimeEncoding::kGap;  // the cache must carry the clock
  }
  c.layers = 2;
  c.d_model = 32;
  c.heads = 2;
  c.ff = 64;
  return c;
}

// A seeded, untrained tiny network over `l` (progress output off).
Transformer seeded_net(const Layout& l, int seed) {
  torch::manual_seed(seed);
  set_quiet(true);
  return Transformer(tiny_model(l));
}

SamplerSettings sampler_settings(int batch_size, uint64_t seed) {
  SamplerSettings settings;
  settings.batch_size = batch_size;
  settings.seed = seed;
  return settings;
}

// Parses one sampled sequence and checks every grammar rule; returns the number of events and,
// when `slots` is given, appends each event's time slot.
int check_grammar(const Layout& l, const std::vector<int32_t>& seq, std::vector<int>* slots = nullptr) {
  EXPECT_GE(seq.size(), 2u);
  EXPECT_EQ(seq.front(), l.start());
  EXPECT_EQ(seq.back(), l.end());
  size_t p = static_cast<size_t>(l.prefix_length());
  int events = 0, previous = 0;
  while (p < seq.size() && seq[p] != l.end()) {
    for (int j = 0; j < l.time_digits; ++j) EXPECT_TRUE(l.is_time_token(seq[p + j])) << "position " << p + j;
    int slot = l.read_time(&seq[p], previous);
    p += l.time_digits;
    EXPECT_GE(slot, previous);
    EXPECT_LE(slot, l.max_time_slot);
    if (slots) slots->push_back(slot);
    previous = slot;
    for (int c = 0; c < l.codes_per_event; ++c) {
      EXPECT_LT(seq[p], l.codebook) << "position " << p;
      ++p;
    }
    ++events;
  }
  EXPECT_EQ(p + 1, seq.size()) << "END must be the last token";
  EXPECT_GE(events, 1);
  EXPECT_LE(events, l.max_events);
  return events;
}

// The "model" JSON that model.pt files hold, as a model of 12 epochs on the MIMIC-IV demo stored
// it: read and written back unchanged. Files from before the time sinusoid lack time_first /
// time_count (0: none); any other missing key is an error naming it.
TEST(TemporalModelConfig, StoredJsonReadsBackUnchangedAndOlderFilesStillLoad) {
  const std::string stored = R"({"d_model":128,"dropout":0.1,"ff":512,"heads":4,"layers":3,"max_length":2414,)"
                             R"("running_clock":true,"sinusoidal":false,"time_count":721,"time_first":1027,)"
                             R"("vocab_size":1748})";
  ModelConfig config = ModelConfig::from_json(nlohmann::json::parse(stored));
  EXPECT_EQ(config.vocab_size, 1748);
  EXPECT_EQ(config.time_first, 1027);
  EXPECT_TRUE(config.running_clock);
  EXPECT_EQ(config.to_json().dump(), stored);

  nlohmann::json before_clock = nlohmann::json::parse(stored);  // models trained before the clock
  before_clock.erase("running_clock");
  EXPECT_FALSE(ModelConfig::from_json(before_clock).running_clock);
  nlohmann::json older = before_clock;
  older.erase("time_first");
  older.erase("time_count");
  ModelConfig before_sinusoid = ModelConfig::from_json(older);
  EXPECT_EQ(before_sinusoid.time_first, 0);
  EXPECT_EQ(before_sinusoid.time_count, 0);
  EXPECT_EQ(before_sinusoid.heads, 4);

  nlohmann::json broken = nlohmann::json::parse(stored);
  broken.erase("heads");
  try {
    ModelConfig::from_json(broken);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("heads"), std::string::npos) << e.what();
  }
}

TEST(TemporalLayout, EncodeStayCutsAtTheCapAndAlwaysEndsWithEnd) {
  Layout l = small_layout();
  EXPECT_EQ(l.time_digits, 2);  // 12 h / 10 min = 72
  const int n = 9;              // more than the cap of 6
  std::vector<int32_t> minutes = {0, 5, 30, 29, 100, 719, 720, 900, 1000};
  std::vector<uint16_t> codes(n * l.codes_per_event, 3);
  auto seq = encode_stay(l, minutes.data(), codes.data(), n, 0, 0);
  EXPECT_EQ(static_cast<int64_t>(seq.size()), l.max_length());
  EXPECT_EQ(check_grammar(l, seq), 6);
  // 29 min comes after 30 min in storage order: clamped up to slot 3, never earlier.
  EXPECT_EQ(seq[1 + 3 * l.event_length()], l.digit(0));
  EXPECT_EQ(seq[1 + 3 * l.event_length() + 1], l.digit(3));
  // A stay with exactly E events still has its END (the reference drops it).
  auto full = encode_stay(l, minutes.data(), codes.data(), 6, 0, 0);
  EXPECT_EQ(full.back(), l.end());
}

TEST(TemporalLayout, DigitMaskNeverAllowsAnEarlierTimeOrOneAfterTheWindow) {
  Layout l = small_layout();
  GrammarState s;
  advance(l, s, l.start());
  std::vector<char> allowed;
  // First event at slot 47.
  for (int token : {l.digit(4), l.digit(7)}) advance(l, s, token);
  for (int c = 0; c < l.codes_per_event; ++c) advance(l, s, 1);
  allowed_next(l, s, -1, {}, allowed);
  EXPECT_TRUE(allowed[l.end()]);
  for (int d = 0; d < 10; ++d) EXPECT_EQ(bool(allowed[l.digit(d)]), d >= 4 && d <= 7) << d;
  advance(l, s, l.digit(4));
  allowed_next(l, s, -1, {}, allowed);
  EXPECT_FALSE(allowed[l.end()]);
  for (int d = 0; d < 10; ++d) EXPECT_EQ(bool(allowed[l.digit(d)]), d >= 7) << d;
  advance(l, s, l.digit(7));
  allowed_next(l, s, -1, {}, allowed);
  for (int t = 0; t < l.vocab_size(); ++t) EXPECT_EQ(bool(allowed[t]), t < l.codebook) << t;
}

TEST(TemporalLayout, LiftedTimesBecomeThePreviousTimeInsteadOfBeingMasked) {
  Layout l = small_layout();
  GrammarState s;
  s.lift_times = true;
  advance(l, s, l.start());
  std::vector<char> allowed;
  auto event_at = [&](int tens, int units) {  // draws these two digits, returns the time used
    int t0 = lift_time_digit(l, s, l.digit(tens));
    advance(l, s, t0);
    allowed_next(l, s, -1, {}, allowed);
    int t1 = lift_time_digit(l, s, l.digit(units));
    EXPECT_TRUE(allowed[t1]);
    advance(l, s, t1);
    for (int c = 0; c < l.codes_per_event; ++c) advance(l, s, 1);
    return s.previous_time;
  };
  EXPECT_EQ(event_at(4, 7), 47);
  // Every digit of the window may be drawn (no lower bound), but a time below 47 becomes 47.
  allowed_next(l, s, -1, {}, allowed);
  for (int d = 0; d < 10; ++d) EXPECT_EQ(bool(allowed[l.digit(d)]), d <= 7) << d;  // 72 slots: tens 0..7
  EXPECT_EQ(event_at(2, 9), 47);  // lifted at the tens digit: the units follow the previous time
  EXPECT_EQ(event_at(4, 3), 47);  // lifted at the units digit
  EXPECT_EQ(event_at(4, 9), 49);  // later times are kept
  EXPECT_EQ(event_at(6, 0), 60);
  for (int t : s.tokens) EXPECT_NE(t, l.pad());
}

TEST(TemporalLayout, OneTokenTimesRoundTripMinutesExactlyAndKeepSameMinuteOrder) {
  // Real-looking gaps: same minute, 1-9 minutes, hours; a time stored before its predecessor.
  std::vector<int32_t> minutes = {0, 0, 3, 3, 3, 12, 11, 250, 719, 720};
  const size_t n = minutes.size();
  for (TimeEncoding encoding : {TimeEncoding::kGap, TimeEncoding::kMinute}) {
    Layout l = minute_layout(encoding);
    l.max_events = static_cast<int>(n);
    EXPECT_EQ(l.time_digits, 1);
    EXPECT_EQ(l.time_values(), 721);
    EXPECT_EQ(l.event_length(), 1 + l.codes_per_event);  // one token shorter per event than two digits
    std::vector<uint16_t> codes(n * l.codes_per_event);
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint16_t>(i / l.codes_per_event);  // event index
    auto seq = encode_stay(l, minutes.data(), codes.data(), n, 0, 0);
    std::vector<int> slots;
    EXPECT_EQ(check_grammar(l, seq, &slots), static_cast<int>(n));
    const std::vector<int> expected = {0, 0, 3, 3, 3, 12, 12, 250, 719, 720};  // 11 after 12 is clamped up
    EXPECT_EQ(slots, expected) << time_encoding_name(encoding);
    for (size_t e = 0; e < n; ++e)  // the events keep their stored order, also within one minute
      EXPECT_EQ(seq[1 + e * l.event_length() + 1], static_cast<int>(e));
    // The layout survives the model's config JSON.
    Layout back = Layout::from_json(l.to_json());
    EXPECT_EQ(back.time_encoding, encoding);
    EXPECT_EQ(back.vocab_size(), l.vocab_size());
  }
  // The gap layout writes the same minute as one token (gap 0), the minute layout repeats the minute.
  Layout gap = minute_layout(TimeEncoding::kGap);
  auto seq = encode_stay(gap, minutes.data(), std::vector<uint16_t>(6 * gap.codes_per_event).data(), 6, 0, 0);
  EXPECT_EQ(seq[1 + 4 * gap.event_length()], gap.time_token(0));
  EXPECT_EQ(seq[1 + 5 * gap.event_length()], gap.time_token(9));
  // Old model configs (no time_encoding key) read as the digit layout.
  auto old_json = small_layout().to_json();
  old_json.erase("time_encoding");
  EXPECT_EQ(Layout::from_json(old_json).time_encoding, TimeEncoding::kDigits);
  EXPECT_EQ(Layout::from_json(old_json).vocab_size(), small_layout().vocab_size());
}

TEST(TemporalLayout, OneTokenTimeMasksNeverAllowAnEarlierTimeOrOneAfterTheWindow) {
  for (TimeEncoding encoding : {TimeEncoding::kGap, TimeEncoding::kMinute}) {
    Layout l = minute_layout(encoding);
    GrammarState s;
    advance(l, s, l.start());
    std::vector<char> allowed;
    advance(l, s, l.time_token(700));  // first event at minute 700 (gap 700 from admission)
    for (int c = 0; c < l.codes_per_event; ++c) advance(l, s, 1);
    EXPECT_EQ(s.previous_time, 700);
    allowed_next(l, s, -1, {}, allowed);
    EXPECT_TRUE(allowed[l.end()]);
    int lowest = encoding == TimeEncoding::kGap ? 0 : 700, highest = encoding == TimeEncoding::kGap ? 20 : 720;
    for (int v = 0; v < l.time_values(); ++v)
      EXPECT_EQ(bool(allowed[l.time_token(v)]), v >= lowest && v <= highest) << time_encoding_name(encoding) << v;
    advance(l, s, l.time_token(encoding == TimeEncoding::kGap ? 20 : 720));
    EXPECT_EQ(s.previous_time, 720);
    allowed_next(l, s, -1, {}, allowed);
    for (int t = 0; t < l.vocab_size(); ++t) EXPECT_EQ(bool(allowed[t]), t < l.codebook) << t;
  }
  // Lifting (the minute layout): the whole window may be drawn; an earlier minute becomes the previous one.
  Layout l = minute_layout(TimeEncoding::kMinute);
  GrammarState s;
  s.lift_times = true;
  advance(l, s, l.start());
  advance(l, s, l.time_token(300));
  for (int c = 0; c < l.codes_per_event; ++c) advance(l, s, 1);
  std::vector<char> allowed;
  allowed_next(l, s, -1, {}, allowed);
  EXPECT_TRUE(allowed[l.time_token(0)]);
  EXPECT_EQ(lift_time_digit(l, s, l.time_token(120)), l.time_token(300));
  EXPECT_EQ(lift_time_digit(l, s, l.time_token(301)), l.time_token(301));
}

TEST(TemporalSampler, OneTokenTimesSampleNonDecreasingMinutesWithCacheOrWithout) {
  for (TimeEncoding encoding : {TimeEncoding::kGap, TimeEncoding::kMinute}) {
    Layout l = minute_layout(encoding, /*conditioned=*/true);
    Transformer net = seeded_net(l, 4);
    SamplerSettings settings = sampler_settings(3, 9);
    settings.top_k = 0;  // an untrained net spreads over all 721 times: most draws are not 0
    settings.lift_times = false;
    auto cached = sample_sequences(net, l, 6, settings);
    int events = 0, distinct_gaps = 0;
    for (const auto& seq : cached.sequences) {
      std::vector<int> slots;
      events += check_grammar(l, seq, &slots);  // non-decreasing, inside the window
      for (size_t e = 1; e < slots.size(); ++e) distinct_gaps += slots[e] != slots[e - 1];
    }
    EXPECT_GT(distinct_gaps, 0) << time_encoding_name(encoding);
    settings.use_cache = false;
    EXPECT_EQ(sample_sequences(net, l, 6, settings).sequences, cached.sequences) << time_encoding_name(encoding);
  }
}

TEST(TemporalSampler, OutputFollowsTheGrammarAndIsExactlyN) {
  Layout l = small_layout();
  Transformer net = seeded_net(l, 1);
  SamplerSettings settings = sampler_settings(4, 7);
  auto out = sample_sequences(net, l, 10, settings);
  ASSERT_EQ(out.sequences.size(), 10u);
  int64_t tokens = 0, at_cap = 0;
  for (const auto& seq : out.sequences) {
    at_cap += check_grammar(l, seq) == l.max_events;
    tokens += static_cast<int64_t>(seq.size()) - 1;
  }
  EXPECT_EQ(out.tokens, tokens);
  EXPECT_EQ(out.hit_cap, at_cap);
  // A minimum number of events holds END back.
  settings.min_events = 4;
  for (const auto& seq : sample_sequences(net, l, 6, settings).sequences) EXPECT_GE(check_grammar(l, seq), 4);
}

TEST(TemporalSampler, KvCacheGivesTheSameTokensAsRerunningThePrefix) {
  Layout l = small_layout();
  Transformer net = seeded_net(l, 2);
  net->eval();
  // Logits: one step at a time over the cache == one pass over the whole prefix.
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, l.codebook, {3, 20}, torch::kLong);
  auto full = net->forward(tokens);
  KVCache cache = net->make_cache(3);
  auto first = net->forward(tokens.narrow(1, 0, 5), &cache);  // a prefix chunk, then single tokens
  std::vector<torch::Tensor> steps = {first};
  for (int t = 5; t < 20; ++t) steps.push_back(net->forward(tokens.narrow(1, t, 1), &cache));
  EXPECT_TRUE(torch::allclose(torch::cat(steps, 1), full, 1e-4, 1e-5));

  SamplerSettings settings = sampler_settings(3, 11);
  settings.top_k = 5;
  auto cached = sample_sequences(net, l, 5, settings);
  settings.use_cache = false;
  auto rerun = sample_sequences(net, l, 5, settings);
  ASSERT_EQ(cached.sequences.size(), rerun.sequences.size());
  for (size_t i = 0; i < cached.sequences.size(); ++i) EXPECT_EQ(cached.sequences[i], rerun.sequences[i]) << i;
  // Another seed gives other stays.
  settings.seed = 12;
  EXPECT_NE(sample_sequences(net, l, 5, settings).sequences, rerun.sequences);
}

TEST(TemporalSampler, TimeTemperatureAppliesToTimeDigitsOnly) {
  Layout l = small_layout();
  Transformer net = seeded_net(l, 3);
  SamplerSettings settings = sampler_settings(4, 5);
  auto plain = sample_sequences(net, l, 8, settings);
  settings.time_temperature = settings.temperature;  // the same temperature: the same stays
  EXPECT_EQ(sample_sequences(net, l, 8, settings).sequences, plain.sequences);
  settings.time_temperature = 0.05;  // nearly greedy time digits: other stays, still grammatical
  auto cold = sample_sequences(net, l, 8, settings);
  EXPECT_NE(cold.sequences, plain.sequences);
  for (const auto& seq : cold.sequences) check_grammar(l, seq);
  settings.time_temperature = -1;
  EXPECT_THROW(sample_sequences(net, l, 1, settings), Error);
}

TEST(TemporalSampler, LiftedTimesStayGrammaticalAndDifferFromMaskedTimes) {
  Layout l = small_layout();
  Transformer net = seeded_net(l, 3);
  SamplerSettings settings = sampler_settings(4, 5);
  settings.lift_times = true;
  auto lifted = sample_sequences(net, l, 8, settings);
  for (const auto& seq : lifted.sequences) check_grammar(l, seq);  // times non-decreasing, END last
  settings.lift_times = false;
  EXPECT_NE(sample_sequences(net, l, 8, settings).sequences, lifted.sequences);
}

TEST(TemporalSampler, ConditioningTokensAreForced) {
  torch::manual_seed(3);
  set_quiet(true);
  Layout l = small_layout(/*conditioned=*/true);
  Transformer net(tiny_model(l));
  SamplerSettings settings;
  settings.gender = 1;
  settings.age_mask = {0, 0, 1, 1};  // 65+
  auto out = sample_sequences(net, l, 6, settings);
  for (const auto& seq : out.sequences) {
    check_grammar(l, seq);
    EXPECT_EQ(seq[1], l.gender_token(1));
    EXPECT_TRUE(seq[2] == l.age_token(2) || seq[2] == l.age_token(3));
  }
}

// A WORK folder with a synthetic dataset and codes: each event's codes repeat its first code,
// and event times grow, so a Transformer can beat the per-slot frequency baseline.
fs::path make_synthetic_work(const std::string& name) {
  fs::path work = fs::temp_directory_path() / ("rawmed_temporal_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work / "codec");
  Dataset d;
  std::mt19937_64 rng(5);
  const int P = 2, D = 2, K = 16, stays = 48;
  Codes codes;
  codes.positions = P;
  codes.depth = D;
  codes.codebook_size = K;
  d.event_offsets.push_back(0);
  d.stay_offsets.push_back(0);
  for (int s = 0; s < stays; ++s) {
    int n = 3 + static_cast<int>(rng() % 8);
    int minute = 0;
    for (int e = 0; e < n; ++e) {
      minute += static_cast<int>(rng() % 60);
      d.event_minutes.push_back(std::min(minute, 719));
      d.tokens.push_back(2);
      d.types.push_back(3);
      d.dpe.push_back(0);
      d.event_offsets.push_back(d.tokens.size());
      d.event_tables.push_back(0);
      uint16_t code = static_cast<uint16_t>(rng() % 4);
      for (int c = 0; c < P * D; ++c) codes.codes.push_back(static_cast<uint16_t>(code * 4 + c));
    }
    d.stay_offsets.push_back(d.event_minutes.size());
    StayInfo st;
    st.stay_id = std::to_string(s);
    st.patient_id = st.stay_id;
    st.admission_id = st.stay_id;
    st.split = s % 6 == 0 ? kValid : (s % 6 == 1 ? kTest : kTrain);
    st.age = 20 + s;
    st.gender = s % 2 ? "F" : "M";
    d.stays.push_back(st);
  }
  codes.events = d.event_minutes.size();
  d.table_names = {"t"};
  d.columns = nlohmann::json::object();
  d.manifest = {{"max_tokens_per_event", 1}, {"max_events_per_stay", 8}, {"window_hours", 12}};
  d.save(work / "dataset");
  codec::write_codes_file(work / "codec" / "codes.bin", codes);
  return work;
}

nlohmann::json epochs_without_timing(nlohmann::json epochs) {
  for (auto& e : epochs) {
    e.erase("seconds");
    e.erase("train_tokens_per_second");
  }
  return epochs;
}

TEST(TemporalTraining, TrainsResumesBitForBitAndSamples) {
  set_quiet(true);
  fs::path work = make_synthetic_work("train");
  TrainArgs args;
  args.work = work;
  args.preset = "tiny";
  args.seed = 3;
  args.threads = 1;
  run_training(args);  // the tiny preset: 6 epochs
  auto report = read_json(work / "temporal" / "train.json");
  const auto& epochs = report.at("epochs");
  ASSERT_GE(epochs.size(), 3u);
  EXPECT_LT(epochs.back()["train_loss"].get<double>(), epochs.front()["train_loss"].get<double>());
  EXPECT_LT(report.at("best_valid_loss").get<double>(), report.at("unigram_valid_loss").get<double>());
  EXPECT_EQ(report.at("sequences").at("events_cut_by_cap").get<int64_t>() > 0, true);  // stays of up to 10 events, cap 8

  // Two epochs, then --resume to the end: the same history as one run.
  fs::path work2 = make_synthetic_work("resume");
  args.work = work2;
  args.max_epochs = 2;
  run_training(args);
  args.max_epochs = -1;
  args.resume = true;
  run_training(args);
  auto resumed = read_json(work2 / "temporal" / "train.json");
  EXPECT_EQ(epochs_without_timing(resumed.at("epochs")), epochs_without_timing(report.at("epochs")));

  SampleOptions options;
  options.n = 7;
  options.seed = 4;
  options.batch_size = 3;
  options.threads = 1;
  auto samples = sample_stays(work, options);
  ASSERT_EQ(samples.num_stays(), 7u);
  EXPECT_EQ(samples.codes.size(), samples.event_minutes.size() * 4);
  auto again = sample_stays(work, options);
  EXPECT_EQ(again.codes, samples.codes);
  EXPECT_EQ(again.event_minutes, samples.event_minutes);
  // The tiny preset writes one gap token per event at one-minute resolution.
  EXPECT_EQ(report.at("layout").at("time_encoding"), "gap");
  EXPECT_EQ(report.at("layout").at("resolution_minutes"), 1);
  EXPECT_TRUE(std::is_sorted(samples.event_minutes.begin() + samples.stay_offsets[0],
                             samples.event_minutes.begin() + samples.stay_offsets[1]));
  auto compare = compare_with_train(work, samples);
  EXPECT_GE(compare["events_per_stay"]["ks"].get<double>(), 0.0);
  EXPECT_LE(compare["events_per_stay"]["ks"].get<double>(), 1.0);
  save_samples(work / "samples", samples, options, {{"compare_with_train", compare}});
  auto loaded = load_samples(work / "samples");
  EXPECT_EQ(loaded.stay_offsets, samples.stay_offsets);
  EXPECT_EQ(loaded.event_minutes, samples.event_minutes);
  EXPECT_EQ(loaded.codes, samples.codes);
  const nlohmann::json recorded = read_json(work / "samples" / "sample.json").at("options");
  EXPECT_EQ(recorded.at("n"), 7);
  EXPECT_EQ(recorded.at("batch_size"), 3);
  EXPECT_EQ(recorded.size(), 12u);  // every option but the thread count

  // The unconditional model refuses conditioning instead of ignoring it.
  options.gender = "F";
  EXPECT_THROW(sample_stays(work, options), Error);
  // A corrupt model file is an error naming the file, not a crash.
  write_file_atomic(work / "temporal" / "model.pt", "not a model");
  options.gender.clear();
  EXPECT_THROW(sample_stays(work, options), Error);
  fs::remove_all(work);
  fs::remove_all(work2);
}

// kill -TERM during an epoch: the step in flight finishes, the checkpoint (with the batch reached
// and the dropout generator) is written and training stops; --resume reaches the same weights
// and history as a run never interrupted.
TEST(TemporalTraining, StopSignalMidEpochThenResumeGivesTheSameWeights) {
  set_quiet(true);
  TrainArgs args;
  args.preset = "tiny";
  args.seed = 3;
  args.threads = 1;
  args.work = make_synthetic_work("signal_whole");
  run_training(args);
  fs::path whole = args.work;
  args.work = make_synthetic_work("signal_cut");
  raise_stop_signal_at_check(3);
  try {
    run_training(args);
    FAIL() << "a stop signal must stop training";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stopped by SIGTERM"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  args.resume = true;
  run_training(args);
  auto a = read_json(whole / "temporal" / "train.json"), b = read_json(args.work / "temporal" / "train.json");
  EXPECT_EQ(epochs_without_timing(a.at("epochs")), epochs_without_timing(b.at("epochs")));
  auto m1 = load_model(whole / "temporal" / "model.pt", torch::kCPU);
  auto m2 = load_model(args.work / "temporal" / "model.pt", torch::kCPU);
  auto p1 = m1.net->parameters(), p2 = m2.net->parameters();
  ASSERT_EQ(p1.size(), p2.size());
  for (size_t i = 0; i < p1.size(); ++i) EXPECT_TRUE(torch::equal(p1[i], p2[i])) << "parameter " << i;
  fs::remove_all(whole);
  fs::remove_all(args.work);
}

}  // namespace
}  // namespace rawmed::temporal
