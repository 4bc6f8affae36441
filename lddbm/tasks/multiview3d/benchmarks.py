"""The views -> 3D task's benchmark commands: ``bench-robustness`` (IoU clean and under each upload
corruption, through the pipeline) and ``bench-segmentation`` (background removal on held-out composites
and the real-photo check set). The scoring itself is in ``robustness``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...cli import checkpoint_preset, load_pipeline, sampler_name, write_json
from ...errors import ConfigError
from ..base import Command


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def _robustness_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a views -> 3D pipeline folder, or its name under the "
                   "checkpoints folder (LDDBM_CHECKPOINTS), e.g. multiview3d")
    p.add_argument("--data", help="a built views -> 3D data set (default: the checkpoint preset's data.root)")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, help="score the first N objects only")
    p.add_argument("--views-list", type=int, nargs="+", help="view counts to score (default: the preset's)")
    p.add_argument("--photos", default="data/photos", help="built photos folder (its held-out test photographs "
                   "are the backgrounds)")
    p.add_argument("--steps", type=int, help="sampling steps (default: the checkpoint's)")
    p.add_argument("--sampler", type=sampler_name, metavar="SAMPLER", help="default: the checkpoint's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="e.g. cpu or cuda (default: cpu)")
    p.add_argument("--json", help="also write the report to this file")


def _robustness(args: argparse.Namespace) -> int:
    """IoU of views -> 3D clean and under each corruption (RGBA cut-out, photo / solid / gradient background,
    small and off-centre, dark and low contrast, standing on a table top), each upload going through the pipeline's own preprocessing."""
    from ...modalities import LiftingEncoder, MultiViewEncoder
    from .. import get_task
    from .robustness import robustness_benchmark

    preset = checkpoint_preset(args.checkpoint, "multiview3d", {"data.root": args.data} if args.data else None)
    task = get_task(preset)
    if task.name != "multiview3d":
        raise ConfigError(f"bench-robustness scores views -> 3D models; {args.checkpoint} is a {task.name} model "
                          f"(for its quality and speed: `python -m lddbm bench {task.name} --checkpoint "
                          f"{args.checkpoint}`).")
    pipe = load_pipeline(args.checkpoint, args.device)
    if not isinstance(pipe.source_encoder, (MultiViewEncoder, LiftingEncoder)):
        raise ConfigError(f"bench-robustness scores views -> 3D models; {args.checkpoint} takes a "
                          f"{type(pipe.source_encoder).__name__} (a views -> 3D pipeline is e.g. "
                          "checkpoints/multiview3d).")
    report = {"task": task.name, "checkpoint": str(args.checkpoint), "device": str(pipe.device),
              "sampler": args.sampler or pipe.scheduler.config.sampler,
              "steps": args.steps or pipe.scheduler.config.num_inference_steps}
    for views in args.views_list or [preset.data.num_views]:
        _log(f"{views} view(s):")
        report[f"views_{views}"] = robustness_benchmark(
            pipe, preset.data.root, args.photos, split=args.split, views=views, limit=args.limit,
            steps=report["steps"], sampler=report["sampler"], seed=args.seed, log=_log)
    write_json(args.json, report)
    return 0


def _segmentation_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a views -> 3D pipeline folder (its segmenter is scored) "
                   "or a MaskNet folder (train-masknet --out); GrabCut is scored in any case")
    p.add_argument("--data", default="data/objects", help="a built views -> 3D data set (renders with masks)")
    p.add_argument("--photos", default="data/photos", help="built photos folder (its held-out test photographs "
                   "are the backgrounds)")
    p.add_argument("--real-photos", default="assets/realphotos", help="the real-photo check set (photographs with "
                   "hand-checked masks)")
    p.add_argument("--cutouts", default="data/cutouts", help="a built cut-outs folder (build-data cutouts): its "
                   "held-out photographed objects are scored on the same backgrounds (skipped if absent)")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, help="score the first N objects only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the report to this file")


def _segmentation(args: argparse.Namespace) -> int:
    """Mask IoU of GrabCut and the MaskNet on held-out composites and the real photographs, and speed."""
    import torch

    from ...data.cutouts import load_cutouts
    from ...framing import segment_foreground
    from ...pipeline import LDDBMPipeline
    from ...segmentation import load_masknet
    from .robustness import normaliser_seconds, real_photo_benchmark, segmentation_benchmark

    folder = Path(args.checkpoint)
    net = load_masknet(folder) if (folder / "config.json").is_file() else LDDBMPipeline.load(folder).segmenter
    methods = {"grabcut": segment_foreground}
    if net is not None:
        methods["masknet"] = lambda rgb: net.segment(rgb, refine=False)
        methods["masknet+grabcut"] = lambda rgb: net.segment(rgb, refine=True)
    report = segmentation_benchmark(methods, args.data, args.photos, split=args.split, limit=args.limit,
                                    seed=args.seed, log=_log)
    cutouts = load_cutouts(args.cutouts, "test") if args.cutouts else []
    if cutouts:
        report["cutouts"] = segmentation_benchmark(methods, None, args.photos, limit=args.limit, seed=args.seed,
                                                   objects=cutouts)
        report["cutouts"].update(split="test", root=args.cutouts)
    report["real_photos"] = real_photo_benchmark(methods, args.real_photos)
    report["normaliser_seconds_512"] = {"grabcut": normaliser_seconds(None)}
    if net is not None:
        report["normaliser_seconds_512"]["masknet (shipped setting)"] = normaliser_seconds(net)
    report.update(checkpoint=str(folder), threads=torch.get_num_threads())
    write_json(args.json, report)
    return 0


COMMANDS = (
    Command("bench-robustness", "views -> 3D: IoU clean and under each upload corruption, through the pipeline",
            _robustness_arguments, _robustness),
    Command("bench-segmentation", "background removal (GrabCut, the MaskNet): mask IoU on held-out composites "
            "and real photographs, and speed", _segmentation_arguments, _segmentation),
)
