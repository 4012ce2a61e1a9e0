#!/usr/bin/env python3
"""Golden vectors for the official reward variant (the reward functions of the authors' oss_grpo_4subtol.py).

A re-statement, in our own code, of the reward the authors' GRPO script computes: accuracy with the
training extract/normalise rules, the ungated sub-motion term on the ground-truth candidate, the flat
tool term, the format fullmatch, and the +0.3 temporal / +0.2 length group bonuses. Python standard
library `re` only, so the regex semantics are Python's, which is what the C++ port must match.

The section titles the authors' regexes search for are part of their template text, which we do not
ship; the cases below use titles of our own (the logic does not depend on the words), and the C++
test passes the same titles. Completions are written by hand to cover: correct / wrong answers,
underscore labels, nested answer tags, missing sections, case and duplicate quirks, special characters
in labels, non-action problem types, and both group bonuses on and off.

Usage: tools/golden/reward_official.py [OUT_DIR]   (default tests/fixtures/reward)
"""
import json
import platform
import re
import sys
from pathlib import Path

TITLE1 = "Moving body parts"
TITLE3 = "Candidate check"
TOOL_TAGS = ["pose_estimation", "person_detection", "noun_explanation"]


# ---- the authors' logic, restated ----
def extract_answer(text):
    m = re.search(r"<answer>\s*<answer>(.*?)</answer>\s*</answer>", text, re.DOTALL)
    if m:
        return m.group(1).strip()
    m = re.search(r"<answer>\s*(.*?)\s*</answer>", text, re.DOTALL)
    if m:
        return m.group(1).strip()
    return ""


def normalize(s):
    return s.lower().replace(" ", "").replace("_", "").replace("\n", "")


def sub_motion(content, gt):
    s1 = re.search(r"\[1\]\s*" + re.escape(TITLE1) + r":\s*(.*?)(?=\[2\]|$)", content, re.DOTALL | re.IGNORECASE)
    if not s1:
        return 0.0, []
    parts = []
    for name in re.findall(r"-\s*([A-Za-z][A-Za-z ]*?):", s1.group(1)):
        if name not in parts:
            parts.append(name)
    if not parts:
        return 0.0, []
    s3 = re.search(r"\[3\]\s*" + re.escape(TITLE3) + r":\s*(.*?)(?=\[4\]|$)", content, re.DOTALL | re.IGNORECASE)
    if not s3:
        return 0.0, parts
    m = re.search(r"-\s*" + re.escape(gt) + r"\s*:\s*(.*?)(?=(?:\s+-\s*[A-Za-z][A-Za-z ]*:\s)|$)", s3.group(1),
                  re.IGNORECASE | re.DOTALL)
    if not m:
        return 0.0, parts
    desc = m.group(1).strip().lower()
    n = len(parts)
    total = n * (n + 1) / 2
    score = 0.0
    for k, p in enumerate(parts, start=1):
        if p.lower() in desc:
            score += (n - k + 1) / total
    return score, parts


def accuracy_column(content, solution, turn1, problem_type):
    if problem_type != "action-detection":
        return 0.0, 0.0, 0.0, []
    gt = extract_answer(solution)
    pred = extract_answer(content)
    base = 1.0 if normalize(gt) == normalize(pred) else 0.0
    sub, parts = sub_motion(content, gt)
    tool = 0.0
    if base > 0 and any(re.search(rf"<{t}>\s*yes\s*</{t}>", turn1, re.IGNORECASE) for t in TOOL_TAGS):
        tool = 1.0
    return base, sub, tool, parts


def fmt(content):
    return 1.0 if re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", content, re.DOTALL) else 0.0


def group(case):
    rows = []
    for c in case["completions"]:
        acc, sub, tool, parts = accuracy_column(c["text"], case["solution"], case["turn1"], case["problem_type"])
        rows.append(dict(acc=acc, sub=sub, tool=tool, format=fmt(c["text"]), answer=extract_answer(c["text"]),
                         sub_motions=parts))
    shuffled = []
    for c in case.get("shuffled", []):
        acc, sub, tool, _ = accuracy_column(c["text"], case["solution"], case["turn1"], case["problem_type"])
        shuffled.append(acc + sub + tool)
    col0 = [r["acc"] + r["sub"] + r["tool"] for r in rows]
    temporal = False
    if case["temporal"] and shuffled:
        temporal = sum(col0) / len(col0) >= 0.8 * (sum(shuffled) / len(shuffled))
    passing = [i for i, v in enumerate(col0) if v > 0.1]
    length_on = case["len_control"] and len(passing) > 1
    for i, r in enumerate(rows):
        r["temporal"] = 0.3 if temporal and col0[i] > 0.1 else 0.0
        t = case["completions"][i].get("tokens", -1)
        r["length"] = 0.2 if length_on and i in passing and 320 <= t <= 512 else 0.0
        r["total"] = col0[i] + r["temporal"] + r["format"] + r["length"]
    return dict(temporal_applied=temporal, length_applied=length_on, rewards=rows)


# ---- hand-written completions ----
def think(parts, candidates, comparison, extra=""):
    s = "<think>step by step:\n[1] " + TITLE1 + ":\n"
    s += "".join(f"   - {p}\n" for p in parts)
    s += "[2] Matching candidate actions:\n" + "".join(f"   - {c}: matches\n" for c in candidates)
    s += "[3] " + TITLE3 + ":\n" + "".join(f"   - {c}: {d}\n" for c, d in comparison)
    return s + extra + "</think>\n"


T_YES = "<think>x</think>\n<pose_estimation>yes</pose_estimation>\n<person_detection>no</person_detection>\n<noun_explanation>no</noun_explanation>"
T_NO = "<think>x</think>\n<pose_estimation>no</pose_estimation>\n<person_detection> No </person_detection>\n<noun_explanation>no</noun_explanation>"
T_UPPER = "<POSE_ESTIMATION> YES </POSE_ESTIMATION>"

POUR = think(["Right hand: tilts a bottle", "Wrist: rotates downward", "Torso: still"],
             ["Pour", "Drink"],
             [("Pour", "8 - right hand tilts, wrist rotates over a glass"), ("Drink", "3 - no mouth contact")])
POUR_WRONG = POUR.replace("<answer>", "")
CASES = [
    dict(name="correct_and_wrong", solution="<answer>Pour</answer>", turn1=T_YES, problem_type="action-detection",
         temporal=True, len_control=True,
         completions=[
             dict(text=POUR + "<answer>Pour</answer>", tokens=400),
             dict(text=POUR + "<answer>Drink</answer>", tokens=350),  # wrong but GT compared: sub > 0
             dict(text=POUR + "<answer> pour </answer>", tokens=600),
             dict(text="I think it is pouring. <answer>Pour</answer>", tokens=330),  # format fails
         ],
         shuffled=[dict(text=POUR + "<answer>Drink</answer>"), dict(text=POUR + "<answer>Pour</answer>")]),
    dict(name="underscore_label", solution="<answer>ride_bike</answer>", turn1=T_YES,
         problem_type="action-detection", temporal=True, len_control=True,
         completions=[
             dict(text=think(["Legs: pedal in circles", "Hands: hold handlebars"], ["Ride bike", "Ride horse"],
                             [("Ride bike", "9 - legs pedal, hands on handlebars"), ("Ride horse", "2 - no animal")])
                  + "<answer>Ride bike</answer>", tokens=420),
             dict(text=think(["Legs: pedal in circles"], ["ride_bike"], [("ride_bike", "legs pedal")])
                  + "<answer>ride_bike</answer>", tokens=480),
             dict(text=think(["Legs: swing"], ["Ride horse"], [("Ride horse", "legs swing")])
                  + "<answer>Ride horse</answer>", tokens=400),
         ],
         shuffled=[dict(text="<answer>Ride bike</answer>"), dict(text="<answer>Ride bike</answer>")]),
    dict(name="nested_and_missing", solution="<answer><answer>Kick ball</answer></answer>", turn1=T_NO,
         problem_type="action-detection", temporal=False, len_control=True,
         completions=[
             dict(text=think(["Right leg: swings", "Foot: strikes ball"], ["Kick ball"],
                             [("Kick ball", "leg swings, foot strikes the ball")])
                  + "<answer><answer>Kick ball</answer></answer>", tokens=321),
             dict(text="<think>[1] " + TITLE1 + ":\n - Leg: swings\n[2] Matching:\n - Kick ball: yes\n</think>"
                       "<answer>Kick ball</answer>", tokens=512),  # no section [3]
             dict(text="<think>no sections at all</think><answer>Kick</answer>", tokens=100),
             dict(text="<answer>Kick ball</answer>", tokens=319),  # no think: format 0
             dict(text="", tokens=1),
         ]),
    dict(name="case_and_duplicates", solution="<answer>Pull Ups</answer>", turn1=T_UPPER,
         problem_type="action-detection", temporal=True, len_control=False,
         completions=[
             dict(text="<think>[1] " + TITLE1.upper() + ":\n- Arms: pull up\n- Arms: again\n- arms: lower case\n"
                       "- Chin: over bar\n[2] c\n[3] " + TITLE3.lower() + ":\n- pull ups : arms and chin rise - "
                       "score 9\n- Push Ups: 1\n</think>\n<answer>PULL UPS</answer>", tokens=400),
             dict(text="<think>[1] " + TITLE1 + ": - Arms: bend - Back: arches [2] x [3] " + TITLE3 +
                       ": - Pull Ups: back arches - Rope climbing: arms bend</think><answer>Rope climbing</answer>",
                  tokens=400),
         ],
         shuffled=[dict(text="<answer>Pull Ups</answer>")]),
    dict(name="special_characters", solution="<answer>Push-ups (knees)</answer>", turn1=T_YES,
         problem_type="action-detection", temporal=True, len_control=True,
         completions=[
             dict(text=think(["Arms: bend and push", "Knees: on the floor"], ["Push-ups (knees)"],
                             [("Push-ups (knees)", "arms bend and push, knees on the floor")])
                  + "<answer>Push-ups (knees)</answer>", tokens=350),
             dict(text=think(["Arms: bend and push"], ["Push-ups (knees)"],
                             [("Push-ups (knees)", "arms bend and push")]) + "<answer>push-ups(knees)</answer>",
                  tokens=360),
         ],
         shuffled=[dict(text="<answer>Push-ups (knees)</answer>"), dict(text="<answer>Push-ups (knees)</answer>"),
                   dict(text="<answer>Push-ups (knees)</answer>")]),
    dict(name="other_problem_type", solution="<answer>Pour</answer>", turn1=T_YES, problem_type="classification",
         temporal=True, len_control=True,
         completions=[dict(text=POUR + "<answer>Pour</answer>", tokens=400),
                      dict(text=POUR + "<answer>Pour</answer>", tokens=400)]),
]


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests/fixtures/reward"
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for c in CASES:
        cases.append(dict(c, expected=group(c)))
    (out / "official_cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    manifest = dict(script="tools/golden/reward_official.py", python=platform.python_version(),
                    libraries="standard library only (re, json)", section1_title=TITLE1, section3_title=TITLE3,
                    tool_tags=TOOL_TAGS, cases=len(cases),
                    completions=sum(len(c["completions"]) for c in cases))
    (out / "official_cases.manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print("wrote", out, manifest["completions"], "completions")


if __name__ == "__main__":
    main()
