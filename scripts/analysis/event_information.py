#!/usr/bin/env python3
"""How much information the codec must carry per event, by table, for a prepared dataset.

For each table: events per split, the share of validation events that also occur verbatim in the
train split, the digits per unseen validation event, and the bits per validation event that xz
needs given the whole train split (size of xz(train + valid events) - size of xz(train), per event).
xz is an upper bound on the information, but digits of measured values are close to incompressible.
Compare with the codec's budget of P x D x log2(K) bits (80 for P 4, D 2, K 1024).

usage: scripts/analysis/event_information.py WORK/dataset
"""
import json
import lzma
import sys
from collections import Counter

from dataset_files import event_splits, read


def main(folder):
    vocab = json.load(open(f"{folder}/vocab.json"))["tokens"]
    tokens, dpe = read(folder, "tokens.bin", "H"), read(folder, "dpe.bin", "B")
    offsets, tables = read(folder, "event_offsets.bin", "Q"), read(folder, "event_tables.bin", "B")
    names = [t["name"] for t in json.load(open(f"{folder}/columns.json"))["tables"]]

    split = event_splits(folder)
    events = [tuple(tokens[offsets[i]:offsets[i + 1]]) for i in range(len(offsets) - 1)]
    text = lambda e: " ".join(chr(vocab[t]["byte"]) if vocab[t]["kind"] == "byte" else vocab[t]["text"] for t in e)
    train = {e for e, sp in zip(events, split) if sp == 0}
    train_text = "\n".join(text(e) for e, sp in zip(events, split) if sp == 0).encode()
    base = len(lzma.compress(train_text, preset=9 | lzma.PRESET_EXTREME))

    counts = Counter((tables[i], split[i]) for i in range(len(events)))
    print(f"{'table':<16} {'train':>6} {'valid':>6} {'valid seen in train':>20} {'digits/unseen (median)':>23} {'xz bits/valid event':>20}")
    for t in sorted({tables[i] for i in range(len(events))}):
        valid = [i for i in range(len(events)) if split[i] == 1 and tables[i] == t]
        if not valid:
            continue
        unseen = [i for i in valid if events[i] not in train]
        digits = sorted(sum(1 for k in range(offsets[i], offsets[i + 1]) if dpe[k] >= 2) for i in unseen) or [0]
        both = len(lzma.compress(train_text + b"\n" + "\n".join(text(events[i]) for i in valid).encode(),
                                 preset=9 | lzma.PRESET_EXTREME))
        print(f"{names[t]:<16} {counts[(t, 0)]:>6} {len(valid):>6} {1 - len(unseen) / len(valid):>20.3f} "
              f"{digits[len(digits) // 2]:>23} {(both - base) * 8 / len(valid):>20.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
