"""Readers for the prepared dataset's binary files (docs/file-formats.md), shared by the analysis scripts."""
import array
import struct


def read(folder, name, code):
    """The whole of `folder/name` as an array of `code` (array module type code)."""
    values = array.array(code)
    with open(f"{folder}/{name}", "rb") as f:
        values.frombytes(f.read())
    return values


def event_splits(folder):
    """Split of every event (0 train, 1 valid, 2 test), from its stay."""
    stay_offsets, stay_splits = read(folder, "stay_offsets.bin", "Q"), read(folder, "stay_splits.bin", "B")
    split = [0] * stay_offsets[-1]
    for s, sp in enumerate(stay_splits):
        for e in range(stay_offsets[s], stay_offsets[s + 1]):
            split[e] = sp
    return split


def read_codes(path):
    """codes.bin -> (list of per-event code tuples, P, D, K)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"RMCODES1":
        raise SystemExit(f"{path}: not a codes file (magic {raw[:8]!r})")
    events, = struct.unpack("<Q", raw[8:16])
    positions, depth, size, _ = struct.unpack("<4I", raw[16:32])
    codes = array.array("H")
    codes.frombytes(raw[32:])
    width = positions * depth
    return [tuple(codes[i * width:(i + 1) * width]) for i in range(events)], positions, depth, size
