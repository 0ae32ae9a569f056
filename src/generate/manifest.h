#pragma once
// OUT/MANIFEST.json: what produced a synthetic database (docs/formats/release.md). The rawmed
// version with its git commit, the LibTorch and XGBoost versions, the config text and its hash,
// the seed and settings, SHA-256 of every input (raw tables, dataset arrays, models), the release
// gate's figures and verdict, the source data's license note, and SHA-256 of every file written.
// `rawmed verify OUT` recomputes the hashes of the written files.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace rawmed::generate {

inline constexpr const char* kManifestFile = "MANIFEST.json";

// SHA-256 of a whole file as 64 hex digits (OpenSSL). Errors name the file.
std::string file_sha256(const std::filesystem::path& path);

struct ManifestInputs {
  std::filesystem::path work;
  std::filesystem::path config_path;
  std::vector<std::filesystem::path> raw_files;  // the dataset's source tables (as the config names them)
  nlohmann::json settings;                        // seed, n, sampling and editor settings
  nlohmann::json release;                         // [release] as used
  nlohmann::json gate;                            // {"enabled": ..., verdict and figures}
  std::string license;
};

// Versions recorded in outputs: rawmed (version and git describe), LibTorch, XGBoost.
nlohmann::json build_versions();

// Writes DIR/MANIFEST.json; `dir` holds the finished database (every other file in it is hashed).
nlohmann::json write_manifest(const std::filesystem::path& dir, const ManifestInputs& inputs);

// Differences between DIR/MANIFEST.json and the files of DIR: a changed, missing or unlisted
// file, one line each (empty: the database is as written). With `check_inputs`, the recorded
// inputs are hashed again too. Errors when the manifest is missing or unreadable.
std::vector<std::string> verify_manifest(const std::filesystem::path& dir, bool check_inputs);

}  // namespace rawmed::generate
