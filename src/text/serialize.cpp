#include "text/serialize.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace rawmed {

std::optional<std::string> normalize_number(std::string_view text, int decimals) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  std::string out = fmt::format("{:.{}f}", value, decimals);
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

std::vector<uint8_t> digit_places(std::string_view text) {
  std::vector<uint8_t> dpe(text.size(), kDpeNone);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    size_t int_begin = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    size_t int_end = i;
    size_t frac_end = i;
    if (i + 1 < text.size() && text[i] == '.' && is_digit(text[i + 1])) {
      frac_end = i + 1;
      while (frac_end < text.size() && is_digit(text[frac_end])) ++frac_end;
      dpe[i] = kDpePoint;
      for (size_t j = i + 1; j < frac_end; ++j)
        dpe[j] = static_cast<uint8_t>(std::min<size_t>(kDpeFirstFraction + (j - i - 1), kDpeUnits - 1));
      i = frac_end;
    }
    for (size_t j = int_begin; j < int_end; ++j)
      dpe[j] = static_cast<uint8_t>(std::min<size_t>(kDpeUnits + (int_end - 1 - j), kDpeMax));
  }
  return dpe;
}

void EventEncoder::append_value(std::string_view value, bool numeric) {
  auto push = [&](uint16_t token, uint8_t dpe) {
    pair_.tokens.push_back(token);
    pair_.types.push_back(kTypeValue);
    pair_.dpe.push_back(dpe);
  };
  if (!numeric) {
    int whole = vocab_.find(TokenKind::kValue, value);
    if (whole >= 0) {
      push(static_cast<uint16_t>(whole), kDpeNone);
      return;
    }
  }
  std::vector<uint8_t> places = digit_places(value);
  size_t offset = 0;
  for_each_piece(value, [&](std::string_view piece, bool is_word) {
    int word = is_word && !numeric && piece.size() > 1 ? vocab_.find(TokenKind::kWord, piece) : -1;
    if (word >= 0) {
      push(static_cast<uint16_t>(word), kDpeNone);
    } else {
      for (size_t j = 0; j < piece.size(); ++j)
        push(Vocab::byte_id(static_cast<unsigned char>(piece[j])), places[offset + j]);
    }
    offset += piece.size();
  });
}

void EventEncoder::encode(uint16_t table_token, const std::vector<uint16_t>& column_tokens,
                          const std::vector<std::string_view>& values, const std::vector<bool>& numeric,
                          EncodedEvent* out) {
  out->clear();
  out->tokens.push_back(table_token);
  out->types.push_back(kTypeTable);
  out->dpe.push_back(kDpeNone);
  for (size_t c = 0; c < values.size(); ++c) {
    if (values[c].empty()) continue;
    pair_.clear();
    pair_.tokens.push_back(column_tokens[c]);
    pair_.types.push_back(kTypeColumn);
    pair_.dpe.push_back(kDpeNone);
    append_value(values[c], numeric[c]);
    // Reserve one slot for SEP; the first pair that does not fit ends the event.
    if (out->tokens.size() + pair_.tokens.size() + 1 > static_cast<size_t>(max_tokens_)) {
      out->truncated = true;
      break;
    }
    out->tokens.insert(out->tokens.end(), pair_.tokens.begin(), pair_.tokens.end());
    out->types.insert(out->types.end(), pair_.types.begin(), pair_.types.end());
    out->dpe.insert(out->dpe.end(), pair_.dpe.begin(), pair_.dpe.end());
    ++out->pairs_kept;
  }
  out->tokens.push_back(kSepId);
  out->types.push_back(kTypeSep);
  out->dpe.push_back(kDpeNone);
}

}  // namespace rawmed
