#!/usr/bin/env python3
"""Writes share/vstar/datasets/: class names and base/novel/zero-shot memberships (facts only).

Reads the public class lists collected in ../shared/assets/classlists (mmaction2 label maps, ViFi-CLIP
label CSVs and splits, Video-STAR's rephrased class dicts, of which only the names before ':' are used;
the descriptions are not copied). Standard library only.

Per dataset folder:
  classes.txt   every class, dataset order (mmaction2), display name (the name the candidate list shows)
  folders.tsv   <dataset folder name> TAB <display name>, same order
  base.txt / novel.txt   base-to-novel halves in the order of the ViFi-CLIP/FROSTER lists (HMDB, UCF, K400, SSv2)
  zs_split{1,2,3}.txt    Kinetics-600 zero-shot 160-class splits (K600 classes absent from K400)

Usage: tools/gen_datasets.py [CLASSLISTS_DIR] [OUT_DIR]
"""
import csv
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "assets" / "classlists"
OUT = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "share" / "vstar" / "datasets"


def key(s):
    return re.sub(r"[^0-9a-z]", "", s.lower())


def lines(p):
    return [l.strip() for l in Path(p).read_text().splitlines() if l.strip()]


def csv_names(p):
    with open(p, newline="") as f:
        return [row["name"] for row in csv.DictReader(f)]


def dict_names(p):
    d = json.loads(Path(p).read_text())
    return [v.split(":")[0].strip() for v in d.values()]


def write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r + "\n" for r in rows))


def b2n(ds_out, folders, vifi_base, vifi_novel, vs_base, vs_novel):
    """Display names: Video-STAR's names aligned by index with the ViFi-CLIP base/novel CSVs."""
    base_v, novel_v = csv_names(vifi_base), csv_names(vifi_novel)
    base_s, novel_s = dict_names(vs_base), dict_names(vs_novel)
    assert len(base_v) == len(base_s) and len(novel_v) == len(novel_s), ds_out
    display = {}
    for v, s in list(zip(base_v, base_s)) + list(zip(novel_v, novel_s)):
        display[key(v)] = s
    rows, names = [], []
    for f in folders:
        k = key(f)
        if k not in display:
            raise SystemExit(f"{ds_out}: folder {f} has no display name")
        rows.append(f"{f}\t{display[k]}")
        names.append(display[k])
    assert len(set(names)) == len(names)
    write(OUT / ds_out / "classes.txt", names)
    write(OUT / ds_out / "folders.tsv", rows)
    write(OUT / ds_out / "base.txt", base_s)
    write(OUT / ds_out / "novel.txt", novel_s)
    assert set(base_s) | set(novel_s) == set(names) and not set(base_s) & set(novel_s)


def main():
    mm, vifi, vs = SRC / "mmaction2", SRC / "vifi_clip" / "labels", SRC / "video_star"
    b2n("hmdb51", lines(mm / "hmdb51_label_map.txt"), vifi / "hmdb_51_base_labels.csv",
        vifi / "hmdb_51_novel_labels.csv", vs / "json/hmdb51/train_rephrased.json",
        vs / "json/hmdb51/test_rephrased.json")
    b2n("ucf101", lines(mm / "ucf101_label_map.txt"), vifi / "ucf_101_base_labels.csv",
        vifi / "ucf_101_novel_labels.csv", vs / "json/ucf101/train_rephrased.json",
        vs / "json/ucf101/test_rephrased.json")
    b2n("kinetics400", lines(mm / "kinetics400_label_map.txt"), vifi / "kinetics_400_base_labels.csv",
        vifi / "kinetics_400_novel_labels.csv", vs / "json/kinetics400/train_rephrased.json",
        vs / "json/kinetics400/test_rephrased.json")
    b2n("ssv2", lines(mm / "sthv2_label_map.txt"), vifi / "ssv2_174_base_labels.csv",
        vifi / "ssv2_174_novel_labels.csv", vs / "json/SSv2/train_rephrased.json",
        vs / "json/SSv2/test_rephrased.json")
    # Kinetics-600: all 600 names as mmaction2 spells them; zero-shot splits with Video-STAR's display
    # names (aligned by index with ViFi-CLIP's ZS_splitN_K600.csv).
    k600 = lines(mm / "kinetics600_label_map.txt")
    k400 = {key(n) for n in lines(mm / "kinetics400_label_map.txt")}
    display = {}
    for i in (1, 2, 3):
        v = csv_names(vifi / f"ZS_split{i}_K600.csv")
        s = dict_names(vs / f"json_split/Kinetics-600-val/k600_split{i}_rephrased_classes.json")
        assert len(v) == len(s) == 160
        for a, b in zip(v, s):
            assert key(a) not in k400, a
            display.setdefault(key(a), b)
        write(OUT / "kinetics600" / f"zs_split{i}.txt", s)
    names = [display.get(key(n), n) for n in k600]
    write(OUT / "kinetics600" / "classes.txt", names)
    write(OUT / "kinetics600" / "folders.tsv", [f"{f}\t{d}" for f, d in zip(k600, names)])
    print("wrote", OUT)


if __name__ == "__main__":
    main()
