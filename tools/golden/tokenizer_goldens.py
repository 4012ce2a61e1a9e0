#!/usr/bin/env python3
"""Golden ids for lib/model/tokenizer: the REAL Qwen2.5-VL tokenizer files in ../shared/assets/qwen2.5-vl
(vocab.json + merges.txt + tokenizer_config.json), loaded by transformers (the fast tokenizer, i.e. HF
`tokenizers` with the Qwen2 converter) and cross-checked against the slow Qwen2Tokenizer, over a corpus of
tricky strings written here. Stores only the strings and ids, never the vocab.

Writes tests/fixtures/model/tokenizer/cases.json and manifest.json. Run with the project venv:
  ~/.local/share/vstar/venv/bin/python tools/golden/tokenizer_goldens.py [--assets DIR]
"""
import argparse
import hashlib
import json
import pathlib
import platform
import random
import sys

import tokenizers
import transformers
from transformers import AutoTokenizer, Qwen2Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "model" / "tokenizer"


def corpus():
    c = [
        "",
        "Hello world!",
        "Hello, world! How's it going?",
        "a b",
        "a  b",
        "a   b",
        "a    b   ",
        "   leading spaces",
        "trailing spaces   ",
        " ",
        "  ",
        "\t",
        "a\tb\t\tc",
        "line1\nline2\n\nline3\n",
        "crlf\r\nline\r\n\r\nend",
        "\r\r\n\n \n  \n\t\n",
        "mixed \t \n \r\n  x",
        "2024",
        "In 2024, 3.14159 and 1,000,000 people; 0x1F.",
        "١٢٣ ٤٥ Ⅻ ½ ² ³",
        "I'm you're we've they'll he'd it's don't",
        "I'M YOU'RE WE'VE THEY'LL HE'D IT'S DON'T",
        "'S 'T 'Re 'vE 'Ll 'D",
        "it\u017fs \u017f 'ſ '\u017f'",
        "'s's's ''s 's' '",
        "Ǆ'S Ǆ'ſ",
        "你好，世界！这是一个测试。",
        "日本語のテキストとカタカナ、ひらがな。",
        "한국어 텍스트입니다.",
        "Ελληνικά και русский текст, עברית, العربية",
        "emoji 😀😃😄 👍🏽 🇫🇷 🏳️‍🌈",
        "family 👨‍👩‍👧‍👦 and 🧑🏿‍💻 and ❤️‍🔥",
        "e\u0301",
        "caf\u00e9 vs cafe\u0301",
        "\u0041\u030a \u00c5 \u212b",
        "\u1e9b\u0323 \u0044\u0307\u0323",
        "한\u1100\u1161\u11a8",
        "<|im_start|>user\nhi<|im_end|>\n",
        "word<|endoftext|>word",
        "pre<|vision_start|><|image_pad|><|vision_end|>post",
        "<|im_start|><|im_start|>",
        "<|im_start",
        "<|im_end|x",
        "<tool_call>\n{\"name\": \"pose\", \"arguments\": {}}\n</tool_call>",
        "a<tool_call>b</tool_call>c",
        "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
        "<|repo_name|>x<|file_sep|>y",
        "<<|im_end|>>",
        "\u0000\u0001\u001f\u007f\u0080\u009f",
        "\ufeffBOM and \u200b zero \u200d width \u2060",
        "\u00a0nbsp\u00a0\u00a0two \u2003em \u3000ideo",
        "\u0085nel\u2028ls\u2029ps",
        "\ufffd replacement \uffff nonchar \ue000 private",
        "\U0001F600\U00010000\U0010FFFD",
        "\u0301 lone combining at start",
        "x\u0308\u0308\u0308 stacked",
        "$$$ ### !!! ??? ...",
        "foo.bar(baz)[0] = {\"k\": 'v'};",
        "    def f(x):\n        return x * 2\n",
        "https://example.com/path?q=1&r=two#frag",
        "MiXeD CaSe WoRdS",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        " " * 40 + "x",
        "\n" * 10,
        "person_detect pose_estimate action_explain",
        "The person is doing push-ups. <answer>push up</answer>",
    ]
    rng = random.Random(20240611)
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x3040, 0x30FF),
              (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFE00, 0xFE0F), (0x1F300, 0x1FAFF), (0x300, 0x36F)]
    for n in (50, 200, 1000, 3000):
        s = []
        for _ in range(n):
            r = rng.random()
            if r < 0.15:
                s.append(rng.choice([" ", " ", "  ", "\n", "\t", "\r\n", "'s", "'LL", "2"]))
            else:
                lo, hi = rng.choice(ranges)
                s.append(chr(rng.randint(lo, hi)))
        c.append("".join(s))
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets" / "qwen2.5-vl"))
    args = ap.parse_args()
    assets = pathlib.Path(args.assets)
    fast = AutoTokenizer.from_pretrained(str(assets), use_fast=True)
    slow = Qwen2Tokenizer.from_pretrained(str(assets))
    assert type(fast).__name__ == "Qwen2TokenizerFast", type(fast)

    enc = []
    for text in corpus():
        ids = fast.encode(text, add_special_tokens=False)
        ids_slow = slow.encode(text, add_special_tokens=False)
        enc.append({"text": text, "ids": ids, "slow_agrees": ids == ids_slow})
        if ids != ids_slow:
            print(f"note: slow and fast disagree on {text[:40]!r}", file=sys.stderr)

    dec_ids = [
        fast.encode("Hello <|im_start|>world<|im_end|>\n<tool_call>x</tool_call><|endoftext|>"),
        fast.encode("<|vision_start|><|image_pad|><|image_pad|><|vision_end|>describe"),
        fast.encode("你好 😀 e\u0301"),
        fast.encode("family 👨‍👩‍👧‍👦"),
        [151644, 872, 198, 151657, 151658, 151659, 151664, 151645, 151643],
    ]
    # Byte-level tokens that are incomplete UTF-8 on their own: the first and last bytes of "你" and of "😀".
    b2u = {b: c for b, c in zip(*_bytes_to_unicode())}
    vocab = fast.get_vocab()
    lone = [vocab[b2u[b]] for b in "你😀".encode("utf-8")]
    dec_ids += [lone[:1], lone[:2], lone[1:3], lone[3:], [lone[0], 40, lone[1]], lone[3:5] + [151645], lone]
    dec = []
    for ids in dec_ids:
        for skip in (False, True):
            dec.append({"ids": ids, "skip_special_tokens": skip,
                        "text": fast.decode(ids, skip_special_tokens=skip)})
    out = {"encode": enc, "decode": dec, "len": len(fast),
           "added": [{"id": i, "content": t.content, "special": t.special}
                     for i, t in sorted(fast.added_tokens_decoder.items())]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cases.json").write_text(json.dumps(out, ensure_ascii=True, indent=None) + "\n")

    def sha(p):
        return hashlib.sha256(p.read_bytes()).hexdigest()

    manifest = {
        "script": "tools/golden/tokenizer_goldens.py",
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "tokenizer_class": type(fast).__name__,
        "reference": "transformers AutoTokenizer (fast, converted from vocab.json+merges.txt); slow Qwen2Tokenizer cross-check in slow_agrees",
        "inputs_sha256": {n: sha(assets / n) for n in ("vocab.json", "merges.txt", "tokenizer_config.json")},
        "encode_cases": len(enc),
        "decode_cases": len(dec),
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(enc)} encode and {len(dec)} decode cases to {OUT}", file=sys.stderr)


def _bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


if __name__ == "__main__":
    main()
