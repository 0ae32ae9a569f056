#!/usr/bin/env python3
"""Which values of a table are new outside training: for each column of TABLE, the share of the
validation events that have a value in it, and the share of those values that never occur in that
column in the train split. New values (per-stay weights, precise amounts) are what the codec's
code must carry for an unseen event, and what it cannot have memorised.

usage: scripts/analysis/unseen_values.py WORK/dataset TABLE
"""
import json
import sys
from collections import defaultdict

from dataset_files import event_splits, read

COLUMN, VALUE = 2, 3  # token types (docs/file-formats.md)


def pairs(tokens, types, begin, end, text):
    """(column, value) pairs of one event, values spelled back from their tokens."""
    out = []
    for j in range(begin + 1, end):  # token 0 is the table
        if types[j] == COLUMN:
            out.append([text(tokens[j]), ""])
        elif types[j] == VALUE:
            out[-1][1] += text(tokens[j])
    return out


def main(folder, table):
    vocab = json.load(open(f"{folder}/vocab.json"))["tokens"]
    tokens, types = read(folder, "tokens.bin", "H"), read(folder, "types.bin", "B")
    offsets, tables = read(folder, "event_offsets.bin", "Q"), read(folder, "event_tables.bin", "B")
    names = [t["name"] for t in json.load(open(f"{folder}/columns.json"))["tables"]]
    if table not in names:
        sys.exit(f"{folder}: no table {table!r} (tables: {', '.join(names)})")
    text = lambda t: chr(vocab[t]["byte"]) if vocab[t]["kind"] == "byte" else vocab[t]["text"]
    split = event_splits(folder)
    seen, valid = defaultdict(set), defaultdict(list)
    events = 0
    for i in range(len(offsets) - 1):
        if names[tables[i]] != table or split[i] == 2:
            continue
        events += split[i] == 1
        for column, value in pairs(tokens, types, offsets[i], offsets[i + 1], text):
            (seen[column].add if split[i] == 0 else valid[column].append)(value)
    print(f"{table}: {events} validation events")
    print(f"{'column':<32} {'present':>8} {'new (not in train)':>19}")
    for column, values in valid.items():
        new = sum(v not in seen[column] for v in values) / len(values)
        print(f"{column:<32} {len(values) / events:8.2f} {new:19.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
