// Codec speed on the `paper` architecture (embed 256, P 4, D 2, K 1024), 2 threads, f32 and bf16:
//   training step (forward, heads on non-pad tokens, backward, AdamW, EMA codebooks) and
//   inference (encode + quantize + decode + argmax heads over all 128 positions).
// Counters: events/s and tokens/s (128 token slots per event, as LIBTORCH_CPU.md counts them).
// Synthetic batch: 64 events of 48 real tokens each, vocabulary 2400 (about MIMIC-IV's size).
#include "codec/trainer.h"
#include "common/torch_env.h"

#include <ATen/autocast_mode.h>
#include <benchmark/benchmark.h>

namespace {

using namespace rawmed::codec;

constexpr int kBatch = 64, kLength = 128, kRealTokens = 48, kVocab = 2400;

Batch make_batch() {
  torch::manual_seed(1);
  auto tokens = torch::randint(2, kVocab, {kBatch, kLength}, torch::kLong);
  auto types = torch::randint(1, 5, {kBatch, kLength}, torch::kLong);
  auto dpe = torch::randint(0, 32, {kBatch, kLength}, torch::kLong);
  auto pad = torch::arange(kLength).unsqueeze(0).expand({kBatch, kLength}) >= kRealTokens;
  return {tokens.masked_fill(pad, 0), types.masked_fill(pad, 0), dpe.masked_fill(pad, 0)};
}

RQVAE make_model() {
  rawmed::setup_torch_threads(2);
  VocabSizes sizes;
  sizes.tokens = kVocab;
  return RQVAE(codec_preset("paper"), sizes);
}

struct Bf16 {
  bool on;
  explicit Bf16(bool enable) : on(enable) {
    if (!on) return;
    at::autocast::set_autocast_cache_enabled(false);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~Bf16() {
    if (on) at::autocast::set_cpu_enabled(false);
  }
};

void set_counters(benchmark::State& state) {
  state.counters["events/s"] = benchmark::Counter(double(state.iterations()) * kBatch, benchmark::Counter::kIsRate);
  state.counters["tokens/s"] =
      benchmark::Counter(double(state.iterations()) * kBatch * kLength, benchmark::Counter::kIsRate);
}

void BM_CodecTrainStep(benchmark::State& state) {
  RQVAE model = make_model();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(5e-4));
  Batch batch = make_batch();
  std::mt19937_64 rng(0);
  Bf16 bf16(state.range(0) != 0);
  model->train();
  for (auto _ : state) {
    auto out = model->forward(batch.tokens, batch.types, batch.dpe);
    auto heads = run_heads(model, out.hidden, out.commitment, batch);
    optimizer.zero_grad();
    heads.loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 5.0);
    optimizer.step();
    model->quantizer->update_codebooks(0.02, rng);
  }
  set_counters(state);
}

void BM_CodecInference(benchmark::State& state) {
  RQVAE model = make_model();
  Batch batch = make_batch();
  Bf16 bf16(state.range(0) != 0);
  model->eval();
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    auto out = model->forward(batch.tokens, batch.types, batch.dpe);
    auto tokens = model->token_head(out.hidden).argmax(-1);
    benchmark::DoNotOptimize(tokens.data_ptr());
  }
  set_counters(state);
}

BENCHMARK(BM_CodecTrainStep)->ArgName("bf16")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_CodecInference)->ArgName("bf16")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
