#include "temporal/corpus.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/config.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace rawmed::temporal {

Corpus build_corpus(const Dataset& d, const Codes& codes, const TemporalConfig& config, int window_hours) {
  if (codes.events != d.num_events())
    fail("codec/codes.bin holds {} events but the dataset has {}: rerun `rawmed train --stage codec`", codes.events,
         d.num_events());
  std::set<std::string> gender_set;
  for (const auto& s : d.stays) gender_set.insert(s.gender);
  Corpus c;
  c.layout = make_layout(static_cast<int>(codes.codebook_size), static_cast<int>(codes.positions),
                         static_cast<int>(codes.depth), window_hours, config.time_resolution_minutes,
                         d.max_events_per_stay(), config.condition, {gender_set.begin(), gender_set.end()},
                         parse_time_encoding(config.time_encoding));
  const Layout& l = c.layout;
  const size_t per_event = static_cast<size_t>(l.codes_per_event);
  for (size_t s = 0; s < d.num_stays(); ++s) {
    const size_t first = d.stay_offsets[s], n = d.stay_offsets[s + 1] - first;
    int gender = 0;
    if (l.conditioned)
      gender = static_cast<int>(std::find(l.genders.begin(), l.genders.end(), d.stays[s].gender) - l.genders.begin());
    auto seq = encode_stay(l, &d.event_minutes[first], &codes.codes[first * per_event], n, gender,
                           age_group_of(d.stays[s].age));
    c.events_total += static_cast<int64_t>(n);
    if (n > static_cast<size_t>(l.max_events)) {
      c.events_cut += static_cast<int64_t>(n) - l.max_events;
      ++c.stays_cut;
    }
    switch (d.stays[s].split) {
      case kTrain:
        c.train_tokens += static_cast<int64_t>(seq.size()) - 1;
        c.train.push_back(std::move(seq));
        break;
      case kValid: c.valid.push_back(std::move(seq)); break;
      case kTest: c.test.push_back(std::move(seq)); break;
    }
  }
  std::vector<int64_t> slots(l.max_length() - 1);
  for (int64_t p = 0; p + 1 < l.max_length(); ++p) slots[p] = l.slot_class(p + 1);
  c.target_slots = torch::tensor(slots, torch::kLong);
  return c;
}

Batch Corpus::make_batch(const std::vector<std::vector<int32_t>>& sequences, const std::vector<size_t>& ids,
                         torch::Device device) const {
  size_t longest = 0;
  for (size_t i : ids) longest = std::max(longest, sequences[i].size());
  const int64_t B = static_cast<int64_t>(ids.size()), T = static_cast<int64_t>(longest) - 1;
  auto input = torch::full({B, T}, layout.pad(), torch::kLong);
  auto target = torch::full({B, T}, -100, torch::kLong);
  auto in = input.accessor<int64_t, 2>();
  auto out = target.accessor<int64_t, 2>();
  Batch batch;
  for (int64_t b = 0; b < B; ++b) {
    const auto& seq = sequences[ids[b]];
    for (size_t t = 0; t + 1 < seq.size(); ++t) {
      in[b][t] = seq[t];
      out[b][t] = seq[t + 1];
    }
    batch.tokens += static_cast<int64_t>(seq.size()) - 1;
  }
  batch.input = input.to(device);
  batch.target = target.to(device);
  batch.slot = target_slots.narrow(0, 0, T).to(device);
  return batch;
}

std::vector<std::vector<size_t>> Corpus::train_batches(int batch_size, int64_t batch_tokens,
                                                       std::mt19937_64& rng) const {
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const size_t window = static_cast<size_t>(batch_size) * 16;
  for (size_t first = 0; first < order.size(); first += window) {
    auto end = order.begin() + std::min(order.size(), first + window);
    std::stable_sort(order.begin() + first, end, [&](size_t a, size_t b) { return train[a].size() < train[b].size(); });
  }
  std::vector<std::vector<size_t>> batches;
  size_t longest = 0;
  for (size_t id : order) {
    size_t grown = std::max(longest, train[id].size());
    bool full = !batches.empty() && (batches.back().size() >= static_cast<size_t>(batch_size) ||
                                     (batch_tokens > 0 && (batches.back().size() + 1) * grown > size_t(batch_tokens)));
    if (batches.empty() || full) {
      batches.emplace_back();
      grown = train[id].size();
    }
    batches.back().push_back(id);
    longest = grown;
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

nlohmann::json Corpus::summary() const {
  auto lengths = [](const std::vector<std::vector<int32_t>>& seqs) {
    size_t most = 0, total = 0;
    for (const auto& s : seqs) {
      most = std::max(most, s.size());
      total += s.size();
    }
    return nlohmann::json{{"stays", seqs.size()}, {"tokens", total}, {"longest", most}};
  };
  return {{"train", lengths(train)},     {"valid", lengths(valid)},  {"test", lengths(test)},
          {"events", events_total},      {"events_cut_by_cap", events_cut}, {"stays_cut_by_cap", stays_cut},
          {"max_events_per_stay", layout.max_events}};
}

int window_hours_of(const Dataset& dataset, const std::filesystem::path& config_file) {
  if (dataset.manifest.contains("window_hours")) return dataset.manifest.at("window_hours").get<int>();
  if (!config_file.empty()) return load_config(config_file).dataset.window_hours;
  fail("dataset/manifest.json has no window_hours and there is no config.toml to read the window from");
}

CorpusInputs load_corpus_inputs(const std::filesystem::path& work, const std::filesystem::path& config,
                                const std::string& preset) {
  CorpusInputs in;
  in.config = temporal_preset(preset);
  in.config_file = config.empty() ? work / "config.toml" : config;
  if (!config.empty() && !fs::exists(config)) fail("{}: config file not found", config.string());
  if (fs::exists(in.config_file)) {
    Config cfg = load_config(in.config_file);
    apply_temporal_overrides(in.config, config_section(cfg, "temporal"), in.config_file);
  } else {
    in.config_file.clear();
  }
  Dataset dataset = Dataset::load(work / "dataset");
  const fs::path codes_path = work / "codec" / "codes.bin";
  if (!fs::exists(codes_path))
    fail("{}: no event codes; run `rawmed train --stage codec` first", codes_path.string());
  Codes codes = codec::read_codes_file(codes_path);
  in.window_hours = window_hours_of(dataset, in.config_file);
  in.corpus = build_corpus(dataset, codes, in.config, in.window_hours);
  in.fingerprints = {{"codes.bin", file_crc32(codes_path)},
                     {"dataset/manifest.json", file_crc32(work / "dataset" / "manifest.json")}};
  return in;
}

GrammarMasks::GrammarMasks(const Layout& layout, torch::Device device) {
  const int C = layout.num_slot_classes();
  masks = torch::full({C, layout.vocab_size()}, -std::numeric_limits<float>::infinity());
  for (int c = 0; c < C; ++c)
    for (int t : layout.allowed_tokens(c)) masks[c][t] = 0.0f;
  // Classes with no tokens (gender/age when unconditioned) never occur as targets; keep them finite.
  if (!layout.conditioned) masks.narrow(0, 0, 2).zero_();
  masks = masks.to(device);
  code_class_ = 2 + layout.time_digits;
}

torch::Tensor GrammarMasks::apply(const torch::Tensor& logits, const torch::Tensor& slot) const {
  return logits + masks.index_select(0, slot).unsqueeze(0);
}

Unigram fit_unigram(const Corpus& corpus) {
  const Layout& l = corpus.layout;
  const int C = l.num_slot_classes(), V = l.vocab_size();
  std::vector<std::vector<double>> counts(C, std::vector<double>(V, 0.0));
  for (int c = 0; c < C; ++c)
    for (int t : l.allowed_tokens(c)) counts[c][t] = 1.0;  // add-one
  for (const auto& seq : corpus.train)
    for (size_t p = 1; p < seq.size(); ++p) counts[l.slot_class(static_cast<int64_t>(p))][seq[p]] += 1.0;
  Unigram u;
  u.log_p.assign(C, std::vector<double>(V, -std::numeric_limits<double>::infinity()));
  for (int c = 0; c < C; ++c) {
    double total = std::accumulate(counts[c].begin(), counts[c].end(), 0.0);
    for (int t = 0; t < V; ++t)
      if (counts[c][t] > 0) u.log_p[c][t] = std::log(counts[c][t] / total);
  }
  return u;
}

double Unigram::loss(const Corpus& corpus, const std::vector<std::vector<int32_t>>& sequences) const {
  double total = 0;
  int64_t n = 0;
  for (const auto& seq : sequences)
    for (size_t p = 1; p < seq.size(); ++p) {
      total -= log_p[corpus.layout.slot_class(static_cast<int64_t>(p))][seq[p]];
      ++n;
    }
  return n ? total / double(n) : 0;
}

}  // namespace rawmed::temporal
