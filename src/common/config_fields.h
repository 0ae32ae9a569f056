#pragma once
// Stage configs (codec, temporal, ...) list their fields once, in a static
//   template <class Self, class F> static void visit(Self& config, F&& f) { f("key", config.key); ... }
// and these helpers derive from that one list the TOML overrides (unknown keys and wrong types are
// errors naming the file and key), the JSON written next to a model, and the JSON read back. Structs
// that are stored but not configured (ModelConfig, checkpoint states) use the JSON helpers alone.
#include "common/config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace rawmed {

inline void read_field(const toml::table& t, std::string_view key, int& v, std::string_view ctx,
                       const std::filesystem::path& file) {
  v = static_cast<int>(get_int(t, key, v, ctx, file));
}
inline void read_field(const toml::table& t, std::string_view key, int64_t& v, std::string_view ctx,
                       const std::filesystem::path& file) {
  v = get_int(t, key, v, ctx, file);
}
inline void read_field(const toml::table& t, std::string_view key, uint64_t& v, std::string_view ctx,
                       const std::filesystem::path& file) {
  v = static_cast<uint64_t>(get_int(t, key, static_cast<int64_t>(v), ctx, file));
}
inline void read_field(const toml::table& t, std::string_view key, double& v, std::string_view ctx,
                       const std::filesystem::path& file) {
  v = get_double(t, key, v, ctx, file);
}
inline void read_field(const toml::table& t, std::string_view key, bool& v, std::string_view ctx,
                       const std::filesystem::path& file) {
  v = get_bool(t, key, v, ctx, file);
}
inline void read_field(const toml::table& t, std::string_view key, std::string& v, std::string_view ctx,
                       const std::filesystem::path& file) {
  v = get_string(t, key, v, ctx, file);
}

// Applies the keys of `section` to `config`; `extra_keys` are handled by the caller.
template <class C>
void apply_fields(C& config, const toml::table& section, std::string_view context, const std::filesystem::path& file,
                  std::vector<std::string_view> extra_keys = {}) {
  C::visit(config, [&](std::string_view key, auto&) { extra_keys.push_back(key); });
  check_keys(section, extra_keys, context, file);
  C::visit(config, [&](std::string_view key, auto& field) { read_field(section, key, field, context, file); });
}

template <class C>
nlohmann::json fields_to_json(const C& config) {
  nlohmann::json out = nlohmann::json::object();
  C::visit(config, [&](std::string_view key, const auto& field) { out[std::string(key)] = field; });
  return out;
}

// Keys missing from `json` keep the value `config` already has.
template <class C>
void fields_from_json(C& config, const nlohmann::json& json) {
  C::visit(config, [&](std::string_view key, auto& field) {
    auto it = json.find(std::string(key));
    if (it != json.end()) it->get_to(field);
  });
}

// For JSON that rawmed wrote itself (model files, checkpoints): every key must be there, except
// the `optional` ones (added after such files were first written), which keep the value `config`
// already has. A missing key throws nlohmann's out_of_range naming it (not an Error: the readers
// catch it and add the file, as for any other unreadable content).
template <class C>
void stored_fields_from_json(C& config, const nlohmann::json& json, std::vector<std::string_view> optional = {}) {
  C::visit(config, [&](std::string_view key, auto& field) {
    const bool is_optional = std::find(optional.begin(), optional.end(), key) != optional.end();
    if (!is_optional || json.contains(std::string(key))) json.at(std::string(key)).get_to(field);
  });
}

}  // namespace rawmed
