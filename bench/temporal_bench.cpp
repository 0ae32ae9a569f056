// Temporal model speed, `paper` architecture (12 layers, d 256, 4 heads, FF 1024), 2 threads:
//   BM_CachedStep        one new token for a batch of 64 at prefix length 2,400, with the KV cache
//   BM_FullPrefix        the same token by rerunning the whole 2,400-token prefix (no cache)
//   BM_SampleStays       end-to-end cached sampling of whole MIMIC-IV-length stays (E = 240, 2,402 tokens)
//   BM_TrainStep/f32|bf16 training tokens/s (forward + backward + AdamW), dropout 0.1
// Environment: RAWMED_BENCH_THREADS (default 2), RAWMED_BENCH_SAMPLE_BATCH (default 64),
// RAWMED_BENCH_SAMPLE_EVENTS (default 240), RAWMED_BENCH_FULL_CHUNKS (default 8 of 8),
// RAWMED_BENCH_TRAIN_BATCH (default 4 sequences of 2,400 tokens).
#include "common/log.h"
#include "temporal/corpus.h"
#include "temporal/sampler.h"

#include <ATen/autocast_mode.h>
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

using namespace rawmed::temporal;

namespace {

constexpr int64_t kBatch = 64, kPrefix = 2400;

Layout mimic_layout() {
  // MIMIC-IV 12 h: K = 1024, 4 x 2 codes, 2 time digits, E = 240 -> 2,402 tokens.
  return make_layout(1024, 4, 2, 12, 10, 240, false, {});
}

ModelConfig paper_model(const Layout& layout, double dropout = 0.0) {
  ModelConfig c;
  c.vocab_size = layout.vocab_size();
  c.max_length = layout.max_length();
  c.layers = 12;
  c.d_model = 256;
  c.heads = 4;
  c.ff = 1024;
  c.dropout = dropout;
  return c;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

void BM_CachedStep(benchmark::State& state) {
  torch::manual_seed(0);
  Layout l = mimic_layout();
  Transformer net(paper_model(l));
  net->eval();
  torch::NoGradGuard no_grad;
  KVCache cache = net->make_cache(kBatch);
  for (auto& k : cache.keys) k.normal_();
  for (auto& v : cache.values) v.normal_();
  auto token = torch::randint(0, l.codebook, {kBatch, 1}, torch::kLong);
  for (auto _ : state) {
    cache.length = kPrefix;  // the new token is position 2,400: it attends to 2,401 keys
    benchmark::DoNotOptimize(net->forward(token, &cache));
  }
  state.counters["batch_tokens_per_s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_FullPrefix(benchmark::State& state) {
  torch::manual_seed(0);
  Layout l = mimic_layout();
  Transformer net(paper_model(l));
  net->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, l.codebook, {kBatch, kPrefix + 1}, torch::kLong);
  // In chunks of 8 stays: the same work as one batch of 64 without 6 GB of attention scores at
  // once. RAWMED_BENCH_FULL_CHUNKS < 8 runs only that many chunks; ms_per_batch64 scales up.
  const int64_t chunk = 8, chunks = std::clamp(env_int("RAWMED_BENCH_FULL_CHUNKS", 8), 1, 8);
  auto started = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (int64_t c = 0; c < chunks; ++c)
      benchmark::DoNotOptimize(net->forward(tokens.narrow(0, c * chunk, chunk)).select(1, kPrefix));
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  state.counters["ms_per_batch64"] = ms / double(state.iterations()) * double(kBatch / chunk) / double(chunks);
}

void BM_SampleStays(benchmark::State& state) {
  torch::manual_seed(0);
  // RAWMED_BENCH_SAMPLE_EVENTS < 240 shortens the stays (default: whole MIMIC-IV-length stays).
  Layout l = make_layout(1024, 4, 2, 12, 10, env_int("RAWMED_BENCH_SAMPLE_EVENTS", 240), false, {});
  Transformer net(paper_model(l));
  SamplerSettings settings;
  settings.batch_size = env_int("RAWMED_BENCH_SAMPLE_BATCH", 64);
  settings.min_events = l.max_events;  // END only at the cap: whole MIMIC-IV-length sequences
  int64_t tokens = 0, stays = 0;
  double seconds = 0;
  for (auto _ : state) {
    auto out = sample_sequences(net, l, settings.batch_size, settings);
    tokens += out.tokens;
    stays += static_cast<int64_t>(out.sequences.size());
    seconds += out.seconds;
  }
  state.counters["tokens_per_s"] = double(tokens) / seconds;
  state.counters["stays_per_s"] = double(stays) / seconds;
  state.counters["tokens_per_stay"] = double(tokens) / double(stays);
}

void train_step(benchmark::State& state, bool bf16) {
  torch::manual_seed(0);
  Layout l = mimic_layout();
  Transformer net(paper_model(l, 0.1));
  net->train();
  torch::optim::AdamW optimizer(net->parameters(), torch::optim::AdamWOptions(3e-4));
  const int64_t B = env_int("RAWMED_BENCH_TRAIN_BATCH", 4), T = kPrefix;
  auto input = torch::randint(0, l.codebook, {B, T}, torch::kLong);
  auto target = torch::randint(0, l.codebook, {B, T}, torch::kLong);
  for (auto _ : state) {
    optimizer.zero_grad();
    torch::Tensor logits;
    if (bf16) {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    logits = net->forward(input);
    if (bf16) {
      at::autocast::set_cpu_enabled(false);
      at::autocast::clear_cache();
    }
    auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat).view({B * T, -1}), target.view(-1));
    loss.backward();
    torch::nn::utils::clip_grad_norm_(net->parameters(), 5.0);
    optimizer.step();
  }
  state.counters["tokens_per_s"] = benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
}
void BM_TrainStep_f32(benchmark::State& state) { train_step(state, false); }
void BM_TrainStep_bf16(benchmark::State& state) { train_step(state, true); }

}  // namespace

BENCHMARK(BM_CachedStep)->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();
BENCHMARK(BM_FullPrefix)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_SampleStays)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_TrainStep_f32)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_TrainStep_bf16)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  at::set_num_threads(env_int("RAWMED_BENCH_THREADS", 2));
  rawmed::set_quiet(true);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
