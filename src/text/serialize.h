#pragma once
// Event serialization: `table col1 val1 col2 val2 ... SEP` as tokens with a type and a
// digit-place id (DPE) each. Numbers are spelled digit by digit; text values are one token when
// the whole value is in the vocabulary, else word pieces, else single bytes, so every value
// round-trips exactly (see docs/file-formats.md).
#include "text/vocab.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rawmed {

// Canonical form of a number after rounding to `decimals` places: no exponent, no trailing
// zeros, "-0" -> "0" ("7.40" -> "7.4", "1e5" -> "100000"). nullopt if `text` is not a finite number.
std::optional<std::string> normalize_number(std::string_view text, int decimals);

// DPE id of every byte of `text`: digits and points of number groups (digits with at most one
// point followed by digits) get their place; everything else kDpeNone.
std::vector<uint8_t> digit_places(std::string_view text);
void digit_places(std::string_view text, std::vector<uint8_t>* out);  // no allocation when reused

// True when `text` is already the canonical form normalize_number would give (fast path).
bool is_canonical_number(std::string_view text, int decimals);

// Word pieces: a run of ASCII letters, optionally with one leading space, is one piece.
// Calls `piece(text, is_word)` for each piece in order; non-word pieces are single bytes.
template <typename F>
void for_each_piece(std::string_view text, F&& piece) {
  auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    if (text[i] == ' ' && i + 1 < text.size() && is_letter(text[i + 1])) ++i;
    if (is_letter(text[i])) {
      while (i < text.size() && is_letter(text[i])) ++i;
      piece(text.substr(start, i - start), true);
    } else {
      i = start + 1;
      piece(text.substr(start, 1), false);
    }
  }
}

struct EncodedEvent {
  std::vector<uint16_t> tokens;
  std::vector<uint8_t> types, dpe;
  bool truncated = false;  // some trailing columns did not fit in max_tokens
  size_t pairs_kept = 0;
  void clear() {
    tokens.clear();
    types.clear();
    dpe.clear();
    truncated = false;
    pairs_kept = 0;
  }
};

// Encodes events with a fixed vocabulary. Not thread-safe (reuses buffers).
class EventEncoder {
 public:
  EventEncoder(const Vocab& vocab, int max_tokens) : vocab_(vocab), max_tokens_(max_tokens) {}
  // `values[i]` is the value of `columns[i]`, already normalized (numbers canonical, dictionary
  // codes replaced by labels); `numeric[i]` says to spell it as a number. Empty values are skipped.
  void encode(uint16_t table_token, const std::vector<uint16_t>& column_tokens,
              const std::vector<std::string_view>& values, const std::vector<bool>& numeric, EncodedEvent* out);

 private:
  void append_value(std::string_view value, bool numeric, EncodedEvent* out);
  const Vocab& vocab_;
  int max_tokens_;
  std::vector<uint8_t> places_;  // digit places of the current value
};

}  // namespace rawmed
