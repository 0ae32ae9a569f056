#pragma once
// Codec training and model files, for src/codec and tests/nn (pulls in Torch).
#include "codec/rqvae.h"
#include "common/run_flags.h"
#include "text/dataset.h"
#include "text/grammar.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace rawmed::codec {

// device, threads, seed (quiet is not read: the caller sets the log level).
struct TrainOptions : RunFlags {
  std::filesystem::path out_dir;  // WORK/codec: checkpoint.pt, model.pt, config.json, codes.bin, train.json
  bool resume = false;
  bool bf16 = false;
  double max_minutes = 0;        // 0: no limit; the cosine ends at this deadline; then the partial epoch is
                                 // evaluated, checkpointed, and outputs come from the best epoch so far
  int64_t stop_after_steps = 0;  // tests: checkpoint and return after this many steps of this call, as if killed
  nlohmann::json record;         // extra fields for train.json (config file, dataset folder, ...)
};

struct TrainResult {
  bool finished = false;   // false when stopped by stop_after_steps (no outputs written)
  nlohmann::json report;   // train.json content (when finished)
  std::vector<std::pair<std::string, torch::Tensor>> last_state;  // parameters and buffers after the last step
};

// A batch of events padded to L tokens, int64 on the device.
struct Batch {
  torch::Tensor tokens, types, dpe;  // (B, L)
};

// All events of a dataset padded to L tokens (PAD 0, type 0, DPE 0), resident on the device.
struct EventTensors {
  torch::Tensor tokens, types, dpe;  // (N, L) int32, uint8, uint8
};
EventTensors pad_events(const Dataset& dataset, int length, const torch::Device& device);
// Events `ids[0..n)` as a training batch.
Batch gather(const EventTensors& events, const int64_t* ids, size_t n, const torch::Device& device);

// Heads and loss on non-pad positions only (the loss ignores pad, most of the L slots):
// loss = CE(token) + CE(type) + CE(DPE) + commitment * beta.
struct HeadOutput {
  torch::Tensor loss, token_loss, type_loss, dpe_loss;
  torch::Tensor token_logits;  // (T, V) float, over non-pad positions, event-major
  torch::Tensor token_pred;    // (T,) argmax of token_logits
  torch::Tensor token_target;
};
HeadOutput run_heads(RQVAE& model, const torch::Tensor& hidden, const torch::Tensor& commitment, const Batch& batch);

// Number augmentation (`augment_numbers`): redraws every digit of a random `share` of the batch's
// events. Places, types and all other tokens stay; numbers stay canonical (no leading zero, no
// fraction ending on 0, no "-0").
void redraw_digits(Batch& batch, double share, std::mt19937_64& rng);

// Grammar-constrained decoding of events from their quantized latents (B, P, C), as generation
// decodes: slot by slot when the decoder reads the slots' roles (role_rank), otherwise every slot
// at once. Writes B x L tokens, types and DPE ids (PAD after SEP).
void decode_latents(RQVAE& model, const torch::Tensor& quantized, const EventGrammar& grammar, uint16_t* tokens,
                    uint8_t* types, uint8_t* dpe);

TrainResult train_codec(const Dataset& dataset, const CodecConfig& config, const TrainOptions& options);

VocabSizes vocab_sizes(const Dataset& dataset);

// model.pt: {format, config (JSON: codec config + vocabulary sizes), model}; config.json holds the same config.
nlohmann::json model_config_json(RQVAE& model);
void save_model(const std::filesystem::path& path, RQVAE& model);
RQVAE load_model(const std::filesystem::path& path, const torch::Device& device);

}  // namespace rawmed::codec
