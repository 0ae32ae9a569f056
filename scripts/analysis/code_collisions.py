#!/usr/bin/env python3
"""Do the codec's codes tell events apart? Per split: distinct events, distinct code tuples, the
events whose code tuple is shared with a different event, and the exact-event rate a perfect
decoder would reach from these codes (each code tuple decoded to its most frequent event).
Compare the last figure with train.json's exact rates: far above them means the decoder limits,
close to them means the codes do.

usage: scripts/analysis/code_collisions.py WORK [CODES]   (CODES defaults to WORK/codec/codes.bin)
"""
import sys
from collections import Counter, defaultdict

from dataset_files import event_splits, read, read_codes


def main(work, codes_path):
    folder = f"{work}/dataset"
    tokens, offsets = read(folder, "tokens.bin", "H"), read(folder, "event_offsets.bin", "Q")
    codes, positions, depth, size = read_codes(codes_path)
    if len(codes) != len(offsets) - 1:
        sys.exit(f"{codes_path}: {len(codes)} events, the dataset has {len(offsets) - 1}")
    split = event_splits(folder)
    print(f"codes: P {positions} x D {depth}, K {size}")
    print(f"{'split':<6} {'events':>7} {'distinct events':>16} {'distinct codes':>15} "
          f"{'events in a shared code':>24} {'perfect-decoder exact':>22}")
    for s, name in enumerate(["train", "valid", "test"]):
        events_of_code = defaultdict(Counter)
        count = 0
        for i, sp in enumerate(split):
            if sp == s:
                events_of_code[codes[i]][tuple(tokens[offsets[i]:offsets[i + 1]])] += 1
                count += 1
        if not count:
            continue
        distinct = len({e for c in events_of_code.values() for e in c})
        shared = sum(sum(c.values()) for c in events_of_code.values() if len(c) > 1)
        best = sum(max(c.values()) for c in events_of_code.values())
        print(f"{name:<6} {count:>7} {distinct:>16} {len(events_of_code):>15} {shared:>24} {best / count:>22.3f}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else f"{sys.argv[1]}/codec/codes.bin")
