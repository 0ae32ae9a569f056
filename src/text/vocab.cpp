#include "text/vocab.h"

#include "common/error.h"
#include "common/fs.h"

#include <nlohmann/json.hpp>

namespace rawmed {
namespace {
constexpr const char* kKindNames[] = {"pad", "sep", "byte", "table", "column", "value", "word"};
}  // namespace

const char* token_kind_name(TokenKind kind) { return kKindNames[static_cast<int>(kind)]; }

Vocab::Vocab() {
  add("[PAD]", TokenKind::kPad);
  add("[SEP]", TokenKind::kSep);
  for (int b = 0; b < 256; ++b) add(std::string(1, static_cast<char>(b)), TokenKind::kByte);
}

uint16_t Vocab::add(std::string text, TokenKind kind) {
  auto& index = index_[static_cast<int>(kind)];
  auto it = index.find(std::string_view(text));
  if (it != index.end()) return it->second;
  if (tokens_.size() >= 65535) fail("vocabulary exceeds 65535 tokens");
  auto id = static_cast<uint16_t>(tokens_.size());
  tokens_.push_back({std::move(text), kind});
  index.emplace(tokens_.back().text, id);
  return id;
}

int Vocab::find(TokenKind kind, std::string_view text) const {
  const auto& index = index_[static_cast<int>(kind)];
  auto it = index.find(text);
  return it == index.end() ? -1 : it->second;
}

DecodedEvent Vocab::decode_event(const uint16_t* tokens, const uint8_t* types, size_t n) const {
  DecodedEvent event;
  size_t i = 0;
  auto stop = [&](size_t j) { return j >= n || tokens[j] == kSepId || tokens[j] == kPadId; };
  auto bad = [&](std::string why) {
    event.ok = false;
    event.error = std::move(why);
    return event;
  };
  if (stop(0)) return bad("empty event");
  if (tokens[0] >= tokens_.size() || tokens_[tokens[0]].kind != TokenKind::kTable || types[0] != kTypeTable)
    return bad("event does not start with a table name");
  event.table = tokens_[tokens[0]].text;
  i = 1;
  while (!stop(i)) {
    uint16_t id = tokens[i];
    if (id >= tokens_.size() || tokens_[id].kind != TokenKind::kColumn || types[i] != kTypeColumn)
      return bad("expected a column name at position " + std::to_string(i));
    std::string column = tokens_[id].text;
    ++i;
    std::string value;
    size_t start = i;
    while (!stop(i) && types[i] == kTypeValue) {
      if (tokens[i] >= tokens_.size()) return bad("token id out of range");
      TokenKind kind = tokens_[tokens[i]].kind;
      if (kind != TokenKind::kByte && kind != TokenKind::kValue && kind != TokenKind::kWord)
        return bad("non-value token inside the value of column " + column);
      value += tokens_[tokens[i]].text;
      ++i;
    }
    if (i == start) return bad("column " + column + " has no value");
    event.pairs.emplace_back(std::move(column), std::move(value));
  }
  if (i >= n || tokens[i] != kSepId) return bad("event does not end with SEP");
  event.ok = true;
  return event;
}

void Vocab::save(const std::filesystem::path& path) const {
  nlohmann::json tokens = nlohmann::json::array();
  for (const auto& t : tokens_) {
    // Byte tokens are stored by value so that the JSON stays valid UTF-8.
    if (t.kind == TokenKind::kByte)
      tokens.push_back({{"byte", static_cast<unsigned char>(t.text[0])}, {"kind", "byte"}});
    else
      tokens.push_back({{"text", t.text}, {"kind", token_kind_name(t.kind)}});
  }
  write_json_atomic(path, {{"format", "rawmed-vocab/1"}, {"tokens", tokens}});
}

Vocab Vocab::load(const std::filesystem::path& path) {
  nlohmann::json json = read_json(path);
  if (json.value("format", "") != "rawmed-vocab/1") fail("{}: not a rawmed vocabulary (format key)", path.string());
  Vocab vocab;
  const auto& tokens = json.at("tokens");
  for (size_t i = 258; i < tokens.size(); ++i) {
    std::string kind = tokens[i].at("kind");
    TokenKind k;
    if (kind == "table") k = TokenKind::kTable;
    else if (kind == "column") k = TokenKind::kColumn;
    else if (kind == "value") k = TokenKind::kValue;
    else if (kind == "word") k = TokenKind::kWord;
    else fail("{}: token {} has unknown kind '{}'", path.string(), i, kind);
    if (vocab.add(tokens[i].at("text"), k) != i) fail("{}: duplicate token at index {}", path.string(), i);
  }
  return vocab;
}

}  // namespace rawmed
