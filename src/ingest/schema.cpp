#include "ingest/schema.h"

#include "common/error.h"
#include "common/fs.h"

#include <algorithm>

namespace rawmed {

std::vector<std::string> DbTable::modelled_columns() const {
  std::vector<std::string> out;
  for (const auto& c : columns)
    if (types.count(c)) out.push_back(c);
  return out;
}

const DbTable* DbSchema::find(const std::string& name) const {
  for (const auto& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

nlohmann::json DbSchema::to_json() const {
  nlohmann::json tables_json = nlohmann::json::array();
  for (const auto& t : tables) {
    nlohmann::json types_json = nlohmann::json::object();
    for (const auto& [c, type] : t.types) types_json[c] = column_type_name(type);
    nlohmann::json dict = nullptr;
    if (!t.dictionary_column.empty()) dict = {{"column", t.dictionary_column}, {"labels", t.dictionary_labels}};
    tables_json.push_back({{"name", t.name},
                           {"file", t.file},
                           {"columns", t.columns},
                           {"link", {{"column", t.link_column}, {"cohort_key", t.link_cohort_key}}},
                           {"time_column", t.time_column},
                           {"item_column", t.item_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.item_column)},
                           {"dropped", t.dropped},
                           {"types", types_json},
                           {"dictionary", dict}});
  }
  return {{"format", "rawmed-db/1"},
          {"dataset", dataset},
          {"window_hours", window_hours},
          {"time_kind", time_kind == TimeKind::kDatetime ? "datetime" : "minutes"},
          {"tables", tables_json}};
}

DbSchema DbSchema::from_json(const nlohmann::json& json, const std::string& origin) {
  try {
    if (json.value("format", "") != "rawmed-db/1") fail("{}: format is not rawmed-db/1", origin);
    DbSchema schema;
    schema.dataset = json.at("dataset");
    schema.window_hours = json.at("window_hours");
    schema.time_kind = json.at("time_kind") == "datetime" ? TimeKind::kDatetime : TimeKind::kMinutes;
    for (const auto& t : json.at("tables")) {
      DbTable table;
      table.name = t.at("name");
      table.file = t.at("file");
      table.columns = t.at("columns").get<std::vector<std::string>>();
      table.link_column = t.at("link").at("column");
      table.link_cohort_key = t.at("link").at("cohort_key");
      table.time_column = t.at("time_column");
      if (!t.at("item_column").is_null()) table.item_column = t.at("item_column");
      table.dropped = t.at("dropped").get<std::vector<std::string>>();
      for (const auto& [c, type] : t.at("types").items()) {
        auto parsed = parse_column_type(type.get<std::string>());
        if (!parsed) fail("{}: table {} column {}: unknown type", origin, table.name, c);
        table.types[c] = *parsed;
      }
      if (!t.at("dictionary").is_null()) {
        table.dictionary_column = t["dictionary"].at("column");
        table.dictionary_labels = t["dictionary"].at("labels").get<std::map<std::string, std::string>>();
      }
      schema.tables.push_back(std::move(table));
    }
    return schema;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid schema: {}", origin, e.what());
  }
}

DbSchema DbSchema::load(const std::filesystem::path& db_dir) {
  fs::path path = db_dir / "schema.json";
  if (!fs::exists(path)) fail("{}: not a database folder (no schema.json)", db_dir.string());
  return from_json(read_json(path), path.string());
}

}  // namespace rawmed
