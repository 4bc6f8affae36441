"""Wall time of a whole-image upscale: a 512x512 crop of a held-out photograph -> 2048x2048 (x4) or
4096x4096 (x8), per checkpoint, sampler steps and tile overlap; median of ``--repeats`` runs after a
warm-up, on the threads torch is given (the issue's budget: 2 CPU cores). Prints JSON.

    python benchmarks/sr_speed.py --checkpoints checkpoints/sr4x checkpoints/sr4x_real --steps 1 2 --overlap 4 8

With ``--peers waifu2x`` the waifu2x photo peer (``lddbm.tasks.superres.peers``) is timed on the same input.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from lddbm.pipeline import LDDBMPipeline  # noqa: E402
from lddbm.tasks.superres.upscale import checkpoint_back_projection, compute_dtype, pipeline_scale, upscale  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: first-call allocations and oneDNN kernel choice
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", nargs="+", default=["checkpoints/sr4x"])
    ap.add_argument("--image", default="data/photos/test/skimage-camera.png", help="the input's source (cropped to --size)")
    ap.add_argument("--size", type=int, default=512, help="input side, pixels")
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--overlap", type=int, nargs="+", default=[8], help="LR pixels shared by neighbouring tiles")
    ap.add_argument("--back-projection", type=int, nargs="+", default=[None], metavar="N",
                    help="iterations of back-projection onto the input (default: each checkpoint's own)")
    ap.add_argument("--precision", nargs="+", default=["auto"], help="auto, float32, bfloat16 (upscale's precision)")
    ap.add_argument("--second-pass", nargs="+", default=["none"], help="none, or a clean model's folder that upscales "
                    "the result again (upscale's second_pass)")
    ap.add_argument("--peers", default="", help="comma-separated: waifu2x, waifu2x-denoise2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the report here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    image = Image.open(args.image).convert("RGB")
    if min(image.size) < args.size:
        image = image.resize((args.size, args.size), Image.BICUBIC)
    image = image.crop((0, 0, args.size, args.size))
    rows = []
    second_passes = {name: None if name == "none" else LDDBMPipeline.load(name) for name in args.second_pass}  # loaded once
    for folder in args.checkpoints:
        pipe = LDDBMPipeline.load(folder)
        pipe.set_progress_bar_config(disable=True)
        for steps in args.steps:
            for overlap in args.overlap:
                for bp, precision, again in itertools.product(args.back_projection, args.precision, args.second_pass):
                    seconds = timed(lambda: upscale(pipe, image, steps=steps, overlap=overlap, sampler="dbim",
                                                    back_projection=bp, precision=precision,
                                                    second_pass=second_passes[again]), args.repeats)
                    used = checkpoint_back_projection(pipe) if bp is None else bp
                    rows.append({"method": folder, "scale": pipeline_scale(pipe), "sampler": "dbim", "steps": steps,
                                 "overlap": overlap, "back_projection": used, "precision": precision,
                                 "computed_in": str(compute_dtype(pipe, precision)).removeprefix("torch."),
                                 "second_pass": again,
                                 "seconds": round(seconds, 3)})
                    print(json.dumps(rows[-1]), flush=True)
    if args.peers:
        from lddbm.tasks.superres.peers import peers_by_name

        peers, skipped = peers_by_name(args.peers)
        for name, peer in peers.items():
            rows.append({"method": name, "scale": 4, "seconds": round(timed(lambda: peer(image, 4), args.repeats), 3)})
            print(json.dumps(rows[-1]), flush=True)
        rows += [{"method": name, "skipped": why} for name, why in skipped.items()]
    report = {"input": f"{args.size}x{args.size} crop of {args.image}", "threads": args.threads,
              "repeats": args.repeats, "rows": rows}
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
