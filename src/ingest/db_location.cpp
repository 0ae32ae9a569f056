#include "ingest/db_location.h"

#include "common/error.h"

#include <cctype>

namespace rawmed {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// user:password@ in the authority part of a URI.
bool authority_has_password(std::string_view uri) {
  size_t begin = uri.find("://");
  if (begin == std::string_view::npos) return false;
  begin += 3;
  size_t end = uri.find_first_of("/?", begin);
  std::string_view authority = uri.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  size_t at = authority.rfind('@');
  return at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
}

// Splits "a=1&b=2" and removes rawmed's own `schema` parameter; rejects `password`.
std::string strip_rawmed_parameters(std::string_view query, std::string* schema, std::string_view display) {
  std::string kept;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    std::string_view part = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    std::string_view key = part.substr(0, part.find('='));
    std::string_view value = part.find('=') == std::string_view::npos ? "" : part.substr(part.find('=') + 1);
    if (key == "password")
      fail("{}: a password must not be written in the URL; set PGPASSWORD or use ~/.pgpass", display);
    if (key == "schema") {
      check_table_identifier(value, std::string(display) + " (schema=)");
      *schema = std::string(value);
    } else if (!part.empty()) {
      kept += (kept.empty() ? "" : "&") + std::string(part);
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return kept;
}

}  // namespace

bool is_database_location(std::string_view text) {
  return starts_with(text, "postgresql://") || starts_with(text, "postgres://") || starts_with(text, "sqlite:");
}

DbLocation parse_database_location(std::string_view text) {
  DbLocation location;
  size_t hash = text.find('#');
  std::string_view base = text.substr(0, hash);
  if (hash != std::string_view::npos) location.target = std::string(text.substr(hash + 1));
  if (starts_with(text, "sqlite:")) {
    location.kind = DbKind::kSqlite;
    location.display = std::string(text);
    location.connect = std::string(base.substr(7));
    if (location.connect.empty()) fail("{}: no SQLite file after 'sqlite:'", text);
    return location;
  }
  if (!starts_with(text, "postgresql://") && !starts_with(text, "postgres://"))
    fail("{}: not a database location (expected postgresql://... or sqlite:FILE)", text);
  if (authority_has_password(base)) {
    // Never echo the password: show the user and host only.
    std::string shown(base);
    size_t begin = shown.find("://") + 3, colon = shown.find(':', begin), at = shown.find('@', begin);
    shown.replace(colon, at - colon, ":***");
    fail("{}: a password must not be written in the URL; set PGPASSWORD or use ~/.pgpass", shown);
  }
  location.kind = DbKind::kPostgres;
  location.display = std::string(text);
  size_t question = base.find('?');
  location.connect = std::string(base.substr(0, question));
  if (question != std::string_view::npos) {
    std::string kept = strip_rawmed_parameters(base.substr(question + 1), &location.schema, base);
    if (!kept.empty()) location.connect += "?" + kept;
  }
  return location;
}

std::string table_location(std::string_view base, std::string_view table_or_query) {
  return std::string(base) + "#" + std::string(table_or_query);
}

void check_table_identifier(std::string_view name, std::string_view context) {
  bool ok = !name.empty() && name.size() <= 127;
  int dots = 0;
  char previous = '.';
  for (char c : name) {
    if (c == '.') {
      ok = ok && previous != '.';
      ++dots;
    } else {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    }
    previous = c;
  }
  if (!ok || dots > 1 || previous == '.')
    fail("{}: table name \"{}\" must be 'table' or 'schema.table' (letters, digits and '_')", context, name);
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string quote_table_identifier(std::string_view name) {
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) return quote_identifier(name);
  return quote_identifier(name.substr(0, dot)) + "." + quote_identifier(name.substr(dot + 1));
}

}  // namespace rawmed
