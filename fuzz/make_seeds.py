#!/usr/bin/env python3
"""Writes the fuzz seed corpus (fuzz/corpus/<target>/) from the bundled data and configs.

Usage: fuzz/make_seeds.py DATASET_DIR   (a WORK/dataset folder made by `rawmed prepare` from
configs/mimic-iv-demo.toml). Seeds are kept small (the corpus stays well under 1 MB): the first
lines of each bundled table, truncated and mutated variants, the bundled configs, two small codes
files and a two-stay cut of the dataset.
"""
import gzip, json, os, random, struct, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"
SEP = b"\n--RAWMED-FILE--\n"
FILES = ["manifest.json", "vocab.json", "columns.json", "stays.csv", "tokens.bin", "types.bin", "dpe.bin",
         "event_offsets.bin", "event_minutes.bin", "event_tables.bin", "stay_offsets.bin", "stay_splits.bin"]
rng = random.Random(23)


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def csv_seeds():
    for path in sorted((ROOT / "data").rglob("*.csv.gz")):
        with gzip.open(path, "rb") as f:
            head = b"".join(f.readline() for _ in range(6))
        stem = path.name.split(".")[0]
        put("csv", f"{stem}-plain", b"\x00\x00" + head)
        put("csv", f"{stem}-gz", b"\x01\x00" + head)
        put("csv", f"{stem}-gz-cut", bytes([0x03, rng.randrange(2, 20)]) + head)
        put("csv", f"{stem}-skip-chunk7", b"\x0c\x00" + head[: len(head) * 2 // 3])
        mutated = bytearray(head)
        for _ in range(4):
            mutated[rng.randrange(len(mutated))] = rng.choice(b'",\r\n\xff\xc3\x80a0')
        put("csv", f"{stem}-mutated", b"\x04\x00" + bytes(mutated))


def config_seeds():
    for path in sorted((ROOT / "configs").glob("*.toml")):
        put("config", path.stem, path.read_bytes())
    put("config", "small", b"""[dataset]
name = "small"
root = "data"
time_kind = "minutes"
[cohort]
stays = "stays.csv"
stay_id = "stay_id"
patient_id = "patient_id"
age = "age"
gender = "gender"
[[tables]]
name = "events"
file = "events.csv"
stay_id = "stay_id"
time = "t"
columns = ["drug", "dose"]
types = { dose = "numeric" }
""")


def codes_seeds():
    def codes(events, positions, depth, size):
        values = [rng.randrange(size) for _ in range(events * positions * depth)]
        return b"RMCODES1" + struct.pack("<QIIII", events, positions, depth, size, 0) + struct.pack(
            f"<{len(values)}H", *values)
    put("codes", "three-events", codes(3, 4, 2, 256))
    put("codes", "empty", codes(0, 4, 2, 256))
    put("codes", "one-code", codes(1, 1, 1, 1))


def dataset_seed(src):
    m = json.loads((src / "manifest.json").read_text())
    arr = {}
    for name, e in m["arrays"].items():
        fmt = {"u8": "B", "u16": "H", "u64": "Q", "i32": "i"}[e["dtype"]]
        raw = (src / name).read_bytes()
        arr[name] = (fmt, list(struct.unpack(f"<{e['count']}{fmt}", raw)))
    stays = 2
    n_events = arr["stay_offsets.bin"][1][stays]
    n_tokens = arr["event_offsets.bin"][1][n_events]
    keep = {"stay_offsets.bin": stays + 1, "stay_splits.bin": stays, "event_offsets.bin": n_events + 1,
            "event_minutes.bin": n_events, "event_tables.bin": n_events, "tokens.bin": n_tokens,
            "types.bin": n_tokens, "dpe.bin": n_tokens}
    # Keep only the vocabulary entries the two stays use (renumbered), to keep the seed small.
    vocab = json.loads((src / "vocab.json").read_text())
    used = sorted({t for t in arr["tokens.bin"][1][:n_tokens] if t >= 258})
    remap = {t: 258 + i for i, t in enumerate(used)}
    tokens = [remap.get(t, t) for t in arr["tokens.bin"][1][:n_tokens]]
    vocab["tokens"] = vocab["tokens"][:258] + [vocab["tokens"][t] for t in used]
    parts = {}
    for name, n in keep.items():
        fmt, values = arr[name]
        values = tokens if name == "tokens.bin" else values[:n]
        parts[name] = struct.pack(f"<{n}{fmt}", *values)
        m["arrays"][name]["count"] = n
    m["stays"], m["events"], m["tokens"], m["vocab_size"] = stays, n_events, n_tokens, len(vocab["tokens"])
    parts["manifest.json"] = json.dumps(m, separators=(",", ":")).encode()
    parts["vocab.json"] = json.dumps(vocab, separators=(",", ":")).encode()
    parts["columns.json"] = b'{"tables":[]}'
    lines = (src / "stays.csv").read_bytes().split(b"\n")
    parts["stays.csv"] = b"\n".join(lines[: stays + 1]) + b"\n"
    whole = SEP.join(parts[f] for f in FILES)
    put("dataset", "two-stays", whole)
    put("dataset", "two-stays-cut", whole[: len(whole) // 2])
    put("dataset", "no-arrays", SEP.join(parts[f] for f in FILES[:4]))


def main():
    csv_seeds()
    config_seeds()
    codes_seeds()
    if len(sys.argv) > 1:
        dataset_seed(Path(sys.argv[1]))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"make_seeds: {sum(1 for p in OUT.rglob('*') if p.is_file())} seeds, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
