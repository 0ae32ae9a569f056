// Codec training loop: shuffled mini-batches, AdamW, clipping, EMA codebooks, early stopping on
// the validation exact-event rate, a checkpoint every epoch, bit-for-bit resume; then codes.bin,
// model.pt and train.json from the best epoch.
#include "codec/codec.h"
#include "codec/trainer.h"
#include "common/clock.h"
#include "common/launch.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/schedule.h"
#include "common/torch_env.h"
#include "common/trainer.h"
#include "common/config.h"
#include "common/config_fields.h"
#include "text/grammar.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>

namespace rawmed::codec {
namespace {

constexpr const char* kCheckpointFormat = "rawmed-codec-checkpoint/1";

}  // namespace

EventTensors pad_events(const Dataset& d, int length, const torch::Device& device) {
  size_t n = d.num_events();
  std::vector<int32_t> tokens(n * length, 0);
  std::vector<uint8_t> types(n * length, 0), dpe(n * length, 0);
  for (size_t e = 0; e < n; ++e) {
    size_t len = d.event_length(e), off = d.event_offsets[e];
    if (len > static_cast<size_t>(length)) fail("dataset event {} has {} tokens, more than {}", e, len, length);
    for (size_t i = 0; i < len; ++i) {
      tokens[e * length + i] = d.tokens[off + i];
      types[e * length + i] = d.types[off + i];
      dpe[e * length + i] = d.dpe[off + i];
    }
  }
  auto shape = std::vector<int64_t>{static_cast<int64_t>(n), length};
  return {torch::tensor(tokens, torch::kInt32).view(shape).to(device),
          torch::tensor(types, torch::kUInt8).view(shape).to(device),
          torch::tensor(dpe, torch::kUInt8).view(shape).to(device)};
}

Batch gather(const EventTensors& ev, const int64_t* ids, size_t n, const torch::Device& device) {
  auto index = torch::from_blob(const_cast<int64_t*>(ids), {static_cast<int64_t>(n)}, torch::kLong).to(device);
  return {ev.tokens.index_select(0, index).to(torch::kLong), ev.types.index_select(0, index).to(torch::kLong),
          ev.dpe.index_select(0, index).to(torch::kLong)};
}

HeadOutput run_heads(RQVAE& model, const torch::Tensor& hidden, const torch::Tensor& commitment, const Batch& b) {
  namespace F = torch::nn::functional;
  auto flat_tokens = b.tokens.reshape(-1);
  auto positions = (flat_tokens != 0).nonzero().squeeze(1);
  // `hidden` holds the decoder states at the non-pad positions only.
  auto token_logits = model->token_head(hidden).to(torch::kFloat);
  auto type_logits = model->type_head(hidden).to(torch::kFloat);
  auto dpe_logits = model->dpe_head(hidden).to(torch::kFloat);
  HeadOutput out;
  out.token_target = flat_tokens.index_select(0, positions);
  out.token_loss = F::cross_entropy(token_logits, out.token_target);
  out.type_loss = F::cross_entropy(type_logits, b.types.reshape(-1).index_select(0, positions));
  out.dpe_loss = F::cross_entropy(dpe_logits, b.dpe.reshape(-1).index_select(0, positions));
  out.loss = out.token_loss + out.type_loss + out.dpe_loss + model->config.commitment * commitment;
  out.token_logits = token_logits;
  out.token_pred = token_logits.argmax(1);
  return out;
}

// A digit's neighbours' places say where it stands in its number: first, last, before the point.
void redraw_digits(Batch& b, double share, std::mt19937_64& rng) {
  auto tokens = b.tokens.to(torch::kCPU).contiguous();
  auto places = b.dpe.to(torch::kCPU).contiguous();
  const int64_t events = tokens.size(0), length = tokens.size(1), zero = Vocab::byte_id('0');
  for (int64_t e = 0; e < events; ++e) {
    if ((rng() >> 11) * 0x1.0p-53 >= share) continue;
    int64_t* token = tokens.data_ptr<int64_t>() + e * length;
    const int64_t* place = places.data_ptr<int64_t>() + e * length;
    for (int64_t i = 1; i < length; ++i) {
      if (place[i] < kDpeFirstFraction || token[i] < zero || token[i] > zero + 9) continue;
      int64_t next = i + 1 < length ? place[i + 1] : kDpeNone;
      bool leading = place[i - 1] == kDpeNone;
      bool nonzero = (leading && (place[i] > kDpeUnits || next != kDpePoint)) ||
                     (place[i] < kDpeUnits && next == kDpeNone);
      token[i] = zero + static_cast<int64_t>(nonzero ? 1 + rng() % 9 : rng() % 10);
    }
  }
  b.tokens = tokens.to(b.tokens.device());
}

namespace {

// Column types from columns.json, keyed "table\x1fcolumn".
std::unordered_map<std::string, std::string> column_types(const nlohmann::json& columns) {
  std::unordered_map<std::string, std::string> out;
  if (!columns.is_object() || !columns.contains("tables")) return out;
  for (const auto& t : columns["tables"])
    for (const auto& c : t.value("columns", nlohmann::json::array()))
      out[t.value("name", "") + '\x1f' + c.value("name", "")] = c.value("type", "");
  return out;
}

// Token kinds of the per-kind accuracy: the token type, with values split by whether the token is a
// digit-place token of a number (DPE set) or text.
constexpr const char* kTokenKinds[] = {"table", "column", "number", "text", "sep"};
enum KindIndex { kTableKind, kColumnKind, kNumberKind, kTextKind, kSepKind };
int token_kind(uint8_t type, uint8_t dpe) {
  switch (type) {
    case kTypeTable: return kTableKind;
    case kTypeColumn: return kColumnKind;
    case kTypeValue: return dpe != kDpeNone ? kNumberKind : kTextKind;
    default: return kSepKind;
  }
}

struct EvalResult {
  int64_t events = 0, exact = 0, tokens = 0, correct = 0;
  int64_t kind_tokens[5] = {}, kind_correct[5] = {};
  int64_t numeric_pairs = 0, numeric_exact = 0, categorical_pairs = 0, categorical_exact = 0;
  int64_t spelled = 0, spelled_exact = 0;  // events with a text value spelled in word pieces or bytes
  std::map<std::string, std::pair<int64_t, int64_t>> by_table;  // table -> (events, exact)
  double loss_sum = 0;  // token-weighted
  double seconds = 0;

  double exact_rate() const { return events ? double(exact) / events : 0.0; }
  double token_accuracy() const { return tokens ? double(correct) / tokens : 0.0; }
  double loss() const { return tokens ? loss_sum / tokens : 0.0; }
  nlohmann::json to_json() const {
    nlohmann::json by_kind;
    for (int k = 0; k < 5; ++k)
      by_kind[kTokenKinds[k]] = kind_tokens[k] ? double(kind_correct[k]) / kind_tokens[k] : 0.0;
    nlohmann::json tables;
    for (const auto& [table, counts] : by_table)
      tables[table] = {{"events", counts.first}, {"exact_event_rate", double(counts.second) / counts.first}};
    return {{"events", events},
            {"token_accuracy_by_kind", by_kind},
            {"exact_event_rate_by_table", tables},
            {"spelled_events", spelled},
            {"spelled_exact_event_rate", spelled ? double(spelled_exact) / spelled : 0.0},
            {"exact_event_rate", exact_rate()},
            {"token_accuracy", token_accuracy()},
            {"loss", loss()},
            {"numeric_pairs", numeric_pairs},
            {"numeric_value_exact_rate", numeric_pairs ? double(numeric_exact) / numeric_pairs : 0.0},
            {"categorical_pairs", categorical_pairs},
            {"categorical_value_exact_rate", categorical_pairs ? double(categorical_exact) / categorical_pairs : 0.0}};
  }
};

// Reconstructs events `ids` in eval mode, decoding as generation does (EventGrammar over the
// token scores), and compares them with the originals through the vocabulary. With `codes` set,
// writes each event's P x D codes at its dataset index.
EvalResult evaluate(RQVAE& model, const Dataset& d, const EventTensors& ev, const std::vector<int64_t>& ids,
                    const std::unordered_map<std::string, std::string>& types, const EventGrammar& grammar,
                    const torch::Device& device, std::vector<uint16_t>* codes) {
  torch::NoGradGuard no_grad;
  model->eval();
  model->quantize = true;
  EvalResult r;
  auto start = Clock::now();
  const auto& c = model->config;
  size_t per_event = static_cast<size_t>(c.positions) * c.depth;
  for (size_t begin = 0; begin < ids.size(); begin += c.eval_batch_size) {
    size_t n = std::min<size_t>(c.eval_batch_size, ids.size() - begin);
    Batch b = gather(ev, ids.data() + begin, n, device);
    auto out = model->forward(b.tokens, b.types, b.dpe);
    auto heads = run_heads(model, out.hidden, out.commitment, b);
    int64_t t = heads.token_target.size(0);
    r.tokens += t;
    r.loss_sum += heads.loss.item<double>() * t;
    // Decode as generation does (grammar-constrained, from the codes only).
    const size_t length = static_cast<size_t>(model->sizes.length);
    std::vector<uint16_t> tok(n * length);
    std::vector<uint8_t> typ(n * length), dpe(n * length);
    decode_latents(model, out.latents, grammar, tok.data(), typ.data(), dpe.data());
    for (size_t i = 0; i < n; ++i) {
      size_t e = static_cast<size_t>(ids[begin + i]), len = d.event_length(e);
      const uint16_t* event_tokens = tok.data() + i * length;
      bool spelled = false;
      for (size_t j = 0, off = d.event_offsets[e]; j < len; ++j) {
        bool right = event_tokens[j] == d.tokens[off + j];
        int kind = token_kind(d.types[off + j], d.dpe[off + j]);
        r.correct += right;
        r.kind_tokens[kind]++;
        r.kind_correct[kind] += right;
        auto piece = d.vocab.token(d.tokens[off + j]).kind;  // a text value not whole in the vocabulary
        spelled |= kind == kTextKind && (piece == TokenKind::kWord || piece == TokenKind::kByte);
      }
      DecodedEvent original = d.decode(e), decoded = d.vocab.decode_event(event_tokens, typ.data() + i * length, length);
      bool exact = decoded == original;
      ++r.events;
      r.exact += exact;
      r.spelled += spelled;
      r.spelled_exact += spelled && exact;
      auto& table = r.by_table[original.table];
      table.first++, table.second += exact;
      for (size_t j = 0; j < original.pairs.size(); ++j) {
        auto it = types.find(original.table + '\x1f' + original.pairs[j].first);
        if (it == types.end() || (it->second != "numeric" && it->second != "categorical")) continue;
        bool same = decoded.table == original.table && j < decoded.pairs.size() && decoded.pairs[j] == original.pairs[j];
        if (it->second == "numeric") r.numeric_pairs++, r.numeric_exact += same;
        else r.categorical_pairs++, r.categorical_exact += same;
      }
    }
    if (codes) {
      auto cc = out.codes.to(torch::kCPU).to(torch::kInt32).contiguous();
      const int32_t* pc = cc.data_ptr<int32_t>();
      for (size_t i = 0; i < n; ++i)
        for (size_t k = 0; k < per_event; ++k)
          (*codes)[static_cast<size_t>(ids[begin + i]) * per_event + k] = static_cast<uint16_t>(pc[i * per_event + k]);
    }
  }
  r.seconds = seconds_since(start);
  return r;
}

using NamedState = std::vector<std::pair<std::string, torch::Tensor>>;

NamedState model_state(RQVAE& model) {
  NamedState state;
  for (const auto& p : model->named_parameters()) state.emplace_back(p.key(), p.value());
  for (const auto& b : model->named_buffers()) state.emplace_back(b.key(), b.value());
  return state;
}

NamedState clone_state(RQVAE& model) {
  NamedState state = model_state(model);
  for (auto& [name, t] : state) t = t.detach().clone();
  return state;
}

void copy_state(RQVAE& model, const NamedState& from) {
  torch::NoGradGuard no_grad;
  auto to = model_state(model);
  for (size_t i = 0; i < to.size(); ++i) to[i].second.copy_(from[i].second);
}

// Everything besides tensors that a resumed run needs to continue exactly where it stopped.
struct RunState {
  int epoch = 0;
  int64_t next_batch = 0, step = 0;
  Patience patience;
  double best_exact = -1, best_accuracy = -1;
  bool done = false;
  std::string stopped_by;
  double train_seconds = 0;
  int64_t trained_events = 0;
  double lr = 0;  // of the last step
  nlohmann::json history = nlohmann::json::array();
  // Accumulators of the current epoch.
  double loss_sum = 0, token_loss_sum = 0, type_loss_sum = 0, dpe_loss_sum = 0, commitment_sum = 0;
  int64_t batches = 0, tokens = 0, correct = 0, restarted = 0, epoch_events = 0;
  double epoch_seconds = 0;
  std::vector<std::vector<int64_t>> code_counts;  // [depth][code]

  // The checkpoint's JSON keys, besides the patience's and the random generator's.
  template <class Self, class F>
  static void visit(Self& s, F&& f) {
    f("epoch", s.epoch), f("next_batch", s.next_batch), f("step", s.step);
    f("best_exact", s.best_exact), f("best_accuracy", s.best_accuracy), f("done", s.done);
    f("stopped_by", s.stopped_by), f("train_seconds", s.train_seconds), f("trained_events", s.trained_events);
    f("lr", s.lr), f("history", s.history);
    f("loss_sum", s.loss_sum), f("token_loss_sum", s.token_loss_sum), f("type_loss_sum", s.type_loss_sum);
    f("dpe_loss_sum", s.dpe_loss_sum), f("commitment_sum", s.commitment_sum), f("batches", s.batches);
    f("tokens", s.tokens), f("correct", s.correct), f("restarted", s.restarted);
    f("epoch_events", s.epoch_events), f("epoch_seconds", s.epoch_seconds), f("code_counts", s.code_counts);
  }
  nlohmann::json to_json(const std::mt19937_64& rng) const {
    nlohmann::json j = fields_to_json(*this);
    std::ostringstream rng_text;
    rng_text << rng;
    j["rng"] = rng_text.str();
    patience.to_json(j);
    return j;
  }
  void from_json(const nlohmann::json& j, std::mt19937_64& rng) {
    stored_fields_from_json(*this, j, {"lr"});  // lr: absent from checkpoints written before it was recorded
    patience.from_json(j);
    std::istringstream rng_text(j.at("rng").get<std::string>());
    rng_text >> rng;
    if (!rng_text) fail("checkpoint: unreadable random generator state");
  }
  void start_epoch(int depth, int codebook_size) {
    loss_sum = token_loss_sum = type_loss_sum = dpe_loss_sum = commitment_sum = 0;
    batches = tokens = correct = restarted = epoch_events = 0;
    epoch_seconds = 0;
    code_counts.assign(depth, std::vector<int64_t>(codebook_size, 0));
  }
};

// Usage (codes used at least once) and perplexity exp(H) of a code histogram.
std::pair<int64_t, double> usage_and_perplexity(const std::vector<int64_t>& counts) {
  double total = 0, entropy = 0;
  int64_t used = 0;
  for (auto c : counts) total += c, used += c > 0;
  for (auto c : counts)
    if (c > 0) entropy -= (c / total) * std::log(c / total);
  return {used, total > 0 ? std::exp(entropy) : 0.0};
}

// The codec keys a resumed run must keep (it may train longer or with another patience).
nlohmann::json resumable_config(const CodecConfig& config) {
  nlohmann::json c = config.to_json();
  c.erase("max_epochs");
  c.erase("patience");
  return c;
}

// What a checkpoint must agree on with the current run to be resumable.
nlohmann::json fingerprint(const CodecConfig& config, const Dataset& d, const VocabSizes& sizes, uint64_t seed) {
  return {{"codec", resumable_config(config)},
          {"seed", seed},
          {"events", d.num_events()},
          {"tokens", d.tokens.size()},
          {"vocab_tokens", sizes.tokens},
          {"tokens_per_event", sizes.length}};
}

void save_checkpoint(const fs::path& path, RQVAE& model, torch::optim::AdamW& optimizer, const NamedState& best,
                     const nlohmann::json& fp, const nlohmann::json& state, const std::vector<int64_t>& perm) {
  torch::serialize::OutputArchive archive, weights, optim, best_weights;
  archive.write("format", c10::IValue(std::string(kCheckpointFormat)));
  archive.write("fingerprint", c10::IValue(fp.dump()));
  archive.write("state", c10::IValue(state.dump()));
  archive.write("perm", torch::tensor(perm, torch::kLong));
  model->save(weights);
  archive.write("model", weights);
  optimizer.save(optim);
  archive.write("optimizer", optim);
  for (const auto& [name, t] : best) best_weights.write(name, t);
  archive.write("best", best_weights);
  save_checkpoint_archive(path, archive);
}

// Differences between two fingerprints, as "key: checkpoint X, now Y".
std::string fingerprint_diff(const nlohmann::json& saved, const nlohmann::json& now) {
  auto flat_saved = saved.flatten(), flat_now = now.flatten();
  std::string diff;
  for (auto it = flat_now.begin(); it != flat_now.end(); ++it) {
    std::string was = flat_saved.contains(it.key()) ? flat_saved[it.key()].dump() : "(absent)";
    if (was != it.value().dump())
      diff += fmt::format("{}{}: checkpoint {}, now {}", diff.empty() ? "" : "; ", it.key(), was, it.value().dump());
  }
  return diff;
}

void load_checkpoint(const fs::path& path, const torch::Device& device, const nlohmann::json& fp, RQVAE& model,
                     torch::optim::AdamW& optimizer, NamedState& best, RunState& state, std::mt19937_64& rng,
                     std::vector<int64_t>& perm) {
  torch::serialize::InputArchive archive;
  load_checkpoint_archive(path, archive, device);
  c10::IValue format, saved_fp, saved_state;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kCheckpointFormat)
    fail("{}: not a codec checkpoint (format '{}' expected)", path.string(), kCheckpointFormat);
  if (!archive.try_read("fingerprint", saved_fp) || !archive.try_read("state", saved_state))
    fail("{}: checkpoint lacks its fingerprint or state (corrupt)", path.string());
  auto saved = nlohmann::json::parse(saved_fp.toStringRef(), nullptr, false);
  // Keys added since the checkpoint was written mean what they meant then (CodecConfig::from_json).
  if (saved.is_object() && saved.contains("codec") && saved["codec"].is_object()) try {
      saved["codec"] = resumable_config(CodecConfig::from_json(saved["codec"]));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: checkpoint fingerprint is corrupt ({})", path.string(), e.what());
    }
  std::string diff = fingerprint_diff(saved, fp);
  if (!diff.empty())
    fail("{}: checkpoint was written for a different configuration or dataset ({}); train without --resume",
         path.string(), diff);
  auto shapes = model_state(model);
  std::vector<std::vector<int64_t>> expected;
  for (const auto& [name, t] : shapes) expected.push_back(t.sizes().vec());
  try {
    torch::serialize::InputArchive weights, optim, best_weights;
    archive.read("model", weights);
    model->load(weights);
    archive.read("optimizer", optim);
    optimizer.load(optim);
    best = clone_state(model);
    bool has_best = false;
    if (archive.try_read("best", best_weights))  // empty before the first finished epoch
      for (auto& [name, t] : best) has_best |= best_weights.try_read(name, t);
    if (!has_best) best.clear();
    torch::Tensor perm_tensor;
    archive.read("perm", perm_tensor);
    perm_tensor = perm_tensor.to(torch::kCPU).contiguous();
    perm.assign(perm_tensor.data_ptr<int64_t>(), perm_tensor.data_ptr<int64_t>() + perm_tensor.numel());
    state.from_json(nlohmann::json::parse(saved_state.toStringRef()), rng);
  } catch (const c10::Error& e) {
    fail("{}: checkpoint does not match the model ({})", path.string(), e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: checkpoint state is corrupt ({})", path.string(), e.what());
  }
  auto loaded = model_state(model);
  for (size_t i = 0; i < loaded.size(); ++i)
    if (loaded[i].second.sizes().vec() != expected[i])
      fail("{}: tensor '{}' has shape {} in the checkpoint, the model needs {}", path.string(), loaded[i].first,
           fmt::format("{}", loaded[i].second.sizes().vec()), fmt::format("{}", expected[i]));
}

// k-means initialisation of the codebooks from encoder outputs of a random sample of training events.
void init_codebooks(RQVAE& model, const EventTensors& ev, const std::vector<int64_t>& perm, const torch::Device& device,
                    std::mt19937_64& rng) {
  const auto& c = model->config;
  size_t events = std::min<size_t>(perm.size(), std::max(1, c.kmeans_samples / c.positions));
  std::vector<torch::Tensor> latents;
  {
    torch::NoGradGuard no_grad;
    model->train();  // batch statistics, as the encoder will see them in training
    for (size_t begin = 0; begin < events; begin += c.batch_size) {
      size_t n = std::min<size_t>(c.batch_size, events - begin);
      if (n < 2) break;
      Batch b = gather(ev, perm.data() + begin, n, device);
      auto z = model->encode(b.tokens, b.types, b.dpe);
      latents.push_back(z.reshape({-1, z.size(2)}).to(torch::kFloat));
    }
  }
  if (latents.empty()) return;
  model->quantizer->kmeans_init(torch::cat(latents, 0), c.kmeans_iters, rng);
}

// Learning rate of a step: linear warm-up, then constant or cosine decay to min_lr_ratio * lr
// over the run (progress from run_progress: steps or the share of a --max-minutes budget).
double learning_rate(const CodecConfig& c, int64_t step, double progress) {
  double warm = c.lr_warmup_steps > 0 ? std::min(1.0, double(step + 1) / c.lr_warmup_steps) : 1.0;
  if (c.lr_schedule != "cosine") return c.lr * warm;
  return warm * cosine_lr(c.lr, c.min_lr_ratio, progress);
}

std::vector<int64_t> shuffled(std::vector<int64_t> ids, std::mt19937_64& rng) {
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[rng() % i]);  // Fisher-Yates
  return ids;
}

nlohmann::json codebook_json(const std::vector<std::vector<int64_t>>& counts) {
  nlohmann::json usage = nlohmann::json::array(), perplexity = nlohmann::json::array();
  for (const auto& c : counts) {
    auto [u, p] = usage_and_perplexity(c);
    usage.push_back(u);
    perplexity.push_back(p);
  }
  return {{"usage", usage}, {"perplexity", perplexity}};
}

}  // namespace

VocabSizes vocab_sizes(const Dataset& d) {
  VocabSizes s;
  s.tokens = static_cast<int>(d.vocab.size());
  s.types = kNumTokenTypes;
  s.dpe = kNumDpe;
  s.length = d.max_tokens_per_event();
  s.token_field.assign(d.vocab.size(), 0);
  for (size_t id = 0; id < d.vocab.size(); ++id) {
    auto kind = d.vocab.token(static_cast<uint16_t>(id)).kind;
    if (kind == TokenKind::kTable || kind == TokenKind::kColumn) s.token_field[id] = ++s.fields;
  }
  return s;
}

namespace {

using SplitIds = std::array<std::vector<int64_t>, 3>;

// Event ids of each split (train, valid, test), in dataset order.
SplitIds event_ids_by_split(const Dataset& d) {
  SplitIds ids;
  for (size_t s = 0; s < d.num_stays(); ++s)
    for (uint64_t e = d.stay_offsets[s]; e < d.stay_offsets[s + 1]; ++e)
      ids[d.stays[s].split].push_back(static_cast<int64_t>(e));
  return ids;
}

// One optimizer step on batch `b` (number augmentation, forward, heads, AdamW at the scheduled
// rate, codebook EMA and restarts); adds the step's losses, accuracy and code counts to `st`.
void train_step(RQVAE& model, torch::optim::AdamW& optimizer, Batch b, const CodecConfig& cfg, double share_done,
                RunState& st, std::mt19937_64& rng) {
  const int64_t n = b.tokens.size(0);
  if (cfg.augment_numbers > 0) redraw_digits(b, cfg.augment_numbers, rng);
  auto out = model->forward(b.tokens, b.types, b.dpe);
  auto heads = run_heads(model, out.hidden, out.commitment, b);
  st.lr = learning_rate(cfg, st.step, share_done);
  set_adamw_learning_rate(optimizer, st.lr);
  optimizer.zero_grad();
  heads.loss.backward();
  torch::nn::utils::clip_grad_norm_(model->parameters(), cfg.clip);
  optimizer.step();
  if (model->quantize) st.restarted += model->quantizer->update_codebooks(cfg.dead_code_threshold, rng);

  int64_t t = heads.token_target.size(0);
  st.loss_sum += heads.loss.item<double>();
  st.token_loss_sum += heads.token_loss.item<double>();
  st.type_loss_sum += heads.type_loss.item<double>();
  st.dpe_loss_sum += heads.dpe_loss.item<double>();
  st.commitment_sum += out.commitment.item<double>();
  st.batches++;
  st.tokens += t;
  st.correct += (heads.token_pred == heads.token_target).sum().item<int64_t>();
  auto codes = out.codes.to(torch::kCPU).to(torch::kLong).contiguous();
  const int64_t* pc = codes.data_ptr<int64_t>();
  for (int64_t i = 0; i < codes.numel() && model->quantize; ++i) st.code_counts[i % cfg.depth][pc[i]]++;
  st.epoch_events += n;
  st.trained_events += n;
}

// The history entry of the epoch just evaluated (and its log line).
nlohmann::json epoch_entry(const RunState& st, const EvalResult& valid, bool partial) {
  auto codebook = codebook_json(st.code_counts);
  nlohmann::json entry = {{"epoch", st.epoch + 1},
                          {"step", st.step},
                          {"train_loss", st.loss_sum / st.batches},
                          {"train_token_loss", st.token_loss_sum / st.batches},
                          {"train_type_loss", st.type_loss_sum / st.batches},
                          {"train_dpe_loss", st.dpe_loss_sum / st.batches},
                          {"train_commitment", st.commitment_sum / st.batches},
                          {"train_token_accuracy", double(st.correct) / st.tokens},
                          {"valid_loss", valid.loss()},
                          {"valid_token_accuracy", valid.token_accuracy()},
                          {"valid_exact_event_rate", valid.exact_rate()},
                          {"codebook_usage", codebook["usage"]},
                          {"codebook_perplexity", codebook["perplexity"]},
                          {"restarted_codes", st.restarted},
                          {"lr", st.lr},
                          {"partial", partial},
                          {"seconds", st.epoch_seconds},
                          {"events_per_second", st.epoch_events / std::max(1e-9, st.epoch_seconds)}};
  log_info("codec epoch {}: loss {:.4f}, train tok acc {:.4f}, valid tok acc {:.4f}, valid exact {:.4f}, "
           "perplexity {}, usage {}, restarts {}",
           st.epoch + 1, st.loss_sum / st.batches, double(st.correct) / st.tokens, valid.token_accuracy(),
           valid.exact_rate(), codebook["perplexity"].dump(), codebook["usage"].dump(), st.restarted);
  return entry;
}

// Codes, model.pt, config.json and train.json from the model's current weights; returns train.json.
nlohmann::json write_outputs(RQVAE& model, const Dataset& d, const CodecConfig& cfg, const TrainOptions& o,
                             const SplitIds& split_ids, const EventTensors& events,
                             const std::unordered_map<std::string, std::string>& col_types, const EventGrammar& grammar,
                             const RunState& st, int threads, const VocabSizes& sizes) {
  const auto device = parse_device(o.device);
  std::vector<uint16_t> codes(d.num_events() * cfg.positions * cfg.depth, 0);
  EvalResult per_split[3];
  double inference_seconds = 0;
  for (int s = 0; s < 3; ++s) {
    per_split[s] = evaluate(model, d, events, split_ids[s], col_types, grammar, device, &codes);
    inference_seconds += per_split[s].seconds;
  }
  std::vector<std::vector<int64_t>> train_counts(cfg.depth, std::vector<int64_t>(cfg.codebook_size, 0));
  size_t per_event = static_cast<size_t>(cfg.positions) * cfg.depth;
  for (auto e : split_ids[kTrain])
    for (size_t k = 0; k < per_event; ++k) train_counts[k % cfg.depth][codes[e * per_event + k]]++;
  auto codebook = codebook_json(train_counts);

  write_codes_file(o.out_dir / "codes.bin", {d.num_events(), static_cast<uint32_t>(cfg.positions),
                                             static_cast<uint32_t>(cfg.depth),
                                             static_cast<uint32_t>(cfg.codebook_size), codes});
  save_model(o.out_dir / "model.pt", model);
  write_json_atomic(o.out_dir / "config.json", model_config_json(model));

  const auto& valid = per_split[kValid];
  nlohmann::json report = {
      {"format", "rawmed-codec-train/1"},
      {"preset", cfg.preset},
      {"config", cfg.to_json()},
      {"seed", o.seed},
      {"device", o.device},
      {"bf16", o.bf16},
      {"threads", threads},
      {"runtime", torch_runtime_info()},
      {"dataset", {{"events", d.num_events()},
                   {"train_events", split_ids[kTrain].size()},
                   {"valid_events", split_ids[kValid].size()},
                   {"test_events", split_ids[kTest].size()},
                   {"vocab_tokens", sizes.tokens},
                   {"tokens_per_event", sizes.length}}},
      {"parameters", [&] {
         int64_t n = 0;
         for (const auto& p : model->parameters()) n += p.numel();
         return n;
       }()},
      {"epochs", st.history},
      {"best_epoch", st.patience.best_epoch},
      {"stopped_by", st.stopped_by},
      {"steps", st.step},
      {"train_seconds", st.train_seconds},
      {"events_per_second", st.trained_events / std::max(1e-9, st.train_seconds)},
      {"inference_events_per_second", d.num_events() / std::max(1e-9, inference_seconds)},
      {"train_exact_event_rate", per_split[kTrain].exact_rate()},
      {"valid_exact_event_rate", valid.exact_rate()},
      {"test_exact_event_rate", per_split[kTest].exact_rate()},
      {"train_token_accuracy", per_split[kTrain].token_accuracy()},
      {"valid_token_accuracy", valid.token_accuracy()},
      {"numeric_value_exact_rate", valid.to_json()["numeric_value_exact_rate"]},
      {"categorical_value_exact_rate", valid.to_json()["categorical_value_exact_rate"]},
      {"splits", {{"train", per_split[kTrain].to_json()},
                  {"valid", per_split[kValid].to_json()},
                  {"test", per_split[kTest].to_json()}}},
      {"codebook_usage", codebook["usage"]},
      {"codebook_perplexity", codebook["perplexity"]}};
  for (auto& [key, value] : o.record.items()) report[key] = value;
  write_json_atomic(o.out_dir / "train.json", report);
  log_info("codec: exact events train {:.4f} valid {:.4f} test {:.4f}; valid token accuracy {:.4f}; "
           "codebook usage {} of {}; {:.0f} events/s",
           per_split[kTrain].exact_rate(), valid.exact_rate(), per_split[kTest].exact_rate(), valid.token_accuracy(),
           codebook["usage"].dump(), cfg.codebook_size, report["events_per_second"].get<double>());
  return report;
}

}  // namespace

TrainResult train_codec(const Dataset& d, const CodecConfig& cfg, const TrainOptions& o) {
  auto device = parse_device(o.device);
  int threads = setup_torch_threads(o.threads);
  VocabSizes sizes = vocab_sizes(d);
  cfg.validate(sizes.length);

  const SplitIds split_ids = event_ids_by_split(d);
  const auto& train_ids = split_ids[kTrain];
  if (train_ids.size() < 2) fail("codec: the training split has {} events; need at least 2", train_ids.size());
  EventTensors events = pad_events(d, sizes.length, device);
  auto col_types = column_types(d.columns);
  EventGrammar grammar(d.vocab, d.columns, d.decimals());

  seed_torch(o.seed);
  RQVAE model(cfg, sizes);
  model->to(device);
  if (!cfg.kmeans_init) model->quantizer->initted.fill_(1.0);
  torch::optim::AdamW optimizer(model->parameters(),
                                torch::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay));
  std::mt19937_64 rng(o.seed ^ 0x5DEECE66DULL);
  RunState st;
  std::vector<int64_t> perm;
  NamedState best;
  nlohmann::json fp = fingerprint(cfg, d, sizes, o.seed);
  fs::path checkpoint = o.out_dir / "checkpoint.pt";
  fs::create_directories(o.out_dir);
  if (o.resume) {
    load_checkpoint(checkpoint, device, fp, model, optimizer, best, st, rng, perm);
    if (!st.done) st.stopped_by.clear();
    log_info("codec: resumed from {} at epoch {} batch {} (step {})", checkpoint.string(), st.epoch + 1,
             st.next_batch, st.step);
  }
  auto check_done = [&] {
    if (st.patience.exhausted(cfg.patience)) st.done = true, st.stopped_by = "early_stopping";
    else if (st.epoch >= cfg.max_epochs) st.done = true, st.stopped_by = "max_epochs";
  };
  if (!st.done) check_done();

  Bf16Autocast autocast(o.bf16, device);
  auto run_start = Clock::now();
  int64_t steps_this_call = 0;
  size_t batches_per_epoch = train_ids.size() / cfg.batch_size + (train_ids.size() % cfg.batch_size >= 2 ? 1 : 0);
  bool out_of_time = false;
  TrainResult result;
  auto save = [&] { save_checkpoint(checkpoint, model, optimizer, best, fp, st.to_json(rng), perm); };
  StopSignals signals;

  while (!st.done) {
    if (st.next_batch == 0) {
      perm = shuffled(train_ids, rng);
      st.start_epoch(cfg.depth, cfg.codebook_size);
    }
    model->train();
    Progress progress(fmt::format("codec epoch {}/{}", st.epoch + 1, cfg.max_epochs),
                      static_cast<int64_t>(train_ids.size()), "events");
    progress.advance(std::min<int64_t>(st.next_batch * cfg.batch_size, static_cast<int64_t>(train_ids.size())));
    auto epoch_start = Clock::now();
    double seconds_before = st.epoch_seconds;
    for (; st.next_batch < static_cast<int64_t>(batches_per_epoch); ++st.next_batch) {
      size_t begin = static_cast<size_t>(st.next_batch) * cfg.batch_size;
      size_t n = std::min<size_t>(cfg.batch_size, perm.size() - begin);
      if (st.step >= cfg.warmup_steps && model->quantizer->initted.item<double>() == 0) {
        init_codebooks(model, events, perm, device, rng);
        log_info("codec: codebooks initialised by k-means on encoder outputs (step {})", st.step);
      }
      model->quantize = st.step >= cfg.warmup_steps;
      double share_done =
          run_progress(st.step, cfg.max_epochs * int64_t(batches_per_epoch), seconds_since(run_start), o.max_minutes * 60);
      train_step(model, optimizer, gather(events, perm.data() + begin, n, device), cfg, share_done, st, rng);
      st.step++;
      steps_this_call++;
      progress.advance(static_cast<int64_t>(n));
      progress.set_postfix(fmt::format("loss {:.4f} tok acc {:.4f}", st.loss_sum / st.batches,
                                       double(st.correct) / st.tokens));
      if (int sig = stop_signal()) {
        st.next_batch++;
        st.epoch_seconds = seconds_before + seconds_since(epoch_start);
        st.train_seconds += seconds_since(epoch_start);
        save();
        fail("codec: stopped by {} after step {}; {} written. Resume with `rawmed train --stage codec --work {} "
             "--resume`, or run the same `rawmed run` again",
             signal_name(sig), st.step, checkpoint.string(), o.out_dir.parent_path().string());
      }
      if (o.stop_after_steps > 0 && steps_this_call >= o.stop_after_steps) {
        st.next_batch++;
        st.epoch_seconds = seconds_before + seconds_since(epoch_start);
        st.train_seconds += seconds_since(epoch_start);
        save();
        result.last_state = clone_state(model);
        return result;  // as if killed here: the checkpoint is all that remains
      }
      if (o.max_minutes > 0 && seconds_since(run_start) > o.max_minutes * 60) {
        st.next_batch++;
        out_of_time = true;
        break;
      }
    }
    double epoch_train_seconds = seconds_since(epoch_start);
    st.epoch_seconds = seconds_before + epoch_train_seconds;
    st.train_seconds += epoch_train_seconds;
    progress.finish();
    const bool partial = out_of_time && st.next_batch < static_cast<int64_t>(batches_per_epoch);

    EvalResult valid = evaluate(model, d, events, split_ids[kValid], col_types, grammar, device, nullptr);
    st.history.push_back(epoch_entry(st, valid, partial));
    bool better = valid.exact_rate() > st.best_exact ||
                  (valid.exact_rate() == st.best_exact && valid.token_accuracy() > st.best_accuracy);
    if (better) {
      st.best_exact = valid.exact_rate();
      st.best_accuracy = valid.token_accuracy();
      best = clone_state(model);
    }
    st.patience.record(better, st.epoch + 1);
    // A partial epoch counts as done (its weights were evaluated above, at the schedule's lowest
    // rate); --resume goes on with the next epoch.
    st.epoch++;
    st.next_batch = 0;
    check_done();
    if (st.done) perm.clear();
    const bool resumable_time_out = out_of_time && !st.done;
    if (resumable_time_out) st.stopped_by = "max_minutes";
    save();
    if (resumable_time_out) {
      log_info("codec: --max-minutes reached in epoch {}; checkpoint saved (continue with --resume)", st.epoch);
      break;
    }
  }
  if (st.stopped_by.empty()) st.stopped_by = "max_epochs";

  // Outputs from the best epoch (or the current weights when no epoch has finished yet).
  result.last_state = clone_state(model);
  if (!best.empty()) copy_state(model, best);
  result.report = write_outputs(model, d, cfg, o, split_ids, events, col_types, grammar, st, threads, sizes);
  result.finished = true;
  return result;
}

void run_training(const TrainArgs& args) {
  // The EMA codebooks, their k-means start and dead-code restarts read the batch's latents inside
  // the quantizer; summing gradients alone would let the ranks' codebooks drift apart.
  if (world_size_from_environment() > 1)
    fail("train --stage codec: data-parallel training is not available for the codec yet (its EMA codebooks need "
         "their statistics summed over the ranks too); train the codec with one process (no --nproc, no WORLD_SIZE)");
  fs::path config_path = args.config.empty() ? args.work / "config.toml" : args.config;
  Config config = load_config(config_path);
  CodecConfig cfg = codec_preset(args.preset);
  apply_codec_overrides(cfg, config_section(config, "codec"), config.path);
  if (args.max_epochs > 0) cfg.max_epochs = args.max_epochs;
  Dataset dataset = Dataset::load(args.work / "dataset");
  TrainOptions options;
  static_cast<RunFlags&>(options) = args;
  options.out_dir = args.work / "codec";
  options.resume = args.resume;
  options.bf16 = args.bf16;
  options.max_minutes = args.max_minutes;
  options.record = {{"config_file", fs::absolute(config_path).string()},
                    {"dataset_dir", fs::absolute(args.work / "dataset").string()}};
  train_codec(dataset, cfg, options);
}

}  // namespace rawmed::codec
