#!/usr/bin/env python3
"""One summary per codec run, from WORK/codec/train.json: exact rates and token accuracy per
split, exact rate per table, number and spelled-text rates, codebook usage, and the validation
exact rate every 5 epochs. For comparing runs side by side (notes/issue-3.md).

usage: scripts/analysis/codec_runs.py WORK [WORK ...]
"""
import json
import sys


def summary(work):
    c = json.load(open(f"{work}/codec/train.json"))
    print(f"== {work}: {len(c['epochs'])} epochs, best {c['best_epoch']}, stopped by {c['stopped_by']}, "
          f"{c['train_seconds']:.0f} s, {c['events_per_second']:.0f} events/s, {c['steps']} steps")
    print(f"  exact train / valid / test {c['train_exact_event_rate']:.3f} / {c['valid_exact_event_rate']:.3f} / "
          f"{c['test_exact_event_rate']:.3f}; token accuracy train / valid {c['train_token_accuracy']:.3f} / "
          f"{c['valid_token_accuracy']:.3f}; numeric / categorical value exact {c['numeric_value_exact_rate']:.3f} / "
          f"{c['categorical_value_exact_rate']:.3f}")
    for name, split in c["splits"].items():
        tables = ", ".join(f"{t} {v['exact_event_rate']:.3f}" for t, v in split["exact_event_rate_by_table"].items())
        kinds = ", ".join(f"{k} {v:.3f}" for k, v in split["token_accuracy_by_kind"].items())
        print(f"  {name}: {tables}; spelled {split['spelled_exact_event_rate']:.3f}; token accuracy {kinds}")
    print(f"  codebook usage {c['codebook_usage']}, perplexity {[round(p) for p in c['codebook_perplexity']]}")
    print(f"  valid exact every 5 epochs: {[round(e['valid_exact_event_rate'], 3) for e in c['epochs'][4::5]]}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for work in sys.argv[1:]:
        summary(work)
