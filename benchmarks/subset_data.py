"""A built 3D data folder restricted to the objects of another build's split (no copies: links).

E.g. the 83 furniture test objects as rendered in random studios in the multi-source set:

    python benchmarks/subset_data.py --data data/objects --ids-from data/furniture --split test --out data/furniture_random
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the built folder the objects come from")
    ap.add_argument("--ids-from", required=True, help="a built folder whose split names the objects")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    src, out = Path(args.data).resolve(), Path(args.out)
    wanted = json.loads((Path(args.ids_from) / "split.json").read_text())[args.split]
    index = json.loads((src / "index.json").read_text())
    missing = [o for o in wanted if o not in index]
    if missing:
        raise SystemExit(f"{len(missing)} of the {len(wanted)} objects are not in {src} (e.g. {missing[0]}); "
                         f"build them first.")
    out.mkdir(parents=True, exist_ok=True)
    (out / "split.json").write_text(json.dumps({"train": [], "val": [], args.split: wanted}))
    (out / "index.json").write_text(json.dumps({o: index[o] for o in wanted}))
    if not (out / "objects").exists():
        os.symlink(src / "objects", out / "objects")
    print(f"{len(wanted)} objects of {src} in {out} ({args.split})")


if __name__ == "__main__":
    main()
