"""How coherence grows with the candidates a digits checkpoint ranks (LDDBMPipeline's ``num_candidates``):
draws K_max bridge samples per source image of a split once, then for every K keeps the best-aligned of the
first K (what ``num_candidates=K`` returns for the same draws) and asks our classifier for its reading. The
single-draw figure is the mean over all K_max draws. How the default of checkpoints/digits/h2p was chosen
(on the validation split).

    python benchmarks/digits_candidates.py checkpoints/digits/h2p --split val --json results/digits_h2p_candidates_val.json
"""

import argparse
import json
from pathlib import Path

import torch

from lddbm.tasks.digits.judges import cross_coherence, load_images, load_judge
from lddbm.pipeline import LDDBMPipeline
from lddbm.presets import load_preset

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--split", default="val", choices=["train", "val", "test"])
    ap.add_argument("--data", help="the digits data folder (default: the checkpoint's preset's)")
    ap.add_argument("--classifiers", default=str(ROOT / "checkpoints" / "digits" / "classifiers"))
    ap.add_argument("--candidates", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64, help="source images per pipeline call")
    ap.add_argument("--json")
    args = ap.parse_args()
    preset = load_preset(Path(args.checkpoint) / "preset.json")
    source, target = preset.data.direction.split("_to_")
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    if pipe.target_encoder is None:
        raise SystemExit(f"{args.checkpoint} has no target_encoder in its model_index.json: nothing ranks candidates.")
    judge = load_judge(Path(args.classifiers) / target)
    if judge is None:
        raise SystemExit(f"No classifier in {args.classifiers}/{target}: run python -m lddbm digits-classifiers.")
    x, y = load_images(args.data or preset.data.root, source, args.split)
    k_max = max(args.candidates)
    generator = torch.Generator().manual_seed(args.seed)
    kept = {k: [] for k in args.candidates}
    single = []
    for i in range(0, len(x), args.batch):
        batch = x[i : i + args.batch]
        out = pipe(batch, num_samples=k_max, num_candidates=1, generator=generator)  # (B * k_max, ...) source-major
        sources = pipe.encode_source(batch).repeat_interleave(k_max, dim=0)
        view = lambda t: t.view(len(batch), k_max, *t.shape[1:])  # noqa: E731
        latents, decoded, sources = view(out.latents), view(out.outputs), view(sources)
        single.append(decoded)
        for k in args.candidates:
            flat = lambda t: t[:, :k].flatten(0, 1)  # noqa: E731
            kept[k].append(pipe.best_candidates(flat(latents), flat(decoded), flat(sources), k)[1])
    report = {"checkpoint": args.checkpoint, "split": args.split, "images": len(x), "seed": args.seed,
              "nfe_per_candidate": out.nfe, "classifier": str(Path(args.classifiers) / target),
              "single_draw_mean": sum(cross_coherence(judge[0], d, y) for d in torch.cat(single).unbind(1)) / k_max,
              "cross_coherence": {str(k): cross_coherence(judge[0], torch.cat(v), y) for k, v in kept.items()}}
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
