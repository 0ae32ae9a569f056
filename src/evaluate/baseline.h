#pragma once
// Baseline generators for comparison with rawmed (`rawmed baseline`). Each writes a Database folder
// in the schema of the real split it reads, so `rawmed evaluate` scores it like any generator.
#include <cstdint>
#include <filesystem>

namespace rawmed::eval {

// "independent": n stays; each copies the cohort row (age, gender, intime, outtime) and the
// per-table event counts of a random real train stay, and fills them with rows drawn uniformly and
// independently from all real train rows of the table, at uniform random minutes of the window.
// `stays` = 0: as many as the real cohort. Identifiers are new (1..n); dropped columns other than the link are left empty. Same seed, same output.
void write_independent_baseline(const std::filesystem::path& real_train, int64_t stays, uint64_t seed,
                                const std::filesystem::path& out);

}  // namespace rawmed::eval
