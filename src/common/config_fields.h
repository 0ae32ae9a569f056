#pragma once
// Stage configs (codec, temporal, ...) list their fields once, in a static
//   template <class Self, class F> static void visit(Self& config, F&& f) { f("key", config.key); ... }
// and these helpers derive from that one list the TOML overrides (unknown keys and wrong types are
// errors naming the file and key), the JSON written next to a model, and the JSON read back.
#include "common/config.h"

#include <nlohmann/json.hpp>

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

}  // namespace rawmed
