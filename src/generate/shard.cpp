#include "generate/shard.h"

#include "common/error.h"

#include <charconv>

namespace rawmed::generate {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Distinct streams for the two kinds of seed, so a block seed never equals a slot seed by design.
constexpr uint64_t kBlockStream = 0x5348415244424c4bULL;  // "SHARDBLK"
constexpr uint64_t kSlotStream = 0x5348415244534c54ULL;   // "SHARDSLT"

bool parse_int(std::string_view text, int* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::vector<StayBlock> plan_blocks(const std::vector<int64_t>& counts, int64_t block_stays) {
  if (block_stays <= 0) fail("[generate] block_stays must be positive (got {})", block_stays);
  std::vector<StayBlock> blocks;
  int64_t slot = 0;
  for (size_t c = 0; c < counts.size(); ++c)
    for (int64_t done = 0; done < counts[c]; done += block_stays) {
      StayBlock b;
      b.index = static_cast<int64_t>(blocks.size());
      b.condition = c;
      b.first_slot = slot;
      b.size = std::min(block_stays, counts[c] - done);
      slot += b.size;
      blocks.push_back(b);
    }
  return blocks;
}

ShardSpec parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  ShardSpec s;
  if (slash == std::string::npos || !parse_int(std::string_view(text).substr(0, slash), &s.index) ||
      !parse_int(std::string_view(text).substr(slash + 1), &s.count) || s.count < 1 || s.index < 0 ||
      s.index >= s.count)
    fail("generate: --shard '{}': expected I/N with 0 <= I < N (e.g. 0/4 .. 3/4)", text);
  return s;
}

std::pair<size_t, size_t> shard_block_range(size_t total, const ShardSpec& shard) {
  const auto n = static_cast<size_t>(shard.count), i = static_cast<size_t>(shard.index);
  return {i * total / n, (i + 1) * total / n};
}

uint64_t block_round_seed(uint64_t run_seed, int64_t block, int64_t round) {
  return splitmix64(splitmix64(run_seed ^ kBlockStream) ^ splitmix64(static_cast<uint64_t>(block) * 0x100000001ULL +
                                                                      static_cast<uint64_t>(round)));
}

uint64_t slot_seed(uint64_t run_seed, int64_t slot) {
  return splitmix64(splitmix64(run_seed ^ kSlotStream) ^ splitmix64(static_cast<uint64_t>(slot)));
}

}  // namespace rawmed::generate
