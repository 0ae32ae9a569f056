#include "common/config.h"

#include "common/error.h"
#include "ingest/db_location.h"

#include <fmt/ranges.h>

#include <cctype>

namespace rawmed {
namespace {

std::string join_keys(const std::vector<std::string_view>& keys) {
  std::string out;
  for (auto k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::string dotted(std::string_view context, std::string_view key) {
  return context.empty() ? std::string(key) : fmt::format("{}.{}", context, key);
}

const toml::table& require_table(const toml::table& parent, std::string_view key, const std::filesystem::path& file) {
  const toml::node* node = parent.get(key);
  if (!node) fail("{}: missing section [{}]", file.string(), key);
  if (!node->is_table()) fail("{}: '{}' must be a table", file.string(), key);
  return *node->as_table();
}

std::string require_string(const toml::table& table, std::string_view key, std::string_view context,
                           const std::filesystem::path& file) {
  if (!table.contains(key)) fail("{}: missing key '{}'", file.string(), dotted(context, key));
  return get_string(table, key, "", context, file);
}

// Where input files may be: under dataset.root, unless the config opts out explicitly.
struct InputRoot {
  std::filesystem::path dir;
  bool allow_outside = false;
  std::string source;  // dataset.source: tables are then in this database (db_location.h)
};

bool is_under(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto rel = path.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

std::filesystem::path resolve_file(const InputRoot& root, const std::string& name, std::string_view key,
                                   const std::filesystem::path& file) {
  if (!root.source.empty()) {
    check_table_identifier(name, fmt::format("{}: '{}'", file.string(), key));
    return table_location(root.source, name);
  }
  std::filesystem::path path = std::filesystem::path(name).is_absolute() ? std::filesystem::path(name) : root.dir / name;
  path = path.lexically_normal();
  // Lexical: a symbolic link inside the root is the user's own choice and is followed.
  auto root_dir = std::filesystem::absolute(root.dir).lexically_normal();
  if (!root.allow_outside && !is_under(std::filesystem::absolute(path).lexically_normal(), root_dir))
    fail("{}: '{}': {} is outside dataset.root ({}); move it there or set dataset.allow_files_outside_root = true",
         file.string(), key, path.string(), root_dir.string());
  if (!std::filesystem::is_regular_file(path)) fail("{}: '{}': file not found: {}", file.string(), key, path.string());
  return path;
}

// A table's name becomes the file stem of its outputs (WORK/real/<split>/<name>.csv.gz): it must
// be a plain file name and must not replace the cohort or schema files written beside it.
void check_table_name(const std::string& name, std::string_view context, const std::filesystem::path& file) {
  bool plain = !name.empty() && name.size() <= 64 && name != "." && name != "..";
  for (char c : name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!plain || name.front() == '.')
    fail("{}: '{}.name' = \"{}\": a table name must be 1-64 letters, digits, '_', '-' or '.' and not start with '.'",
         file.string(), context, name);
  for (const char* reserved : {"cohort", "schema"})
    if (name == reserved)
      fail("{}: '{}.name' = \"{}\" is reserved (WORK/real/<split>/{}.* is written by rawmed); rename the table",
           file.string(), context, name, reserved);
}

std::vector<std::string> get_string_list(const toml::table& table, std::string_view key, std::string_view context,
                                         const std::filesystem::path& file) {
  std::vector<std::string> out;
  const toml::node* node = table.get(key);
  if (!node) return out;
  const toml::array* array = node->as_array();
  if (!array) fail("{}: '{}' must be an array of strings", file.string(), dotted(context, key));
  for (const auto& item : *array) {
    auto value = item.value<std::string>();
    if (!value) fail("{}: '{}' must be an array of strings", file.string(), dotted(context, key));
    out.push_back(*value);
  }
  return out;
}

// A table's input: `file` (a CSV file under dataset.root) or, with dataset.source, `table`
// ("schema.table") or `query` (a SELECT whose result is the table).
std::filesystem::path resolve_input(const toml::table& t, const InputRoot& root, const std::string& context,
                                    const std::filesystem::path& file) {
  if (root.source.empty()) {
    for (const char* key : {"table", "query"})
      if (t.contains(key))
        fail("{}: '{}.{}' needs dataset.source (a database); without one, name a CSV with 'file'", file.string(),
             context, key);
    return resolve_file(root, require_string(t, "file", context, file), context + ".file", file);
  }
  if (t.contains("file"))
    fail("{}: '{}.file': dataset.source names a database, so give 'table' (schema.table) or 'query'", file.string(),
         context);
  if (t.contains("table") == t.contains("query"))
    fail("{}: '{}' needs exactly one of 'table' (schema.table) or 'query'", file.string(), context);
  if (t.contains("table")) return resolve_file(root, require_string(t, "table", context, file), context + ".table", file);
  std::string query = require_string(t, "query", context, file);
  while (!query.empty() && (query.back() == ';' || std::isspace(static_cast<unsigned char>(query.back())))) query.pop_back();
  if (query.empty()) fail("{}: '{}.query' is empty", file.string(), context);
  return table_location(root.source, "(" + query + ")");
}

TableSpec parse_table(const toml::table& t, size_t index, const InputRoot& root, const std::filesystem::path& file) {
  std::string context = fmt::format("tables[{}]", index);
  check_keys(t, {"name", "file", "table", "query", "link", "link_to", "time", "drop", "item", "dictionary", "types"},
             context, file);
  TableSpec spec;
  spec.name = require_string(t, "name", context, file);
  check_table_name(spec.name, context, file);
  context = fmt::format("tables.{}", spec.name);
  spec.file = resolve_input(t, root, context, file);
  spec.link_column = require_string(t, "link", context, file);
  spec.link_to = get_string(t, "link_to", "stay_id", context, file);
  if (spec.link_to != "stay_id" && spec.link_to != "admission_id")
    fail("{}: '{}.link_to' must be \"stay_id\" or \"admission_id\", not \"{}\"", file.string(), context, spec.link_to);
  spec.time_column = require_string(t, "time", context, file);
  spec.drop = get_string_list(t, "drop", context, file);
  spec.item_column = get_string(t, "item", "", context, file);
  if (const toml::node* node = t.get("dictionary")) {
    const toml::table* d = node->as_table();
    std::string dcontext = context + ".dictionary";
    if (!d) fail("{}: '{}' must be a table", file.string(), dcontext);
    check_keys(*d, {"column", "file", "table", "query", "key", "label"}, dcontext, file);
    DictionarySpec dict;
    dict.column = require_string(*d, "column", dcontext, file);
    dict.file = resolve_input(*d, root, dcontext, file);
    dict.key = require_string(*d, "key", dcontext, file);
    dict.label = require_string(*d, "label", dcontext, file);
    spec.dictionary = dict;
  }
  if (const toml::node* node = t.get("types")) {
    const toml::table* types = node->as_table();
    if (!types) fail("{}: '{}.types' must be a table of column = \"numeric|categorical|text\"", file.string(), context);
    for (const auto& [key, value] : *types) {
      auto name = value.value<std::string>();
      auto type = name ? parse_column_type(*name) : std::nullopt;
      if (!type)
        fail("{}: '{}.types.{}' must be \"numeric\", \"categorical\" or \"text\"", file.string(), context,
             std::string(key.str()));
      spec.types[std::string(key.str())] = *type;
    }
  }
  return spec;
}

CohortSpec parse_cohort(const toml::table& c, const InputRoot& root, const std::filesystem::path& file) {
  check_keys(c,
             {"stays", "stay_id", "patient_id", "admission_id", "intime", "outtime", "stay_order", "patients",
              "patients_key", "gender", "age_kind", "age", "anchor_age", "anchor_year", "dob", "age_over_89_value"},
             "cohort", file);
  CohortSpec spec;
  spec.stays_file = resolve_file(root, require_string(c, "stays", "cohort", file), "cohort.stays", file);
  spec.stay_id = require_string(c, "stay_id", "cohort", file);
  spec.patient_id = require_string(c, "patient_id", "cohort", file);
  spec.admission_id = require_string(c, "admission_id", "cohort", file);
  spec.intime = get_string(c, "intime", "", "cohort", file);
  spec.outtime = require_string(c, "outtime", "cohort", file);
  spec.stay_order = get_string(c, "stay_order", "", "cohort", file);
  std::string patients = get_string(c, "patients", "", "cohort", file);
  if (!patients.empty()) {
    spec.patients_file = resolve_file(root, patients, "cohort.patients", file);
    spec.patients_key = get_string(c, "patients_key", spec.patient_id, "cohort", file);
  }
  spec.gender = get_string(c, "gender", "", "cohort", file);
  spec.age_kind = get_string(c, "age_kind", "column", "cohort", file);
  if (spec.age_kind != "column" && spec.age_kind != "anchor" && spec.age_kind != "dob")
    fail("{}: 'cohort.age_kind' must be \"column\", \"anchor\" or \"dob\", not \"{}\"", file.string(), spec.age_kind);
  spec.age = get_string(c, "age", "", "cohort", file);
  spec.anchor_age = get_string(c, "anchor_age", "", "cohort", file);
  spec.anchor_year = get_string(c, "anchor_year", "", "cohort", file);
  spec.dob = get_string(c, "dob", "", "cohort", file);
  spec.age_over_89_value = get_string(c, "age_over_89_value", "> 89", "cohort", file);
  return spec;
}

}  // namespace

const char* column_type_name(ColumnType type) {
  switch (type) {
    case ColumnType::kNumeric: return "numeric";
    case ColumnType::kCategorical: return "categorical";
    default: return "text";
  }
}

std::optional<ColumnType> parse_column_type(std::string_view name) {
  if (name == "numeric") return ColumnType::kNumeric;
  if (name == "categorical") return ColumnType::kCategorical;
  if (name == "text") return ColumnType::kText;
  return std::nullopt;
}

void check_keys(const toml::table& table, std::initializer_list<std::string_view> known, std::string_view context,
                const std::filesystem::path& file) {
  check_keys(table, std::vector<std::string_view>(known), context, file);
}

void check_keys(const toml::table& table, const std::vector<std::string_view>& known, std::string_view context,
                const std::filesystem::path& file) {
  for (const auto& [key, value] : table) {
    bool found = false;
    for (auto k : known) found = found || k == key.str();
    if (!found) {
      auto where = key.source().begin;
      fail("{}:{}: unknown key '{}' (known: {})", file.string(), where.line, dotted(context, key.str()),
           join_keys(known));
    }
  }
}

int64_t get_int(const toml::table& table, std::string_view key, int64_t fallback, std::string_view context,
                const std::filesystem::path& file) {
  const toml::node* node = table.get(key);
  if (!node) return fallback;
  auto value = node->value<int64_t>();
  if (!value || !node->is_integer()) fail("{}: '{}' must be an integer", file.string(), dotted(context, key));
  return *value;
}

double get_double(const toml::table& table, std::string_view key, double fallback, std::string_view context,
                  const std::filesystem::path& file) {
  const toml::node* node = table.get(key);
  if (!node) return fallback;
  auto value = node->value<double>();
  if (!value) fail("{}: '{}' must be a number", file.string(), dotted(context, key));
  return *value;
}

bool get_bool(const toml::table& table, std::string_view key, bool fallback, std::string_view context,
              const std::filesystem::path& file) {
  const toml::node* node = table.get(key);
  if (!node) return fallback;
  auto value = node->value<bool>();
  if (!value || !node->is_boolean()) fail("{}: '{}' must be true or false", file.string(), dotted(context, key));
  return *value;
}

std::string get_string(const toml::table& table, std::string_view key, std::string fallback, std::string_view context,
                       const std::filesystem::path& file) {
  const toml::node* node = table.get(key);
  if (!node) return fallback;
  if (!node->is_string()) fail("{}: '{}' must be a string", file.string(), dotted(context, key));
  return *node->value<std::string>();
}

const toml::table& config_section(const Config& config, std::string_view name) {
  static const toml::table empty;
  const toml::node* node = config.root.get(name);
  if (!node) return empty;
  if (!node->is_table()) fail("{}: '{}' must be a table", config.path.string(), name);
  return *node->as_table();
}

Config load_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail("{}: config file not found", path.string());
  Config config;
  config.path = path;
  try {
    config.root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: TOML syntax error: {}", path.string(), e.source().begin.line, e.source().begin.column,
         e.description());
  }
  const auto& root = config.root;
  check_keys(root, {"dataset", "cohort", "tables", "codec", "temporal", "generate", "evaluate", "constraints", "release"}, "",
             path);
  const toml::table& d = require_table(root, "dataset", path);
  check_keys(d,
             {"name", "root", "time_kind", "window_hours", "max_tokens_per_event", "max_events_per_stay",
              "split_seed", "min_patients_for_token", "decimals", "skip_malformed_rows", "min_age", "min_events",
              "first_stay_per_admission", "require_full_window", "allow_files_outside_root", "source"},
             "dataset", path);
  DatasetSpec& spec = config.dataset;
  spec.name = require_string(d, "name", "dataset", path);
  InputRoot root_dir;
  root_dir.dir = path.parent_path() / get_string(d, "root", ".", "dataset", path);
  root_dir.allow_outside = get_bool(d, "allow_files_outside_root", false, "dataset", path);
  root_dir.source = get_string(d, "source", "", "dataset", path);
  if (!root_dir.source.empty()) {
    if (!is_database_location(root_dir.source))
      fail("{}: 'dataset.source' must be \"postgresql://USER@HOST/DB\" or \"sqlite:FILE\"", path.string());
    DbLocation location = parse_database_location(root_dir.source);  // rejects a password in the URL
    if (!location.target.empty() || !location.schema.empty())
      fail("{}: 'dataset.source' names the database only; give tables as schema.table", path.string());
    if (location.kind == DbKind::kSqlite && std::filesystem::path(location.connect).is_relative())
      root_dir.source = "sqlite:" + (path.parent_path() / location.connect).lexically_normal().string();
  }
  if (!std::filesystem::is_directory(root_dir.dir))
    fail("{}: 'dataset.root': folder not found: {}", path.string(), root_dir.dir.string());
  std::string time_kind = get_string(d, "time_kind", "datetime", "dataset", path);
  if (time_kind != "datetime" && time_kind != "minutes")
    fail("{}: 'dataset.time_kind' must be \"datetime\" or \"minutes\", not \"{}\"", path.string(), time_kind);
  spec.time_kind = time_kind == "datetime" ? TimeKind::kDatetime : TimeKind::kMinutes;
  spec.window_hours = static_cast<int>(get_int(d, "window_hours", 12, "dataset", path));
  spec.max_tokens_per_event = static_cast<int>(get_int(d, "max_tokens_per_event", 128, "dataset", path));
  spec.max_events_per_stay = static_cast<int>(get_int(d, "max_events_per_stay", 0, "dataset", path));
  spec.split_seed = static_cast<uint64_t>(get_int(d, "split_seed", 0, "dataset", path));
  spec.min_patients_for_token = static_cast<int>(get_int(d, "min_patients_for_token", 5, "dataset", path));
  spec.decimals = static_cast<int>(get_int(d, "decimals", 4, "dataset", path));
  spec.skip_malformed_rows = get_bool(d, "skip_malformed_rows", false, "dataset", path);
  spec.min_age = get_double(d, "min_age", 18, "dataset", path);
  spec.min_events = static_cast<int>(get_int(d, "min_events", 6, "dataset", path));
  spec.first_stay_per_admission = get_bool(d, "first_stay_per_admission", true, "dataset", path);
  spec.require_full_window = get_bool(d, "require_full_window", true, "dataset", path);
  if (spec.window_hours <= 0 || spec.window_hours > 24 * 30)
    fail("{}: 'dataset.window_hours' must be between 1 and 720", path.string());
  if (spec.max_tokens_per_event < 8) fail("{}: 'dataset.max_tokens_per_event' must be at least 8", path.string());
  if (spec.decimals < 0 || spec.decimals > 8) fail("{}: 'dataset.decimals' must be between 0 and 8", path.string());
  if (spec.min_patients_for_token < 1) fail("{}: 'dataset.min_patients_for_token' must be at least 1", path.string());

  spec.cohort = parse_cohort(require_table(root, "cohort", path), root_dir, path);
  if (spec.time_kind == TimeKind::kDatetime && spec.cohort.intime.empty())
    fail("{}: 'cohort.intime' is required when dataset.time_kind = \"datetime\"", path.string());
  const toml::node* tables = root.get("tables");
  if (!tables || !tables->is_array_of_tables() || tables->as_array()->empty())
    fail("{}: missing [[tables]] (at least one event table)", path.string());
  size_t index = 0;
  for (const auto& node : *tables->as_array()) {
    spec.tables.push_back(parse_table(*node.as_table(), index++, root_dir, path));
    for (size_t j = 0; j + 1 < spec.tables.size(); ++j)
      if (spec.tables[j].name == spec.tables.back().name)
        fail("{}: table name '{}' is used twice", path.string(), spec.tables.back().name);
  }
  if (spec.tables.size() > 250) fail("{}: at most 250 event tables", path.string());
  return config;
}

}  // namespace rawmed
