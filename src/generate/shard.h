#pragma once
// Sharded generation (docs/formats/generate.md "Sharded generation"): the N stays to write are
// cut into fixed-size blocks of output slots, per condition, and every block is generated from
// seeds derived from (run seed, block index, round) only. A shard takes a contiguous range of
// blocks, so the stays written, their order and their ids do not depend on how many shards
// there are: the parts of `generate --shard i/n` merged in order equal an unsharded run.
// Torch-free.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rawmed::generate {

// One block of output slots: slots [first_slot, first_slot + size) of the whole run, all of one
// condition. `index` is the block's position in the run (0, 1, ...).
struct StayBlock {
  int64_t index = 0;
  size_t condition = 0;
  int64_t first_slot = 0;
  int64_t size = 0;
};

// Blocks of at most `block_stays` slots, condition after condition (counts[c] slots each).
std::vector<StayBlock> plan_blocks(const std::vector<int64_t>& counts, int64_t block_stays);

struct ShardSpec {
  int index = 0;  // 0-based
  int count = 1;
};

// "i/n" (0 <= i < n) -> the shard; errors name the flag.
ShardSpec parse_shard(const std::string& text);

// Blocks [first, last) of `total` that shard `shard` generates: floor(i * total / n) ..
// floor((i + 1) * total / n), so the shards are contiguous, disjoint and cover every block.
std::pair<size_t, size_t> shard_block_range(size_t total, const ShardSpec& shard);

// The sampler seed of one round of one block, and the seed of the cohort-row draw of one output
// slot: functions of the run seed and the block / slot only (splitmix64 mixing).
uint64_t block_round_seed(uint64_t run_seed, int64_t block, int64_t round);
uint64_t slot_seed(uint64_t run_seed, int64_t slot);

}  // namespace rawmed::generate
