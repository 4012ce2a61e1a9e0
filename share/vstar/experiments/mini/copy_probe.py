#!/usr/bin/env python3
"""The copy probe: can the miniature's student learn to copy text out of its prompt at all?

A novel class can only be answered by copying its label out of the candidate list, a skill that
Qwen2.5-VL brings from pretraining and a randomly initialised student has to learn. This probe
isolates that skill in the simplest form there is: the user turn is "Repeat: W1 W2 W3" with three
made-up words (random syllables, new in every conversation) and the assistant turn is "W1 W2 W3".
A student that copies drives the loss on the assistant tokens towards 0; one that does not stays
near the entropy of the words' tokens (about 4.9 nats per token with the probe's 1024-symbol BPE).

  copy_probe.py corpus N SEED > corpus.jsonl      vs-sft records (stdlib only)
  copy_probe.py summary METRICS.jsonl [WINDOW]    mean loss per WINDOW steps of a vs-sft run

The Makefile's `copy-probe` target runs it through vs-init and vs-sft (README.md, "Novel classes").
"""
import json
import random
import sys

CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"


def word(rng):
    return "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(2, 3)))


def corpus(n, seed):
    rng = random.Random(seed)
    for i in range(n):
        words = " ".join(word(rng) for _ in range(3))
        print(json.dumps({"id": f"copy-{i}", "messages": [
            {"role": "system", "content": "Copy."},
            {"role": "user", "content": "Repeat: " + words},
            {"role": "assistant", "content": words}]}))


def summary(path, window):
    losses = []
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            if "loss" in m:
                losses.append((m["step"], m["loss"]))
    print("| steps | mean loss on the assistant tokens |")
    print("|---|---|")
    for i in range(0, len(losses), window):
        part = losses[i:i + window]
        print(f"| {part[0][0]}-{part[-1][0]} | {sum(x for _, x in part) / len(part):.2f} |")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "corpus":
        corpus(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "summary":
        summary(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 100)
    else:
        sys.exit(__doc__)
