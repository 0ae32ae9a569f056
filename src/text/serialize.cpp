#include "text/serialize.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace rawmed {

bool is_canonical_number(std::string_view text, int decimals) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  size_t int_begin = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  size_t int_digits = i - int_begin;
  if (int_digits == 0 || int_digits > 15 || (int_digits > 1 && text[int_begin] == '0')) return false;
  if (i == text.size()) return !(text[0] == '-' && int_digits == 1 && text[int_begin] == '0');  // not "-0"
  if (text[i] != '.') return false;
  size_t frac_begin = ++i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  size_t frac_digits = i - frac_begin;
  if (i != text.size() || frac_digits == 0 || frac_digits > static_cast<size_t>(decimals) || text.back() == '0')
    return false;
  return !(text[0] == '-' && text.find_first_not_of("-0.") == std::string_view::npos);
}

std::optional<std::string> normalize_number(std::string_view text, int decimals) {
  if (is_canonical_number(text, decimals)) return std::string(text);
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
  std::vector<uint8_t> dpe;
  digit_places(text, &dpe);
  return dpe;
}

void digit_places(std::string_view text, std::vector<uint8_t>* out) {
  std::vector<uint8_t>& dpe = *out;
  dpe.assign(text.size(), kDpeNone);
  if (text.find_first_of("0123456789") == std::string_view::npos) return;
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
}

void EventEncoder::append_value(std::string_view value, bool numeric, EncodedEvent* out) {
  auto push = [&](uint16_t token, uint8_t dpe) {
    out->tokens.push_back(token);
    out->types.push_back(kTypeValue);
    out->dpe.push_back(dpe);
  };
  if (!numeric) {
    int whole = vocab_.find(TokenKind::kValue, value);
    if (whole >= 0) {
      push(static_cast<uint16_t>(whole), kDpeNone);
      return;
    }
  }
  digit_places(value, &places_);
  size_t offset = 0;
  for_each_piece(value, [&](std::string_view piece, bool is_word) {
    int word = is_word && !numeric && piece.size() > 1 ? vocab_.find(TokenKind::kWord, piece) : -1;
    if (word >= 0) {
      push(static_cast<uint16_t>(word), kDpeNone);
    } else {
      for (size_t j = 0; j < piece.size(); ++j)
        push(Vocab::byte_id(static_cast<unsigned char>(piece[j])), places_[offset + j]);
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
    size_t before = out->tokens.size();
    out->tokens.push_back(column_tokens[c]);
    out->types.push_back(kTypeColumn);
    out->dpe.push_back(kDpeNone);
    append_value(values[c], numeric[c], out);
    // Keep one slot for SEP; the first pair that does not fit ends the event.
    if (out->tokens.size() + 1 > static_cast<size_t>(max_tokens_)) {
      out->tokens.resize(before);
      out->types.resize(before);
      out->dpe.resize(before);
      out->truncated = true;
      break;
    }
    ++out->pairs_kept;
  }
  out->tokens.push_back(kSepId);
  out->types.push_back(kTypeSep);
  out->dpe.push_back(kDpeNone);
}

}  // namespace rawmed
