#pragma once
// The token vocabulary, built from the training split only (see docs/file-formats.md).
// Ids 0 and 1 are PAD and SEP, ids 2..257 are the 256 bytes, so every string can be spelled;
// then table names, column names, whole values and word pieces seen in at least k patients.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rawmed {

// Transparent string hash: maps keyed by std::string can be searched with a string_view
// without allocating.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

enum class TokenKind : uint8_t { kPad, kSep, kByte, kTable, kColumn, kValue, kWord };
enum TokenType : uint8_t { kTypePad = 0, kTypeTable = 1, kTypeColumn = 2, kTypeValue = 3, kTypeSep = 4 };
constexpr int kNumTokenTypes = 5;
constexpr int kNumDpe = 32;
constexpr uint8_t kDpeNone = 0, kDpePoint = 1, kDpeFirstFraction = 2, kDpeUnits = 8, kDpeMax = 31;
constexpr uint16_t kPadId = 0, kSepId = 1, kFirstByteId = 2;

struct Token {
  std::string text;
  TokenKind kind;
};

// One decoded event: table name, then (column, value) pairs in serialization order.
struct DecodedEvent {
  std::string table;
  std::vector<std::pair<std::string, std::string>> pairs;
  bool ok = false;        // false when the tokens do not form `table (column value+)* SEP`
  std::string error;      // why not, when !ok
  bool operator==(const DecodedEvent& other) const {
    return ok == other.ok && table == other.table && pairs == other.pairs;
  }
};

class Vocab {
 public:
  Vocab();
  size_t size() const { return tokens_.size(); }
  const Token& token(uint16_t id) const { return tokens_.at(id); }
  // Adds a token (or returns the existing id of the same kind and text).
  uint16_t add(std::string text, TokenKind kind);
  // Id of a token of this kind and text, or -1.
  int find(TokenKind kind, std::string_view text) const;
  static uint16_t byte_id(unsigned char byte) { return static_cast<uint16_t>(kFirstByteId + byte); }

  // Decodes one event's tokens (types are used to split columns from values; decoding stops at
  // the first SEP or PAD). Grammar: table, then pairs of one column token and 1+ value tokens.
  DecodedEvent decode_event(const uint16_t* tokens, const uint8_t* types, size_t n) const;

  void save(const std::filesystem::path& path) const;
  static Vocab load(const std::filesystem::path& path);

 private:
  std::vector<Token> tokens_;
  // One index per token kind; heterogeneous lookup so that find() does not allocate.
  std::unordered_map<std::string, uint16_t, StringHash, std::equal_to<>> index_[7];
};

const char* token_kind_name(TokenKind kind);

}  // namespace rawmed
