// model.pt, and decoding codes back to tokens (codes.bin: codes_file.cpp).
#include "codec/codec.h"
#include "codec/trainer.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/torch_env.h"

#include <cstring>
#include <sstream>

namespace rawmed::codec {
namespace {

constexpr const char* kModelFormat = "rawmed-codec-model/1";

}  // namespace

nlohmann::json model_config_json(RQVAE& model) {
  return {{"codec", model->config.to_json()}, {"vocab_tokens", model->sizes.tokens},
          {"types", model->sizes.types},      {"dpe", model->sizes.dpe},
          {"tokens_per_event", model->sizes.length}, {"fields", model->sizes.fields}};
}

void save_model(const fs::path& path, RQVAE& model) {
  nlohmann::json config = model_config_json(model);
  torch::serialize::OutputArchive archive, weights;
  archive.write("format", c10::IValue(std::string(kModelFormat)));
  archive.write("config", c10::IValue(config.dump()));
  model->save(weights);
  archive.write("model", weights);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_checksummed(path, bytes.str());
}

RQVAE load_model(const fs::path& path, const torch::Device& device) {
  if (!fs::exists(path)) fail("{}: no codec model; run `rawmed train --stage codec` first", path.string());
  torch::serialize::InputArchive archive;
  std::istringstream bytes(read_file_checksummed(path));
  try {
    archive.load_from(bytes, device);
  } catch (const c10::Error& e) {
    fail("{}: not a readable codec model (corrupt or truncated file)", path.string());
  }
  c10::IValue format, config_text;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kModelFormat ||
      !archive.try_read("config", config_text) || !config_text.isString())
    fail("{}: not a codec model (format '{}' expected)", path.string(), kModelFormat);
  nlohmann::json config;
  VocabSizes sizes;
  CodecConfig codec;
  try {
    config = nlohmann::json::parse(config_text.toStringRef());
    codec = CodecConfig::from_json(config.at("codec"));
    sizes.tokens = config.at("vocab_tokens");
    sizes.types = config.at("types");
    sizes.dpe = config.at("dpe");
    sizes.length = config.at("tokens_per_event");
    sizes.fields = config.value("fields", 0);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: bad model config ({})", path.string(), e.what());
  }
  codec.validate(sizes.length);
  RQVAE model(codec, sizes);
  model->to(device);
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& t : model->parameters()) shapes.push_back(t.sizes().vec());
  try {
    torch::serialize::InputArchive weights;
    archive.read("model", weights);
    model->load(weights);
  } catch (const c10::Error& e) {
    fail("{}: weights do not match the model config ({})", path.string(), e.what_without_backtrace());
  }
  size_t i = 0;
  for (const auto& t : model->parameters())
    if (t.sizes().vec() != shapes[i++]) fail("{}: a weight has the wrong shape (corrupt model file)", path.string());
  model->eval();
  return model;
}

void decode_latents(RQVAE& model, const torch::Tensor& quantized, const EventGrammar& grammar, uint16_t* tokens,
                    uint8_t* types, uint8_t* dpe) {
  torch::NoGradGuard no_grad;
  const int64_t b = quantized.size(0), length = model->sizes.length;
  const size_t vocab = grammar.vocab_size();
  if (model->token_head->weight.size(0) != static_cast<int64_t>(vocab))
    fail("decode: the codec has {} tokens, the vocabulary {}", model->token_head->weight.size(0), vocab);
  auto to_cpu = [](const torch::Tensor& t, torch::ScalarType type) { return t.to(torch::kCPU).to(type).contiguous(); };
  if (!model->role_in) {  // every slot's scores at once, then the grammar walks each event
    constexpr int64_t kChunk = 64;  // full-vocabulary logits for every slot: keep the batch small
    for (int64_t begin = 0; begin < b; begin += kChunk) {
      int64_t n = std::min(kChunk, b - begin), at = begin * length;
      auto hidden = model->decode(quantized.narrow(0, begin, n));  // (n, L, W)
      auto scores = to_cpu(model->token_head(hidden), torch::kFloat);
      auto dpe_pred = to_cpu(model->dpe_head(hidden).argmax(-1), torch::kInt32);
      for (int64_t i = 0; i < n; ++i)
        grammar.decode(scores.data_ptr<float>() + i * length * vocab, length, tokens + at + i * length,
                       types + at + i * length);
      const int32_t* pd = dpe_pred.data_ptr<int32_t>();
      for (int64_t k = 0; k < n * length; ++k)
        dpe[at + k] = tokens[at + k] == kPadId ? kDpeNone : static_cast<uint8_t>(pd[k]);
    }
    return;
  }
  // A slot's scores depend on its role, i.e. on the tokens before it: one slot at a time, for the
  // events that have not ended yet (RQVAEImpl::roles computes the same roles from whole events).
  auto context = model->query_context(quantized);
  auto token_field = to_cpu(model->token_field, torch::kLong);
  const int64_t* field_of = token_field.data_ptr<int64_t>();
  std::vector<EventGrammar::Cursor> cursors;
  for (int64_t i = 0; i < b; ++i) cursors.emplace_back(grammar, length);
  std::vector<int64_t> last_field(b, 0), last_slot(b, -1), active, roles;
  std::fill(tokens, tokens + b * length, kPadId);
  std::fill(types, types + b * length, kTypePad);
  std::fill(dpe, dpe + b * length, kDpeNone);
  auto device = quantized.device();
  for (int64_t t = 0; t < length; ++t) {
    active.clear();
    roles.clear();
    for (int64_t i = 0; i < b; ++i) {
      if (cursors[i].ended()) continue;
      active.push_back(i);
      int64_t offset = std::min<int64_t>(last_slot[i] >= 0 ? t - last_slot[i] : t, kMaxRoleOffset - 1);
      roles.push_back(last_field[i] * kMaxRoleOffset + offset);
    }
    if (active.empty()) break;
    auto events = torch::tensor(active, torch::kLong).to(device);
    auto hidden = model->query_at(context, events, torch::full_like(events, t), torch::tensor(roles).to(device));
    auto scores = to_cpu(model->token_head(hidden), torch::kFloat);
    auto dpe_pred = to_cpu(model->dpe_head(hidden).argmax(-1), torch::kInt32);
    for (size_t k = 0; k < active.size(); ++k) {
      int64_t i = active[k], at = i * length + t;
      uint16_t token = cursors[i].step(scores.data_ptr<float>() + k * vocab, &types[at]);
      tokens[at] = token;
      if (token != kPadId) dpe[at] = static_cast<uint8_t>(dpe_pred.data_ptr<int32_t>()[k]);
      if (field_of[token] > 0) last_field[i] = field_of[token], last_slot[i] = t;
    }
  }
}

DecodedTokens decode_codes(const fs::path& work, const std::vector<uint16_t>& codes, size_t n_events,
                           const EventGrammar& grammar, const std::string& device_name, int threads) {
  auto device = parse_device(device_name);
  setup_torch_threads(threads);
  RQVAE model = load_model(work / "codec" / "model.pt", device);
  const auto& c = model->config;
  size_t per_event = static_cast<size_t>(c.positions) * c.depth;
  if (codes.size() != n_events * per_event)
    fail("decode_codes: {} codes for {} events, expected {} per event (P {} x D {})", codes.size(), n_events,
         per_event, c.positions, c.depth);
  for (size_t i = 0; i < codes.size(); ++i)
    if (codes[i] >= c.codebook_size)
      fail("decode_codes: code {} at index {} is outside the codebook (size {})", codes[i], i, c.codebook_size);
  int length = model->sizes.length;
  DecodedTokens out;
  out.tokens_per_event = length;
  out.tokens.resize(n_events * length);
  out.types.resize(n_events * length);
  out.dpe.resize(n_events * length);
  torch::NoGradGuard no_grad;
  constexpr size_t kChunk = 256;
  for (size_t begin = 0; begin < n_events; begin += kChunk) {
    size_t n = std::min(kChunk, n_events - begin);
    std::vector<int64_t> chunk(codes.begin() + begin * per_event, codes.begin() + (begin + n) * per_event);
    auto code_tensor = torch::tensor(chunk, torch::kLong).view({static_cast<int64_t>(n), c.positions, c.depth});
    size_t at = begin * length;
    decode_latents(model, model->lookup_codes(code_tensor.to(device)), grammar, &out.tokens[at], &out.types[at],
                   &out.dpe[at]);
  }
  return out;
}

}  // namespace rawmed::codec
