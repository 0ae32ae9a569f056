#include "temporal/sampler.h"

#include "common/clock.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

namespace rawmed::temporal {

void save_model(const std::filesystem::path& path, const TemporalModel& model) {
  torch::serialize::OutputArchive archive;
  nlohmann::json config = {{"format", "rawmed-temporal/1"},
                           {"layout", model.layout.to_json()},
                           {"model", model.config.to_json()}};
  archive.write("config", torch::IValue(config.dump()));
  torch::serialize::OutputArchive weights;
  model.net->save(weights);
  archive.write("model", weights);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_checksummed(path, bytes.str());
}

TemporalModel load_model(const std::filesystem::path& path, torch::Device device) {
  if (!std::filesystem::exists(path))
    fail("{}: no temporal model; run `rawmed train --stage temporal` first", path.string());
  TemporalModel m;
  std::istringstream bytes(read_file_checksummed(path));
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes);
    torch::IValue config;
    archive.read("config", config);
    auto j = nlohmann::json::parse(config.toStringRef());
    if (j.value("format", "") != "rawmed-temporal/1")
      fail("{}: format '{}' is not rawmed-temporal/1", path.string(), j.value("format", ""));
    m.layout = Layout::from_json(j.at("layout"));
    m.config = ModelConfig::from_json(j.at("model"));
    m.net = Transformer(m.config);
    torch::serialize::InputArchive weights;
    archive.read("model", weights);
    m.net->load(weights);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {  // what() would append LibTorch's C++ stack trace
    fail("{}: cannot read the temporal model (corrupt or from another version): {}", path.string(),
         e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail("{}: cannot read the temporal model (corrupt or from another version): {}", path.string(), e.what());
  }
  m.net->to(device);
  m.net->eval();
  return m;
}

// Draws one of `candidates` with probability proportional to exp(logit / temperature).
static int draw(const float* logits, const std::vector<int>& candidates, double temperature, std::mt19937_64& rng) {
  float top = logits[candidates[0]];
  for (int c : candidates) top = std::max(top, logits[c]);
  std::vector<double> p(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) p[i] = std::exp((logits[candidates[i]] - top) / temperature);
  double u = std::uniform_real_distribution<double>(0.0, std::accumulate(p.begin(), p.end(), 0.0))(rng);
  for (size_t i = 0; i < p.size(); ++i) {
    if (u < p[i]) return candidates[i];
    u -= p[i];
  }
  return candidates.back();
}

int pick_token(const float* logits, const std::vector<char>& allowed, const SamplerSettings& settings,
               double temperature, std::mt19937_64& rng) {
  std::vector<int> candidates;
  for (size_t t = 0; t < allowed.size(); ++t)
    if (allowed[t]) candidates.push_back(static_cast<int>(t));
  if (candidates.empty()) fail("temporal: the grammar allows no token (internal error)");
  auto higher = [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const bool cut = (settings.top_k > 0 && static_cast<int>(candidates.size()) > settings.top_k) || settings.top_p < 1.0;
  if (!cut) return draw(logits, candidates, temperature, rng);  // no order needed: skip the sort
  if (settings.top_k > 0 && static_cast<int>(candidates.size()) > settings.top_k) {
    std::nth_element(candidates.begin(), candidates.begin() + settings.top_k, candidates.end(), higher);
    candidates.resize(settings.top_k);
  }
  std::sort(candidates.begin(), candidates.end(), higher);
  if (settings.top_p < 1.0) {
    std::vector<double> p(candidates.size());
    for (size_t i = 0; i < candidates.size(); ++i)
      p[i] = std::exp((logits[candidates[i]] - logits[candidates[0]]) / temperature);
    const double total = std::accumulate(p.begin(), p.end(), 0.0);
    double mass = 0;
    size_t keep = 0;
    while (keep < p.size() && mass < settings.top_p * total) mass += p[keep++];
    candidates.resize(std::max<size_t>(keep, 1));
  }
  return draw(logits, candidates, temperature, rng);
}

static uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

SampledTokens sample_sequences(Transformer& net, const Layout& layout, int64_t n, const SamplerSettings& settings) {
  if (settings.temperature <= 0) fail("--temperature must be positive (got {})", settings.temperature);
  if (settings.time_temperature < 0) fail("--time-temperature must be >= 0 (got {})", settings.time_temperature);
  if (settings.top_p <= 0 || settings.top_p > 1) fail("--top-p must be in (0, 1] (got {})", settings.top_p);
  if (settings.batch_size <= 0) fail("sampling batch size must be positive");
  torch::NoGradGuard no_grad;
  net->eval();
  const auto device = net->parameters().front().device();
  const int V = layout.vocab_size();
  SampledTokens out;
  out.sequences.reserve(n);
  auto started = Clock::now();
  Progress progress("sample", n, "stays");
  std::vector<char> allowed;
  for (int64_t first = 0; first < n; first += settings.batch_size) {
    const int64_t B = std::min<int64_t>(settings.batch_size, n - first);
    std::vector<GrammarState> states(B);
    std::vector<CodeGrammar::Cursor> event_codes(B);
    std::vector<std::mt19937_64> rngs;
    for (int64_t i = 0; i < B; ++i) {
      rngs.emplace_back(mix(settings.seed ^ mix(first + i)));
      states[i].lift_times = settings.lift_times;
      advance(layout, states[i], layout.start());
    }
    KVCache cache;
    if (settings.use_cache) cache = net->make_cache(B);
    auto tokens = torch::full({B, layout.max_length()}, layout.pad(), torch::TensorOptions().dtype(torch::kLong));
    tokens.select(1, 0).fill_(layout.start());
    int64_t length = 1, alive = B;
    while (alive > 0) {
      torch::Tensor logits;
      if (settings.use_cache) logits = net->forward(tokens.narrow(1, length - 1, 1).to(device), &cache);
      else logits = net->forward(tokens.narrow(1, 0, length).to(device));
      logits = logits.select(1, logits.size(1) - 1).to(torch::kCPU, torch::kFloat).contiguous();
      const float* rows = logits.data_ptr<float>();
      auto column = tokens.select(1, length);
      auto next = column.accessor<int64_t, 1>();
      for (int64_t i = 0; i < B; ++i) {
        if (states[i].ended) {
          next[i] = layout.pad();
          continue;
        }
        allowed_next(layout, states[i], settings.gender, settings.age_mask, allowed, settings.min_events);
        int time_digit = 0;
        const Slot slot = layout.slot(states[i].position, &time_digit);
        if (slot == Slot::kCode && settings.code_grammar) settings.code_grammar->restrict(event_codes[i], allowed);
        // An under-trained model spreads its time digits; with masked times (--mask-times) every
        // uncertain draw moves time forward, which a lower time temperature counters.
        bool time_slot = slot == Slot::kTime;
        double temperature =
            time_slot && settings.time_temperature > 0 ? settings.time_temperature : settings.temperature;
        int drawn = pick_token(rows + i * V, allowed, settings, temperature, rngs[i]);
        int token = lift_time_digit(layout, states[i], drawn);
        if (token == layout.end() && states[i].events >= layout.max_events) ++out.hit_cap;
        advance(layout, states[i], token);
        if (settings.code_grammar && token != layout.end()) {
          if (slot == Slot::kTime && time_digit == layout.time_digits - 1)
            settings.code_grammar->start(event_codes[i], rngs[i]);
          else if (slot == Slot::kCode)
            settings.code_grammar->advance(event_codes[i], token);
        }
        ++out.tokens;
        if (states[i].ended) --alive;
        next[i] = token;
      }
      ++length;
    }
    for (auto& s : states) out.sequences.push_back(std::move(s.tokens));
    progress.advance(B);
  }
  progress.finish();
  out.seconds = seconds_since(started);
  return out;
}

}  // namespace rawmed::temporal
