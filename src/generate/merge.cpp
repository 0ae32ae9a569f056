#include "generate/merge.h"

#include "common/clock.h"
#include "common/config.h"
#include "common/csv.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "generate/generate.h"
#include "generate/manifest.h"
#include "ingest/db_location.h"
#include "ingest/schema.h"

#include <algorithm>

namespace rawmed::generate {
namespace {

struct Part {
  fs::path dir;
  nlohmann::json summary;   // generate.json
  nlohmann::json manifest;  // MANIFEST.json
  int index() const { return summary.at("part").at("index").get<int>(); }
};

Part read_part(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail("merge: {}: not a folder", dir.string());
  std::vector<std::string> problems = verify_manifest(dir, false);
  if (!problems.empty())
    fail("merge: {}: the part differs from its {} ({}); regenerate it", dir.string(), kManifestFile, problems.front());
  Part part{dir, read_json(dir / "generate.json"), read_json(dir / kManifestFile)};
  if (!part.summary.contains("part"))
    fail("merge: {}: not a part (its generate.json has no \"part\"; write parts with `rawmed generate --shard I/N`)",
         dir.string());
  return part;
}

// The parts sorted by index, checked to be parts 0..N-1 of one run.
std::vector<Part> read_parts(const std::vector<fs::path>& dirs) {
  if (dirs.empty()) fail("merge: no parts given");
  std::vector<Part> parts;
  for (const auto& d : dirs) parts.push_back(read_part(d));
  std::sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.index() < b.index(); });
  const Part& first = parts.front();
  const int count = first.summary["part"].at("count").get<int>();
  if (static_cast<int>(parts.size()) != count)
    fail("merge: {} part(s) given, but the run has {} (generate --shard I/{}): every part is needed once", parts.size(),
         count, count);
  for (const Part& p : parts) {
    if (p.summary["part"].at("count").get<int>() != count)
      fail("merge: {} is a part of {}, {} of {}", p.dir.string(), p.summary["part"]["count"].get<int>(),
           first.dir.string(), count);
    for (const char* key : {"settings", "inputs", "release"})
      if (p.manifest.at(key) != first.manifest.at(key))
        fail("merge: {} and {} come from different runs: their {} \"{}\" differ", p.dir.string(), first.dir.string(),
             kManifestFile, key);
    if (p.manifest["config"].at("sha256") != first.manifest["config"].at("sha256"))
      fail("merge: {} and {} were generated with different configs", p.dir.string(), first.dir.string());
  }
  for (int i = 0; i < count; ++i)
    if (parts[static_cast<size_t>(i)].index() != i)
      fail("merge: part {}/{} is missing ({} is part {} too)", i, count, parts[static_cast<size_t>(i)].dir.string(),
           parts[static_cast<size_t>(i)].index());
  return parts;
}

// One table of every part, in part order, under one header (CsvReader -> CsvWriter writes the
// same bytes as writing the rows in one go, which is what an unsharded run does).
void concatenate_table(const std::vector<Part>& parts, const std::string& file, const fs::path& out) {
  CsvWriter writer((out / file).string());
  std::vector<std::string> header;
  std::vector<std::string_view> row;
  for (const Part& part : parts) {
    CsvReader reader((part.dir / file).string());
    if (&part == &parts.front()) {
      header = reader.header();
      writer.write_row(header);
    } else if (reader.header() != header) {
      fail("merge: {}: the header differs from {}'s", (part.dir / file).string(), (parts.front().dir / file).string());
    }
    while (reader.next()) {
      if (reader.fields().size() != header.size())
        fail("merge: {}: line {}: {} fields, the header has {}", reader.path(), reader.line(), reader.fields().size(),
             header.size());
      writer.write_row(reader.fields());
    }
  }
  writer.close();
}

void add_number(nlohmann::json& into, const nlohmann::json& value) {
  if (into.is_null()) into = value;
  else if (into.is_number_integer() && value.is_number_integer()) into = into.get<int64_t>() + value.get<int64_t>();
  else into = into.get<double>() + value.get<double>();
}

// Adds every number of `from` into `into`, key by key, through nested objects.
void add_counts(nlohmann::json& into, const nlohmann::json& from) {
  for (const auto& [key, value] : from.items()) {
    if (value.is_object()) add_counts(into[key], value);
    else if (value.is_number()) add_number(into[key], value);
  }
}

// generate.json of the merged database: part 0's, with the counts of every part summed.
nlohmann::json merged_summary(const std::vector<Part>& parts) {
  nlohmann::json out = parts.front().summary;
  const char* const kSummed[] = {"stays", "stays_sampled", "stays_rejected", "stays_sampled_unchecked", "events",
                                 "repaired_categorical_values", "suppressed_rare_values", "suppressed_rare_item_events",
                                 "rounds", "seconds", "sample_seconds", "decode_seconds"};
  const char* const kSummedMaps[] = {"events_per_table", "failures_by_reason", "dropped_invalid_events_by_reason"};
  nlohmann::json parts_json = nlohmann::json::array();
  for (size_t i = 0; i < parts.size(); ++i) {
    const nlohmann::json& s = parts[i].summary;
    parts_json.push_back({{"folder", fs::absolute(parts[i].dir).string()}, {"part", s.at("part")},
                          {"seconds", s.at("seconds")}, {"versions", s.at("versions")}});
    if (i == 0) continue;
    for (const char* key : kSummed) add_number(out[key], s.at(key));
    for (const char* key : kSummedMaps) add_counts(out[key], s.at(key));
    for (const char* key : {"violations_by_kind", "repairs_by_kind", "rejected_stays_by_kind"})
      add_counts(out["constraints"][key], s.at("constraints").at(key));
    for (const auto& [reason, examples] : s.at("failure_examples").items())
      for (const auto& example : examples)
        if (out["failure_examples"][reason].size() < 3) out["failure_examples"][reason].push_back(example);
    for (size_t c = 0; c < out["conditions"].size(); ++c)
      for (const char* key : {"written", "gender_matches", "age_group_matches"})
        add_number(out["conditions"][c][key], s.at("conditions").at(c).at(key));
  }
  const int64_t sampled = out["stays_sampled"].get<int64_t>(), rejected = out["stays_rejected"].get<int64_t>();
  out["rejection_rate"] = sampled > 0 ? static_cast<double>(rejected) / static_cast<double>(sampled) : 0.0;
  out.erase("part");
  out.erase("release_gate");
  out["parts"] = parts_json;
  return out;
}

}  // namespace

nlohmann::json run_merge(const MergeArgs& args) {
  auto start = Clock::now();
  if (args.out.empty()) fail("merge: --out is required");
  const bool to_database = is_database_location(args.out);
  if (to_database) parse_database_location(args.out);  // a password in the URL stops here
  const std::vector<Part> parts = read_parts(args.parts);
  const Part& first = parts.front();
  const int64_t run_stays = first.summary["part"].at("run_stays").get<int64_t>();

  ReleaseArgs release;
  release.work = first.manifest["inputs"].at("work").get<std::string>();
  release.config_path = first.manifest["config"].at("path").get<std::string>();
  release.out = args.out;
  release.out_path = to_database ? release.work / ".synthetic-publish" : fs::path(args.out);
  release.no_gate = args.no_gate;
  release.seed = first.manifest["settings"].at("seed").get<uint64_t>();
  release.threads = args.threads;
  release.settings = first.manifest.at("settings");
  // The gate and the new manifest read WORK and the config: they must be what the parts came from.
  std::vector<std::string> changed = verify_manifest(first.dir, true);
  if (!changed.empty())
    fail("merge: an input changed since {} was generated ({}); regenerate the parts", first.dir.string(),
         changed.front());
  Config config = load_config(release.config_path);

  AtomicDir out(release.out_path);
  const DbSchema schema = DbSchema::load(first.dir);
  for (const Part& part : parts)
    if (read_file(part.dir / "schema.json") != read_file(first.dir / "schema.json"))
      fail("merge: {}/schema.json differs from {}/schema.json", part.dir.string(), first.dir.string());
  fs::copy_file(first.dir / "schema.json", out.path() / "schema.json");
  for (const auto& table : schema.tables) concatenate_table(parts, table.file, out.path());
  concatenate_table(parts, kCohortFile, out.path());

  nlohmann::json summary = merged_summary(parts);
  if (summary["stays"].get<int64_t>() != run_stays)
    fail("merge: the parts hold {} stays, the run has {}", summary["stays"].get<int64_t>(), run_stays);
  summary["merge_seconds"] = seconds_since(start);
  write_json_atomic(out.path() / "generate.json", summary);
  release_or_reject(out, release, config, summary);
  log_info("merge: {} parts, {} stays -> {}", parts.size(), run_stays, args.out);
  return summary;
}

}  // namespace rawmed::generate
