#!/usr/bin/env python3
"""Reads the TensorBoard event files of a vs-sft run directory with the pinned `tensorboard` package
and prints {tag: [[step, value], ...]} for every scalar tag as JSON. Used by tests/train/test_vs_sft.cpp.
  ~/.local/share/vstar/venv/bin/python tools/golden/sft_events.py RUN_DIR
"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
    acc.Reload()
    print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))


if __name__ == "__main__":
    main()
