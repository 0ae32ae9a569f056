#pragma once
// Stage 1: the event codec (RQ-VAE). Torch-free interface; implementation in src/codec/.
#include "codec/codes_file.h"
#include "common/train_args.h"
#include "text/grammar.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rawmed::codec {

// `rawmed train --stage codec`: trains on WORK/dataset, writes WORK/codec/{model.pt,codes.bin,train.json}.
void run_training(const TrainArgs& args);

// Tokens decoded from codes: event i is tokens[i*L, (i+1)*L) with L = tokens_per_event.
struct DecodedTokens {
  std::vector<uint16_t> tokens;
  std::vector<uint8_t> types, dpe;
  int tokens_per_event = 0;
};

// Decodes event codes (n_events x P x D, codes.bin layout) with the trained codec in WORK/codec:
// the decoder scores every token at every slot, `grammar` picks each event's tokens (and their
// types) from those scores. PAD after an event's SEP; DPE ids are the decoder's own. Errors when a
// code is >= the codebook size.
DecodedTokens decode_codes(const std::filesystem::path& work, const std::vector<uint16_t>& codes, size_t n_events,
                           const EventGrammar& grammar, const std::string& device, int threads);

}  // namespace rawmed::codec
