#pragma once
// `rawmed train --nproc N`: N ranks of one data-parallel run on this machine (common/distributed.h).
// Torch-free.

namespace rawmed {

// Runs this same command line (read from /proc/self/cmdline, with --nproc and its value left out)
// as N child processes with RANK=0..N-1, LOCAL_RANK=RANK, WORLD_SIZE=N, MASTER_ADDR=127.0.0.1 and
// a free MASTER_PORT, and waits for them. When one fails the others are killed (they would wait in
// a collective for ever); returns the first non-zero exit status, 0 when all succeed.
int spawn_ranks(int nproc);

// True when this process is a rank > 0 of a distributed run (RANK set and not 0).
bool is_secondary_rank();

// WORLD_SIZE from the environment (1 when unset or empty), without joining any group.
int world_size_from_environment();

}  // namespace rawmed
