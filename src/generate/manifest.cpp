#include "generate/manifest.h"
#include "ingest/db_location.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/torch_env.h"
#include "rawmed_version.h"

#include <openssl/evp.h>
#include <xgboost/c_api.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>

namespace rawmed::generate {

namespace {

const char* const kFormat = "rawmed-manifest/1";

// Regular files under `dir`, as sorted relative paths (the manifest itself left out).
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) {
      std::string relative = fs::relative(entry.path(), dir).generic_string();
      if (relative != kManifestFile) out.push_back(relative);
    }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json hashes_under(const fs::path& dir) {
  nlohmann::json out = nlohmann::json::object();
  if (!fs::is_directory(dir)) return out;
  for (const auto& f : files_under(dir)) out[f] = file_sha256(dir / f);
  return out;
}

}  // namespace

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open for hashing", path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) fail("SHA-256: OpenSSL initialisation failed");
  std::array<char, 1 << 16> buffer;
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
    if (in.eof()) break;
  }
  if (in.bad()) fail("{}: read error while hashing", path.string());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

nlohmann::json build_versions() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  nlohmann::json torch = torch_runtime_info();
  return {{"rawmed", RAWMED_VERSION},
          {"git", RAWMED_GIT_DESCRIBE},
          {"torch", torch.value("torch", "")},
          {"xgboost", fmt::format("{}.{}.{}", major, minor, patch)}};
}

nlohmann::json write_manifest(const fs::path& dir, const ManifestInputs& inputs) {
  std::string config_text = read_file(inputs.config_path);
  nlohmann::json raw = nlohmann::json::object();
  for (const auto& f : inputs.raw_files)
    if (is_database_location(f.string())) raw[f.string()] = "database table (its CRC-32 is in prepare.json)";
    else if (!f.empty()) raw[fs::absolute(f).string()] = file_sha256(f);
  nlohmann::json models = nlohmann::json::object();
  for (const char* model : {"codec/model.pt", "temporal/model.pt"})
    if (fs::exists(inputs.work / model)) models[model] = file_sha256(inputs.work / model);
  nlohmann::json manifest = {
      {"format", kFormat},
      {"versions", build_versions()},
      {"config", {{"path", fs::absolute(inputs.config_path).string()}, {"sha256", file_sha256(inputs.config_path)}, {"text", config_text}}},
      {"settings", inputs.settings},
      {"release", inputs.release},
      {"gate", inputs.gate},
      {"license", inputs.license},
      {"inputs",
       {{"work", fs::absolute(inputs.work).string()},
        {"raw_tables", raw},
        {"dataset", hashes_under(inputs.work / "dataset")},
        {"real", hashes_under(inputs.work / "real")},
        {"models", models}}},
      {"outputs", hashes_under(dir)},
  };
  write_json_atomic(dir / kManifestFile, manifest);
  return manifest;
}

std::vector<std::string> verify_manifest(const fs::path& dir, bool check_inputs) {
  const fs::path file = dir / kManifestFile;
  if (!fs::exists(file)) fail("{}: no {} (not a database written by rawmed generate)", dir.string(), kManifestFile);
  nlohmann::json manifest = read_json(file);
  if (manifest.value("format", "") != kFormat)
    fail("{}: format is '{}', expected '{}'", file.string(), manifest.value("format", ""), kFormat);
  std::vector<std::string> problems;
  auto check = [&](const fs::path& root, const nlohmann::json& recorded, const std::string& what) {
    for (const auto& [name, hash] : recorded.items()) {
      fs::path path = root.empty() ? fs::path(name) : root / name;
      if (!fs::exists(path)) problems.push_back(fmt::format("{} missing: {}", what, path.string()));
      else if (file_sha256(path) != hash.get<std::string>())
        problems.push_back(fmt::format("{} changed: {} (SHA-256 differs from the manifest)", what, path.string()));
    }
  };
  const nlohmann::json& outputs = manifest.at("outputs");
  check(dir, outputs, "output");
  for (const auto& f : files_under(dir))
    if (!outputs.contains(f)) problems.push_back(fmt::format("output not in the manifest: {}", (dir / f).string()));
  if (check_inputs) {
    const nlohmann::json& in = manifest.at("inputs");
    fs::path work = in.at("work").get<std::string>();
    check({}, in.at("raw_tables"), "input");
    check(work / "dataset", in.at("dataset"), "input");
    check(work / "real", in.at("real"), "input");
    check(work, in.at("models"), "input");
    check({}, {{manifest.at("config").at("path").get<std::string>(), manifest["config"].at("sha256")}}, "input");
  }
  return problems;
}

}  // namespace rawmed::generate
