// Codec (RQ-VAE) tests on a small synthetic dataset built in memory (tiny preset, fast).
#include "codec/codec.h"
#include "codec/trainer.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/config.h"
#include "ingest/prepare.h"
#include "text/serialize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <numeric>
#include <random>

namespace rawmed::codec {
namespace {

// Lab-like events: `labs item <name> value <digits> unit <unit> SEP`, 16 tokens at most.
Dataset synthetic_dataset(int stays = 24, int events_per_stay = 6) {
  Dataset d;
  d.table_names = {"labs"};
  d.columns = nlohmann::json::parse(R"({"tables": [{"name": "labs", "columns": [
      {"name": "item", "type": "categorical"}, {"name": "value", "type": "numeric"},
      {"name": "unit", "type": "categorical"}]}]})");
  uint16_t table = d.vocab.add("labs", TokenKind::kTable);
  uint16_t col_item = d.vocab.add("item", TokenKind::kColumn), col_value = d.vocab.add("value", TokenKind::kColumn),
           col_unit = d.vocab.add("unit", TokenKind::kColumn);
  std::vector<uint16_t> items = {d.vocab.add("creatinine", TokenKind::kValue), d.vocab.add("sodium", TokenKind::kValue),
                                 d.vocab.add("potassium", TokenKind::kValue)};
  std::vector<uint16_t> units = {d.vocab.add("mg/dl", TokenKind::kValue), d.vocab.add("mmol/l", TokenKind::kValue)};
  std::mt19937 rng(7);
  d.event_offsets = {0};
  d.stay_offsets = {0};
  auto push = [&](uint16_t token, uint8_t type, uint8_t dpe) {
    d.tokens.push_back(token);
    d.types.push_back(type);
    d.dpe.push_back(dpe);
  };
  for (int s = 0; s < stays; ++s) {
    for (int e = 0; e < events_per_stay; ++e) {
      int item = static_cast<int>(rng() % items.size());
      int value = 100 + static_cast<int>(rng() % 60);  // "1x.y": tens, units, point, tenths (y 1-9)
      push(table, kTypeTable, kDpeNone);
      push(col_item, kTypeColumn, kDpeNone);
      push(items[item], kTypeValue, kDpeNone);
      push(col_value, kTypeColumn, kDpeNone);
      push(Vocab::byte_id('0' + value / 100), kTypeValue, kDpeUnits + 1);
      push(Vocab::byte_id('0' + value / 10 % 10), kTypeValue, kDpeUnits);
      push(Vocab::byte_id('.'), kTypeValue, kDpePoint);
      push(Vocab::byte_id('1' + value % 9), kTypeValue, kDpeFirstFraction);  // canonical: no trailing 0
      push(col_unit, kTypeColumn, kDpeNone);
      push(units[item == 0 ? 0 : 1], kTypeValue, kDpeNone);
      push(kSepId, kTypeSep, kDpeNone);
      d.event_offsets.push_back(d.tokens.size());
      d.event_minutes.push_back(e * 10);
      d.event_tables.push_back(0);
    }
    d.stay_offsets.push_back(d.event_minutes.size());
    StayInfo info;
    info.stay_id = std::to_string(1000 + s);
    info.patient_id = std::to_string(s);
    info.split = s < stays * 3 / 4 ? kTrain : (s % 2 ? kValid : kTest);
    d.stays.push_back(info);
  }
  d.columns = {{"tables",
                {{{"name", "labs"},
                  {"columns",
                   {{{"name", "item"}, {"type", "categorical"}},
                    {{"name", "value"}, {"type", "numeric"}},
                    {{"name", "unit"}, {"type", "categorical"}}}}}}}};
  d.manifest = {{"max_tokens_per_event", 16}, {"max_events_per_stay", events_per_stay}};
  return d;
}

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("rawmed-codec-test-{}-{}", ::getpid(), name);
  fs::remove_all(dir);
  return dir;
}

TrainOptions options(const fs::path& dir) {
  TrainOptions o;
  o.out_dir = dir;
  o.threads = 1;
  o.seed = 3;
  return o;
}

bool same_state(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                const std::vector<std::pair<std::string, torch::Tensor>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !torch::equal(a[i].second, b[i].second)) return false;
  return true;
}

class CodecTest : public ::testing::Test {
 protected:
  void SetUp() override { set_quiet(true); }
};

TEST_F(CodecTest, ForwardShapesAndCodeRange) {
  Dataset d = synthetic_dataset();
  CodecConfig c = codec_preset("tiny");
  RQVAE model(c, vocab_sizes(d));
  auto tokens = torch::zeros({3, 16}, torch::kLong);
  tokens.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, 5)}, 7);
  auto out = model->forward(tokens, torch::ones_like(tokens), torch::zeros_like(tokens));
  EXPECT_EQ(out.hidden.sizes().vec(), (std::vector<int64_t>{3 * 5, c.channels}));  // non-pad slots only
  EXPECT_EQ(out.codes.sizes().vec(), (std::vector<int64_t>{3, c.positions, c.depth}));
  EXPECT_GE(out.codes.min().item<int64_t>(), 0);
  EXPECT_LT(out.codes.max().item<int64_t>(), c.codebook_size);
  // Decoding the codes gives the same decoder states as the forward pass.
  model->eval();
  auto again = model->forward(tokens, torch::ones_like(tokens), torch::zeros_like(tokens));
  auto all_slots = model->decode(model->lookup_codes(again.codes), {}, model->roles(tokens));
  auto non_pad = (tokens.reshape(-1) != 0).nonzero().squeeze(1);
  auto at_non_pad = all_slots.reshape({-1, all_slots.size(2)}).index_select(0, non_pad);
  EXPECT_TRUE(torch::allclose(at_non_pad, again.hidden, 1e-5, 1e-5));
}

TEST_F(CodecTest, RolesFollowTheLastTableOrColumnToken) {
  Dataset d = synthetic_dataset(1, 1);
  VocabSizes sizes = vocab_sizes(d);
  ASSERT_EQ(sizes.fields, 4);  // labs, item, value, unit
  RQVAE model(codec_preset("tiny"), sizes);
  std::vector<int64_t> event(d.tokens.begin(), d.tokens.end());
  event.resize(16, kPadId);
  auto roles = model->roles(torch::tensor(event).view({1, 16})).view(-1);
  auto field = [&](size_t slot) { return sizes.token_field[d.tokens[slot]]; };
  // labs item creatinine value 1 2 . 3 unit mg/dl SEP: slot 0 follows nothing; slot 4 (first
  // digit) is the first slot after `value`, slot 7 the fourth.
  EXPECT_EQ(roles[0].item<int64_t>(), 0);
  EXPECT_EQ(roles[1].item<int64_t>(), field(0) * kMaxRoleOffset + 1);
  EXPECT_EQ(roles[4].item<int64_t>(), field(3) * kMaxRoleOffset + 1);
  EXPECT_EQ(roles[7].item<int64_t>(), field(3) * kMaxRoleOffset + 4);
  EXPECT_EQ(roles[8].item<int64_t>(), field(3) * kMaxRoleOffset + 5);  // `unit` still follows `value`
  EXPECT_EQ(roles[9].item<int64_t>(), field(8) * kMaxRoleOffset + 1);
}

TEST_F(CodecTest, SlotBySlotDecodingAgreesWithTheRolesOfItsOwnOutput) {
  // decode_latents decodes one slot at a time, tracking roles itself; decoding all slots at once
  // with RQVAE::roles of the tokens it chose must give the same tokens.
  Dataset d = synthetic_dataset();
  CodecConfig c = codec_preset("tiny");
  RQVAE model(c, vocab_sizes(d));
  model->eval();
  torch::NoGradGuard no_grad;
  EventGrammar grammar(d.vocab, d.columns);
  const int64_t n = 12, length = model->sizes.length;
  auto latents = torch::randn({n, c.positions, c.channels});
  std::vector<uint16_t> tokens(n * length);
  std::vector<uint8_t> types(n * length), dpe(n * length);
  decode_latents(model, latents, grammar, tokens.data(), types.data(), dpe.data());
  auto token_tensor = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end())).view({n, length});
  auto scores = model->token_head(model->decode(latents, {}, model->roles(token_tensor))).contiguous();
  std::vector<uint16_t> again(length);
  std::vector<uint8_t> again_types(length);
  for (int64_t i = 0; i < n; ++i) {
    grammar.decode(scores[i].data_ptr<float>(), length, again.data(), again_types.data());
    EXPECT_TRUE(std::equal(again.begin(), again.end(), tokens.begin() + i * length)) << "event " << i;
    EXPECT_EQ(tokens[i * length], d.tokens[0]);  // the only table
  }
}

TEST_F(CodecTest, TrainsWritesOutputsAndDecodes) {
  Dataset d = synthetic_dataset();
  CodecConfig c = codec_preset("tiny");
  c.max_epochs = 12;
  c.patience = 12;
  fs::path dir = temp_dir("train");
  TrainResult r = train_codec(d, c, options(dir));
  ASSERT_TRUE(r.finished);
  for (const char* f : {"model.pt", "config.json", "codes.bin", "train.json", "checkpoint.pt"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  auto report = read_json(dir / "train.json");
  for (const char* key : {"valid_exact_event_rate", "test_exact_event_rate", "valid_token_accuracy",
                          "numeric_value_exact_rate", "categorical_value_exact_rate", "events_per_second",
                          "train_exact_event_rate", "codebook_usage", "codebook_perplexity", "runtime", "seed"})
    EXPECT_TRUE(report.contains(key)) << key;
  EXPECT_EQ(report["epochs"].size(), 12u);
  EXPECT_EQ(report["epochs"][0]["codebook_perplexity"].size(), static_cast<size_t>(c.depth));
  // The synthetic events are easy: the codec must learn them.
  double first = report["epochs"][0]["train_token_accuracy"], last = report["train_token_accuracy"];
  EXPECT_GT(last, 0.75);
  EXPECT_GT(last, first + 0.1);
  EXPECT_GT(report["codebook_usage"][0].get<int>(), 1);  // k-means init + restarts: no collapse to one code

  CodesFile codes = read_codes_file(dir / "codes.bin");
  EXPECT_EQ(codes.events, d.num_events());
  EXPECT_EQ(codes.positions, static_cast<uint32_t>(c.positions));
  EXPECT_EQ(codes.depth, static_cast<uint32_t>(c.depth));
  EXPECT_EQ(codes.codebook_size, static_cast<uint32_t>(c.codebook_size));

  // Decoding the stored codes reproduces the training-split exact rate measured by training.
  fs::path work = temp_dir("work");
  fs::create_directories(work / "codec");
  fs::copy_file(dir / "model.pt", work / "codec" / "model.pt");
  DecodedTokens decoded = decode_codes(work, codes.codes, codes.events, EventGrammar(d.vocab, d.columns), "cpu", 1);
  ASSERT_EQ(decoded.tokens_per_event, 16);
  int64_t exact = 0, train_events = 0;
  for (size_t e = 0; e < d.num_events(); ++e) {
    if (d.event_split(e) != kTrain) continue;
    ++train_events;
    exact += d.vocab.decode_event(&decoded.tokens[e * 16], &decoded.types[e * 16], 16) == d.decode(e);
  }
  EXPECT_NEAR(double(exact) / train_events, report["train_exact_event_rate"].get<double>(), 0.02);

  auto bad = codes.codes;
  bad[0] = static_cast<uint16_t>(c.codebook_size);
  EXPECT_THROW(decode_codes(work, bad, codes.events, EventGrammar(d.vocab, d.columns), "cpu", 1), Error);
  fs::remove_all(dir);
  fs::remove_all(work);
}

// Under a wall-clock budget the cosine schedule reaches its floor at the deadline, and the partial
// epoch is evaluated and kept as the run's output; --resume goes on with the next epoch.
TEST_F(CodecTest, ATimeBudgetEndsTheScheduleAndKeepsThePartialEpoch) {
  Dataset d = synthetic_dataset();
  CodecConfig c = codec_preset("tiny");
  c.lr_schedule = "cosine";
  c.lr_warmup_steps = 0;
  c.max_epochs = 3;
  fs::path dir = temp_dir("budget");
  TrainOptions o = options(dir);
  o.max_minutes = 1e-7;  // spent before the first step's rate is set
  ASSERT_TRUE(train_codec(d, c, o).finished);
  auto report = read_json(dir / "train.json");
  EXPECT_EQ(report["stopped_by"], "max_minutes");
  ASSERT_EQ(report["epochs"].size(), 1u);
  EXPECT_TRUE(report["epochs"][0]["partial"].get<bool>());
  EXPECT_NEAR(report["epochs"][0]["lr"].get<double>(), c.lr * c.min_lr_ratio, 1e-12);
  EXPECT_EQ(report["best_epoch"], 1);
  EXPECT_EQ(read_codes_file(dir / "codes.bin").events, d.num_events());

  o.max_minutes = 0;
  o.resume = true;
  ASSERT_TRUE(train_codec(d, c, o).finished);
  report = read_json(dir / "train.json");
  EXPECT_EQ(report["stopped_by"], "max_epochs");
  ASSERT_EQ(report["epochs"].size(), 3u);
  EXPECT_FALSE(report["epochs"][1]["partial"].get<bool>());
  EXPECT_GT(report["epochs"][1]["lr"].get<double>(), report["epochs"][2]["lr"].get<double>());
  fs::remove_all(dir);

  // A time-out in the last epoch ends the run as max_epochs (nothing left to resume).
  c.max_epochs = 1;
  o = options(dir);
  o.max_minutes = 1e-7;
  ASSERT_TRUE(train_codec(d, c, o).finished);
  report = read_json(dir / "train.json");
  EXPECT_EQ(report["stopped_by"], "max_epochs");
  EXPECT_TRUE(report["epochs"][0]["partial"].get<bool>());
  fs::remove_all(dir);
}

// Number augmentation on every event of the real MIMIC-IV demo: each event keeps its table,
// columns and non-numeric values; every number keeps its length and stays canonical.
TEST_F(CodecTest, RedrawnDigitsKeepEveryEventsShapeAndCanonicalNumbers) {
  fs::path work = temp_dir("redraw");
  prepare(load_config(fs::path(RAWMED_SOURCE_DIR) / "configs/mimic-iv-demo.toml"), work);
  Dataset d = Dataset::load(work / "dataset");
  const int64_t n = static_cast<int64_t>(d.num_events()), length = d.max_tokens_per_event();
  std::vector<int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  EventTensors padded = pad_events(d, static_cast<int>(length), torch::kCPU);
  auto batch = [&] { return gather(padded, ids.data(), n, torch::kCPU); };  // as the training loop feeds it
  const auto tokens = batch().tokens;
  std::map<std::string, bool> numeric;  // "table/column"
  for (const auto& t : d.columns["tables"])
    for (const auto& c : t["columns"])
      numeric[t["name"].get<std::string>() + "/" + c["name"].get<std::string>()] = c["type"] == "numeric";
  std::mt19937_64 rng(11);
  Batch unchanged = batch();
  redraw_digits(unchanged, 0.0, rng);
  EXPECT_TRUE(torch::equal(unchanged.tokens, tokens));

  Batch all = batch();
  redraw_digits(all, 1.0, rng);
  auto redrawn = all.tokens.contiguous(), types = all.types.contiguous();
  std::vector<uint16_t> event(length);
  std::vector<uint8_t> event_types(length);
  int64_t numbers = 0, changed_numbers = 0, changed_events = 0;
  for (int64_t e = 0; e < n; ++e) {
    for (int64_t i = 0; i < length; ++i) {
      event[i] = static_cast<uint16_t>(redrawn.data_ptr<int64_t>()[e * length + i]);
      event_types[i] = static_cast<uint8_t>(types.data_ptr<int64_t>()[e * length + i]);
    }
    DecodedEvent original = d.decode(e), now = d.vocab.decode_event(event.data(), event_types.data(), length);
    ASSERT_TRUE(now.ok) << "event " << e << ": " << now.error;
    ASSERT_EQ(now.table, original.table);
    ASSERT_EQ(now.pairs.size(), original.pairs.size());
    for (size_t p = 0; p < now.pairs.size(); ++p) {
      const auto& [column, value] = now.pairs[p];
      ASSERT_EQ(column, original.pairs[p].first);
      if (!numeric[now.table + "/" + column]) continue;
      ++numbers;
      ASSERT_EQ(value.size(), original.pairs[p].second.size()) << value;
      EXPECT_TRUE(is_canonical_number(value, d.decimals())) << "event " << e << " " << column << " = " << value;
      changed_numbers += value != original.pairs[p].second;
    }
    changed_events += !(now == original);
  }
  EXPECT_GT(numbers, 10000);
  EXPECT_GT(changed_numbers, numbers * 8 / 10);  // a one-digit number redraws to itself 1 time in 9 or 10

  Batch half = batch();
  redraw_digits(half, 0.5, rng);
  auto touched = (half.tokens != tokens).any(1).sum().item<int64_t>();
  EXPECT_GT(touched, changed_events * 4 / 10);  // about half of the events that change at all
  EXPECT_LT(touched, changed_events * 6 / 10);
  fs::remove_all(work);
}

TEST_F(CodecTest, ResumeAfterStopMidEpochIsBitForBit) {
  Dataset d = synthetic_dataset();
  CodecConfig c = codec_preset("tiny");  // 3 epochs of 13 steps
  c.augment_numbers = 0.5;               // its random draws must resume exactly too
  fs::path full = temp_dir("full"), split = temp_dir("split");
  TrainResult uninterrupted = train_codec(d, c, options(full));
  ASSERT_TRUE(uninterrupted.finished);

  TrainOptions first = options(split);
  first.stop_after_steps = 17;  // inside the second epoch
  TrainResult stopped = train_codec(d, c, first);
  ASSERT_FALSE(stopped.finished);
  EXPECT_FALSE(same_state(stopped.last_state, uninterrupted.last_state));
  TrainOptions second = options(split);
  second.stop_after_steps = 5;  // stop once more, in the same epoch
  ASSERT_FALSE(train_codec(d, c, [&] { auto o = second; o.resume = true; return o; }()).finished);
  TrainOptions rest = options(split);
  rest.resume = true;
  TrainResult resumed = train_codec(d, c, rest);
  ASSERT_TRUE(resumed.finished);
  EXPECT_TRUE(same_state(resumed.last_state, uninterrupted.last_state));
  EXPECT_EQ(read_file(full / "codes.bin"), read_file(split / "codes.bin"));
  auto a = read_json(full / "train.json"), b = read_json(split / "train.json");
  EXPECT_EQ(a["epochs"].size(), b["epochs"].size());
  EXPECT_EQ(a["epochs"].back()["train_loss"], b["epochs"].back()["train_loss"]);
  EXPECT_EQ(a["valid_exact_event_rate"], b["valid_exact_event_rate"]);

  // A stop inside the first epoch (no best epoch yet) resumes exactly too.
  fs::path early = temp_dir("early");
  TrainOptions in_first = options(early);
  in_first.stop_after_steps = 3;
  ASSERT_FALSE(train_codec(d, c, in_first).finished);
  TrainOptions finish = options(early);
  finish.resume = true;
  EXPECT_TRUE(same_state(train_codec(d, c, finish).last_state, uninterrupted.last_state));
  fs::remove_all(full);
  fs::remove_all(split);
  fs::remove_all(early);
}

TEST_F(CodecTest, CorruptOrMismatchedCheckpointIsAClearError) {
  Dataset d = synthetic_dataset(8, 4);
  CodecConfig c = codec_preset("tiny");
  c.max_epochs = 1;
  fs::path dir = temp_dir("corrupt");
  TrainOptions o = options(dir);
  o.resume = true;
  try {
    train_codec(d, c, o);
    FAIL() << "resume without a checkpoint must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no checkpoint"), std::string::npos) << e.what();
  }
  o.resume = false;
  ASSERT_TRUE(train_codec(d, c, o).finished);
  o.resume = true;

  CodecConfig other = c;
  other.channels = 8;
  try {
    train_codec(d, other, o);
    FAIL() << "a checkpoint of another architecture must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("channels"), std::string::npos) << e.what();
  }
  TrainOptions other_seed = o;
  other_seed.seed = 99;
  EXPECT_THROW(train_codec(d, c, other_seed), Error);

  std::string bytes = read_file(dir / "checkpoint.pt");
  write_file_atomic(dir / "checkpoint.pt", bytes.substr(0, bytes.size() / 2));
  try {
    train_codec(d, c, o);
    FAIL() << "a truncated checkpoint must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
  write_file_atomic(dir / "checkpoint.pt", "not a checkpoint at all");
  EXPECT_THROW(train_codec(d, c, o), Error);

  write_file_atomic(dir / "model.pt", "garbage");
  EXPECT_THROW(load_model(dir / "model.pt", torch::kCPU), Error);
  fs::remove_all(dir);
}

TEST_F(CodecTest, CodesFileRoundTripAndCorruption) {
  fs::path dir = temp_dir("codes");
  CodesFile f{3, 2, 2, 16, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
  write_codes_file(dir / "codes.bin", f);
  EXPECT_EQ(fs::file_size(dir / "codes.bin"), 32u + 12 * 2);
  CodesFile g = read_codes_file(dir / "codes.bin");
  EXPECT_EQ(g.codes, f.codes);
  EXPECT_EQ(g.events, 3u);
  EXPECT_EQ(g.codebook_size, 16u);
  std::string bytes = read_file(dir / "codes.bin");
  write_file_atomic(dir / "codes.bin", bytes.substr(0, bytes.size() - 2));
  EXPECT_THROW(read_codes_file(dir / "codes.bin"), Error);
  CodesFile wrong{3, 2, 2, 16, {1, 2, 3}};
  EXPECT_THROW(write_codes_file(dir / "x.bin", wrong), Error);
  fs::remove_all(dir);
}

TEST_F(CodecTest, PresetsAndConfigOverrides) {
  EXPECT_EQ(codec_preset("paper").codebook_size, 1024);
  EXPECT_EQ(codec_preset("paper").embed_dim, 256);
  EXPECT_EQ(codec_preset("paper").batch_size, 4096);
  EXPECT_THROW(codec_preset("huge"), Error);
  CodecConfig c = codec_preset("demo");
  auto ok = toml::parse("[codec]\nchannels = 64\nshared_codebook = true\nlr = 0.001\n");
  apply_codec_overrides(c, *ok["codec"].as_table(), "x.toml");
  EXPECT_EQ(c.channels, 64);
  EXPECT_TRUE(c.shared_codebook);
  EXPECT_DOUBLE_EQ(c.lr, 0.001);
  auto bad = toml::parse("[codec]\nchanels = 64\n");
  try {
    apply_codec_overrides(c, *bad["codec"].as_table(), "x.toml");
    FAIL() << "unknown key must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chanels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.validate(100), Error);  // 100 tokens is not P x 2^n
  EXPECT_EQ(CodecConfig::from_json(c.to_json()).to_json(), c.to_json());
}

TEST_F(CodecTest, SharedCodebookAndTransposeVariantsTrain) {
  Dataset d = synthetic_dataset(8, 4);
  CodecConfig c = codec_preset("tiny");
  c.shared_codebook = true;
  c.upsample = "transpose";
  c.max_epochs = 2;
  fs::path dir = temp_dir("shared");
  TrainResult r = train_codec(d, c, options(dir));
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.report["codebook_usage"].size(), static_cast<size_t>(c.depth));
  fs::remove_all(dir);
}

// kill -TERM during training: the step in flight finishes, the checkpoint is written and training
// stops with a message on how to resume; --resume then reaches the uninterrupted weights.
TEST_F(CodecTest, StopSignalWritesACheckpointAndResumeIsBitForBit) {
  Dataset d = synthetic_dataset();
  CodecConfig c = codec_preset("tiny");
  fs::path full = temp_dir("signal_full"), cut = temp_dir("signal_cut");
  TrainResult uninterrupted = train_codec(d, c, options(full));
  raise_stop_signal_at_check(17);  // inside the second epoch
  try {
    train_codec(d, c, options(cut));
    FAIL() << "a stop signal must stop training";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stopped by SIGTERM"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  ASSERT_TRUE(fs::exists(cut / "checkpoint.pt"));
  TrainOptions rest = options(cut);
  rest.resume = true;
  TrainResult resumed = train_codec(d, c, rest);
  EXPECT_TRUE(same_state(resumed.last_state, uninterrupted.last_state));
  EXPECT_EQ(read_file(full / "codes.bin"), read_file(cut / "codes.bin"));
  fs::remove_all(full);
  fs::remove_all(cut);
}

}  // namespace
}  // namespace rawmed::codec
