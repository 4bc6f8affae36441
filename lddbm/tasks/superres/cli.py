"""The super-resolution task's commands: ``upscale``, ``build-data photos`` and ``examples photos``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...cli import example_arguments, given_sampler_options, sampling_options, write_json
from ..base import Command
from .upscale import ENSEMBLE_SIZES, PRECISIONS


def _upscale_arguments(p) -> None:
    p.add_argument("--checkpoint", default="checkpoints/sr4x", help="a super-resolution pipeline folder (default: "
                   "checkpoints/sr4x here, else $LDDBM_CHECKPOINTS/sr4x)")
    p.add_argument("--image", required=True)
    p.add_argument("--out", required=True, help="e.g. big.png")
    p.add_argument("--bicubic", help="also write the bicubic upscale here, for comparison")
    p.add_argument("--fit", choices=["downscale", "crop", "error"], default="downscale",
                   help="an image larger than 512 px: downscale it (default), upscale its central 512 px region, or stop")
    p.add_argument("--scale", type=int, help="the factor: the checkpoint's (default) or a whole multiple of it, "
                   "the rest by bicubic interpolation of its output (e.g. --scale 8 with checkpoints/sr4x: "
                   "+1.24 dB over bicubic on the test photographs, the x8 model +0.98)")
    p.add_argument("--steps", type=int)
    p.add_argument("--ensemble", type=int, choices=ENSEMBLE_SIZES, default=1,
                   help="also upscale the image flipped and turned (2, 4 or 8 of its symmetries) and average: about "
                        "+0.1 dB at 8, for 8x the time (docs/superres.md)")
    p.add_argument("--back-projection", type=int, metavar="N", help="iterations of back-projection onto the input "
                   "(default: the checkpoint's: 2 for clean photos, +0.05 dB; 0 for sr4x_real; 0 turns it off)")
    p.add_argument("--second-pass", metavar="CHECKPOINT", help="upscale the result again from its own down-sampling with "
                   "this clean model (e.g. checkpoints/sr4x after sr4x_real: +0.1 dB on JPEG + noise photos, twice the time)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help="what the tiles are computed in: auto "
                   "(default: bfloat16 on a CPU that has it natively, ~35 %% faster, the same PSNR; else float32)")
    sampling_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)


def _upscale(args) -> int:
    """An image file -> its super-resolved PNG (whole image, by tiles)."""
    from tqdm.auto import tqdm

    from ...inputs import open_image
    from ...pipeline import LDDBMPipeline
    from .upscale import fit_to_limit, upscale

    pipe = LDDBMPipeline.load(args.checkpoint, device=args.device)
    pipe.set_progress_bar_config(disable=True)
    second = LDDBMPipeline.load(args.second_pass, device=args.device) if args.second_pass else None
    if second is not None:
        second.set_progress_bar_config(disable=True)
    image, notes = open_image(args.image)
    if args.fit != "error":
        image, note = fit_to_limit(image, how=args.fit)
        notes += [note] if note else []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    with tqdm(desc="tiles", unit="tile") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = upscale(pipe, image, steps=args.steps, sampler=args.sampler, seed=args.seed, progress=progress,
                         ensemble=args.ensemble, scale=args.scale, back_projection=args.back_projection,
                         precision=args.precision, second_pass=second,
                         **given_sampler_options(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(out)
    if args.bicubic:
        result.bicubic.save(args.bicubic)
    print(json.dumps({"out": str(out), "size": list(result.image.size), "scale": result.scale,
                      "bicubic_after_model": result.interpolated, "tiles": result.tiles,
                      "nfe_per_tile": result.nfe, "precision": result.precision, "seconds": round(result.seconds, 3),
                      "notes": notes}))
    return 0


def _photos_arguments(p) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--source", help="a .deb of wallpapers (default: the packages in lddbm.data.photos)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--more", action="store_true", help="add the extra sources (game textures and GCompris photographs "
                   "from Debian: 272 training photographs instead of 52, and a second held-out group, test2)")


def _build_photos(args) -> int:
    from ...data.photos import build

    summary = build(args.out, sources=[args.source] if args.source else None, seed=args.seed, more=args.more)
    print(json.dumps(summary, indent=2))
    return 0


def _examples_arguments(p) -> None:
    example_arguments(p, count=False)
    p.add_argument("--size", type=int, default=512, help="side of the high-resolution crop")
    p.add_argument("--scale", type=int, default=4, help="down-sampling factor of the input")


def _examples(args) -> int:
    from ...data.photos import export_examples

    write_json(None, export_examples(args.data, args.out, split=args.split, size=args.size, scale=args.scale))
    return 0


COMMANDS = (Command("upscale", "super-resolve an image file into a PNG (inputs over 512 px: see --fit)",
                    _upscale_arguments, _upscale),)
DATA_BUILDERS = (Command("photos", "natural photographs from Debian packages (super-resolution; backgrounds)",
                         _photos_arguments, _build_photos),)
EXAMPLE_BUILDERS = (Command("photos", "held-out photographs: a high-resolution crop and its low-resolution input",
                            _examples_arguments, _examples),)
