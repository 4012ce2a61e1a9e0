#!/usr/bin/env python3
"""Golden hashes of the authors' turn-1/turn-2 prompts (their 4subtol.py evaluation, acot.py teacher and SFT/GRPO scripts).

Renders prompts the way the authors' scripts fill their templates: candidate lines from the class dict
in key order, the full "Name: description" value when noun_explanation is yes, else
value.split(':')[0].strip(), joined by "\n" (the template's own '.' follows), the annotated-path text
os.path.join(<annotated root>, record["path"]), the teacher's {original_answer} = the raw solution.
The template text is read from ../shared/reference/official/templates and never stored: the fixture
keeps only SHA-256 and length of each rendered prompt, which the C++ test recomputes.
Standard library only.

Usage: tools/golden/prompts_official.py [SHARED_DIR] [OUT_DIR]
"""
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared"
OUT = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests/fixtures/recog"
REF = SHARED / "reference/official"

# (profile, template stage, annotated root used by that stage)
STAGES = [("official", "eval", "/data/annotated/hmdb51_pose"), ("official", "eval", ""),
          ("official-grpo", "grpo", "hmdb51_pose"), ("official-sft", "sft", "hmdb51_pose"),
          ("official-teacher", "teacher", ""),
          # four-tool variant with video_explanation = no: the placeholder expands to ""
          ("official-grpo-4tool", "grpo-4tool", "hmdb51_pose")]
SOURCES = [("data/json/hmdb51/val.json", "data/json/hmdb51/train_rephrased.json", [0, 400]),
           ("data/json/hmdb51/test.json", "data/json/hmdb51/test_rephrased.json", [5]),
           ("data/json/ucf101/val.json", "data/json/ucf101/train_rephrased.json", [0]),
           ("data/json/SSv2/test.json", "data/json/SSv2/test_rephrased.json", [3]),
           ("data/json_split/Kinetics-600-val/k600_split_2.json",
            "data/json_split/Kinetics-600-val/k600_split2_rephrased_classes.json", [7])]


def candidates(classes, explained):
    lines = list(classes.values())
    if not explained:
        lines = [v.split(":")[0].strip() for v in lines]
    return "\n".join(lines)


def main():
    cases = []
    for profile, stage, root in STAGES:
        t1 = (REF / "templates" / f"{stage}.turn1.txt").read_text()
        t2 = (REF / "templates" / f"{stage}.turn2.txt").read_text()
        cases.append(dict(profile=profile, turn=1, sha256=hashlib.sha256(t1.encode()).hexdigest(),
                          length=len(t1)))
        for qfile, cfile, idxs in SOURCES:
            records = json.loads((REF / qfile).read_text())
            classes = json.loads((REF / cfile).read_text())  # dicts keep key order
            for i in idxs:
                rec = records[i]
                for explained in (False, True):
                    text = t2.replace("{ANNOTATED_VIDEO_PATH}", os.path.join(root, rec["path"]))
                    text = text.replace("{original_answer}", rec["solution"])
                    text = text.replace("{VIDEO_EXPLANATION_TEXT}", "")
                    text = text.replace("{ALLOWED_ANSWERS}", candidates(classes, explained))
                    cases.append(dict(profile=profile, turn=2, questions=qfile, classes=cfile, index=i,
                                      explain=explained, annotated_root=root,
                                      sha256=hashlib.sha256(text.encode()).hexdigest(), length=len(text.encode())))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "official_prompts.json").write_text(json.dumps(cases, indent=1) + "\n")
    manifest = dict(script="tools/golden/prompts_official.py", python=platform.python_version(),
                    libraries="standard library only", reference="../shared/reference/official (commit "
                    "64c895713546fe34885b4d504d6b246cafa05ef7 of the authors' repository)", cases=len(cases))
    (OUT / "official_prompts.manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print("wrote", len(cases), "cases")


if __name__ == "__main__":
    main()
