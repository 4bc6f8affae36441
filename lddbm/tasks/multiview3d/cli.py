"""The views -> 3D task's commands: ``sample``, ``train-masknet``, ``train-pose``, ``train-refiner``, ``attach-segmenter``, ``build-data
objects|furniture``, ``examples furniture``, and the benchmarks ``bench-robustness`` and
``bench-segmentation`` (``benchmarks``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...cli import example_arguments, given_sampler_options, sampling_options, write_json
from ...errors import ConfigError
from ..base import Command
from .benchmarks import COMMANDS as BENCHMARKS


def _sample_arguments(p) -> None:
    from ...framing import DEFAULT_FOREGROUND_RATIO

    p.add_argument("--checkpoint", required=True, help="a views -> 3D pipeline folder, or its name under the "
                   "checkpoints folder (LDDBM_CHECKPOINTS), e.g. multiview3d")
    p.add_argument("--views", nargs="+", required=True, help="1 to 12 image files of one object")
    p.add_argument("--out", required=True, help="e.g. shape.glb")
    p.add_argument("--steps", type=int)
    sampling_options(p)
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--keep-background", action="store_true", help="do not remove the background (an image's own "
                   "transparency still counts)")
    p.add_argument("--foreground-ratio", type=float, default=DEFAULT_FOREGROUND_RATIO,
                   help="share of each view the object is scaled to fill (default: the training framing)")
    p.add_argument("--boxes", nargs="+", metavar="X0,Y0,X1,Y1", help="a box around the object in each view, in "
                   "pixels of the file as shown, one per view in --views order ('-' for none): the object is cut out "
                   "from it (GrabCut) instead of by the segmenter")
    p.add_argument("--any-order", action="store_true", help="the views are in no particular order (default: the "
                   "checkpoint's setting; the shipped one takes them going round the object to the right, the first "
                   "from the front)")


def parse_boxes(texts: list[str], paths: list[str], images) -> list[tuple[float, ...] | None]:
    """--boxes values ("x0,y0,x1,y1" in pixels of each file as shown, or "-") -> boxes in pixels of the opened
    images (which may have been decoded smaller); a ConfigError that says what is wrong otherwise."""
    from PIL import Image

    if len(texts) != len(paths):
        raise ConfigError(f"--boxes has {len(texts)} entries for {len(paths)} views: give one per view ('-' for none).")
    boxes = []
    for text, path, image in zip(texts, paths, images):
        if text.strip() in ("-", "none", ""):
            boxes.append(None)
            continue
        try:
            box = [float(v) for v in text.split(",")]
        except ValueError:
            box = []
        if len(box) != 4 or box[2] <= box[0] or box[3] <= box[1]:
            raise ConfigError(f"--boxes {text!r} for {Path(path).name}: give x0,y0,x1,y1 in pixels, left/top first.")
        with Image.open(path) as header:  # the file's own size, turned as its EXIF orientation says
            width, height = header.size
            if header.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
        kx, ky = image.size[0] / width, image.size[1] / height
        boxes.append((box[0] * kx, box[1] * ky, box[2] * kx, box[3] * ky))
    return boxes


def _sample(args) -> int:
    """Views (image files) -> a mesh file and the occupancy grid."""
    import numpy as np

    from ...export import check_mesh_path, export_mesh, voxels_to_mesh
    from ...framing import WORK_SIDE, normalize_views, view_warnings
    from ...inputs import open_views
    from ...modalities import LiftingEncoder, MultiViewEncoder
    from ...modalities.lifting import takes_view_order
    from ...pipeline import LDDBMPipeline
    from .prediction import predict_shape

    check_mesh_path(args.out)  # before a minute of work, not after
    pipe = LDDBMPipeline.load(args.checkpoint, device=args.device)
    if not isinstance(pipe.source_encoder, (MultiViewEncoder, LiftingEncoder)):
        raise ConfigError(f"{args.checkpoint} is not a views -> 3D model (its source is a "
                          f"{type(pipe.source_encoder).__name__}); `sample` needs one such as checkpoints/multiview3d "
                          "(super-resolution: `python -m lddbm upscale`).")
    images, notes = open_views(args.views, pipe.source_encoder.config.max_views, shrink_to=WORK_SIDE)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    boxes = parse_boxes(args.boxes, args.views, images) if args.boxes else None
    framed = normalize_views(images, not args.keep_background, args.foreground_ratio, segmenter=pipe.segmenter,
                             boxes=boxes)
    for warning in view_warnings(framed, [Path(p).name for p in args.views]):
        print(f"warning: {warning}", file=sys.stderr)
    order = {"view_order": "any"} if args.any_order and takes_view_order(pipe.source_encoder) else {}
    pred = predict_shape(pipe, framed, args.steps, args.sampler, seed=args.seed, samples=args.samples,
                         preprocess_kwargs=order, **given_sampler_options(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        mesh = voxels_to_mesh(pred.probability, threshold=args.threshold)
    except ValueError as err:  # an expected refusal: one line, no traceback
        raise ConfigError(f"The predicted shape is empty: no voxel reaches the occupancy threshold {args.threshold}. "
                          "Check the cut-outs (give --boxes around the object in each view) or lower --threshold."
                          ) from err
    export_mesh(mesh, out)
    np.save(out.with_suffix(".npy"), pred.probability >= args.threshold)
    print(json.dumps({"mesh": str(out), "voxels": str(out.with_suffix(".npy")), "nfe": pred.nfe,
                      "seconds": round(pred.seconds, 3), "occupied": int((pred.probability >= args.threshold).sum())}))
    return 0


def _masknet_arguments(p) -> None:
    p.add_argument("--data", default="data/furniture")
    p.add_argument("--photos", default="data/photos", help="built photos folder (its train split: backgrounds)")
    p.add_argument("--out", required=True, help="output folder (a diffusers model folder)")
    p.add_argument("--steps", type=int, default=1400)
    p.add_argument("--batch-size", type=int, default=24)
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tabletop", type=float, default=0.0, help="share of training scenes with the object standing "
                   "on a surface with shadows and clutter behind it (lddbm.data.tabletop)")
    p.add_argument("--closeups", type=float, default=0.0, help="share of the pasted scenes shown as close-ups cut "
                   "by the frame")
    p.add_argument("--defocus", type=float, default=0.0, help="share of the pasted scenes with the background out "
                   "of focus")
    p.add_argument("--cards", type=float, default=0.0, help="share of the pasted scenes with the object lying on a "
                   "sheet of paper or card (lddbm.data.backgrounds.card_under)")
    p.add_argument("--whiten", type=float, default=0.0, help="share of the training objects made white or light "
                   "grey (lddbm.segmentation.whitened), so that light regions are not read as paper")
    p.add_argument("--cutouts", help="a built cut-outs folder (build-data cutouts): photographed objects pasted "
                   "like the renders, a share --cutout-share of the training objects")
    p.add_argument("--cutout-share", type=float, default=0.0, help="share of training objects drawn from --cutouts")
    p.add_argument("--without-subjects", action="store_true", help="leave the photographs of one animal, person "
                   "or thing out of the backgrounds (lddbm.data.photos.SUBJECT_PHOTOS)")
    p.add_argument("--widths", type=int, nargs="+", help="channels per U-Net level (default: MaskNet's)")
    p.add_argument("--init-from", help="a MaskNet folder to train further (its widths; e.g. "
                   "checkpoints/multiview3d/segmenter) instead of starting from random weights")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--attach", help="also copy it into this pipeline folder as its segmenter")


def _train_masknet(args) -> int:
    from ...segmentation import attach_to_pipeline, train_masknet

    summary = train_masknet(args.data, args.out, photos_root=args.photos, steps=args.steps, batch_size=args.batch_size,
                            seed=args.seed, max_minutes=args.max_minutes, progress=not args.no_progress,
                            tabletop=args.tabletop, widths=args.widths, closeups=args.closeups,
                            defocus=args.defocus, init_from=args.init_from, lr=args.lr, cards=args.cards, whiten=args.whiten,
                            cutouts_root=args.cutouts, cutout_share=args.cutout_share,
                            without_subjects=args.without_subjects)
    if args.attach:
        attach_to_pipeline(args.out, args.attach)
        summary["attached_to"] = args.attach
    print(json.dumps(summary, indent=2))
    return 0


def _pose_arguments(p) -> None:
    p.add_argument("--init-from", required=True, help="a pipeline folder with a lifting encoder (e.g. checkpoints/multiview3d)")
    p.add_argument("--out", required=True, help="run folder: state.pt, log.jsonl and pipeline/ (the best on validation)")
    p.add_argument("--pose-width", type=int, default=32, help="channels of the camera network's first stage")
    p.add_argument("--pose-layers", type=int, default=2, help="self-attention layers across the views")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=32, help="objects per step (each with the preset's views)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--regression-weight", type=float, default=20.0,
                   help="weight of the elevation and framing errors beside the azimuth's cross-entropy")
    p.add_argument("--turntable-share", type=float, default=0.5, help="share of samples in turntable order")
    p.add_argument("--part-weights", type=float, nargs=5, metavar=("ELEVATION", "LOG_SCALE", "INVERSE_DISTANCE", "U0", "V0"),
                   help="each of those errors' own weight (default: all 1); also weighs them in choosing the export")
    p.add_argument("--view-counts", type=int, nargs="+", help="views shown per object, one count drawn per step "
                   "(e.g. 1 2 3 4; default: all the preset's views)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--eval-size", type=int, default=256, help="validation objects")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (and save) after this long; 0: no limit")
    p.add_argument("--no-progress", action="store_true")


def _train_pose(args) -> int:
    from .pose import train_pose

    print(json.dumps(train_pose(
        args.init_from, args.out, pose_width=args.pose_width, pose_layers=args.pose_layers, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, regression_weight=args.regression_weight,
        turntable_share=args.turntable_share, eval_every=args.eval_every, eval_size=args.eval_size, seed=args.seed,
        resume=args.resume, max_minutes=args.max_minutes, progress=not args.no_progress,
        view_counts=tuple(args.view_counts) if args.view_counts else None,
        part_weights=tuple(args.part_weights) if args.part_weights else None), indent=2))
    return 0


def _refiner_arguments(p) -> None:
    p.add_argument("--pipeline", required=True, help="a views -> 3D pipeline folder with a lifting encoder "
                   "(e.g. checkpoints/multiview3d): its predictions are what the refiner learns to correct")
    p.add_argument("--out", required=True, help="run folder: predictions/, log.jsonl, state.pt and refiner/ (the best "
                   "on validation)")
    p.add_argument("--data", help="a built objects folder (default: the pipeline's preset's)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--jaccard", type=float, default=1.0, help="weight of the soft-IoU term beside the cross-entropy")
    p.add_argument("--widths", type=int, nargs=3, default=(8, 24, 48), help="channels at the grid, 1/2 and 1/4")
    p.add_argument("--view-sets", nargs="+", help="the predictions it learns from (default: clean4 pool4 pool1; also "
                   "churn4: 4 clean views bridged with churn 0.33, any4: 4 augmented views shuffled, in any order)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (and save) after this long; 0: no limit")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--attach", help="then copy OUT/refiner into this pipeline folder as its refiner")


def _train_refiner(args) -> int:
    from .refiner import DEFAULT_VIEW_SETS, VIEW_SETS, attach_refiner, train_refiner

    view_sets = tuple(args.view_sets or DEFAULT_VIEW_SETS)
    unknown = [v for v in view_sets if v not in VIEW_SETS]
    if unknown:
        raise ConfigError(f"Unknown --view-sets {', '.join(unknown)}; choose from {', '.join(VIEW_SETS)}.")
    summary = train_refiner(args.pipeline, args.out, data_root=args.data, steps=args.steps, batch_size=args.batch_size,
                            lr=args.lr, jaccard=args.jaccard, widths=tuple(args.widths), eval_every=args.eval_every,
                            seed=args.seed, resume=args.resume, max_minutes=args.max_minutes,
                            progress=not args.no_progress, view_sets=view_sets)
    if args.attach:
        attach_refiner(Path(args.out) / "refiner", args.attach)
        summary["attached_to"] = args.attach
    print(json.dumps(summary, indent=2))
    return 0


def _attach_arguments(p) -> None:
    p.add_argument("--pipeline", required=True, help="a saved LDDBMPipeline folder, e.g. checkpoints/multiview3d")
    p.add_argument("--segmenter", required=True, help="a MaskNet folder (train-masknet --out)")
    p.add_argument("--refine", type=lambda v: v.lower() in ("1", "true", "yes"), default=None,
                   help="true: refine the network's mask with GrabCut (default: as saved)")


def _attach_segmenter(args) -> int:
    from ...segmentation import attach_to_pipeline

    attach_to_pipeline(args.segmenter, args.pipeline, refine=args.refine)
    print(json.dumps({"pipeline": args.pipeline, "segmenter": args.segmenter}))
    return 0


def _objects_arguments(p) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--source", help="a folder holding the sources' .debs (default: apt-get download); furniture: "
                   ".deb, .sh3f or folder (default: apt-get download sweethome3d-furniture)")
    p.add_argument("--sources", help="comma-separated source names (default: all registered; furniture: sweethome3d)")
    p.add_argument("--studio", choices=["fixed", "random"], default="fixed",
                   help="one studio for every view, or lens, camera height and lights drawn per view")
    p.add_argument("--splits", help="build only these splits, e.g. test")
    p.add_argument("--extend-split-file", action="store_true",
                   help="add the new objects to the committed split (lddbm/data/objects_split.json)")
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument("--limit", type=int, help="only the first N catalogue entries (for a quick look)")
    p.add_argument("--views", type=int, default=12)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _build_objects(args, default_sources: tuple[str, ...] | None) -> int:
    from ...data.furniture import SPLIT_FILE, BuildOptions, build, extend_split_file
    from ...data.sources import SOURCES

    sources = tuple(args.sources.split(",")) if args.sources else (default_sources or tuple(SOURCES))
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ConfigError(f"Unknown --sources {', '.join(unknown)}; known: {', '.join(SOURCES)}.")
    opts = BuildOptions(views=args.views, image_size=args.image_size, seed=args.seed, studio=args.studio)
    summary = build(args.out, source=args.source, workers=args.workers, limit=args.limit, opts=opts,
                    progress=not args.no_progress, sources=sources,
                    splits=tuple(args.splits.split(",")) if args.splits else None)
    if args.extend_split_file:
        added = extend_split_file(json.loads((Path(args.out) / "split.json").read_text()))
        print(f"added to {SPLIT_FILE}: {added}", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}, indent=2))
    if summary["failed"]:
        print(f"{summary['failed']} models were skipped; reasons in {Path(args.out) / 'summary.json'}", file=sys.stderr)
    if summary["in_data_set"] == 0:
        print("error: no object could be built, so there is no data set; see the reasons above", file=sys.stderr)
        return 1
    return 0


def _examples_arguments(p) -> None:
    example_arguments(p)
    p.add_argument("--views", type=int, default=4, help="input views per object")
    p.add_argument("--categories", help="only these categories, comma-separated (e.g. airplane,car)")
    p.add_argument("--photos", help="a built photos folder; paste objects not yet exported onto its held-out "
                   "photographs (OUT/<id>-photo)")


def _examples(args) -> int:
    from ...data.furniture import export_examples
    from .robustness import held_out_photos

    photos = held_out_photos(args.photos) if args.photos else None
    categories = args.categories.split(",") if args.categories else None
    write_json(None, export_examples(args.data, args.out, split=args.split, count=args.count, views=args.views,
                                     photos=photos, categories=categories))
    return 0


COMMANDS = (
    Command("sample", "views -> 3D shape file (GLB, OBJ or STL) and voxels (.npy)", _sample_arguments, _sample),
    Command("train-masknet", "train the foreground segmenter on renders over photographs", _masknet_arguments,
            _train_masknet),
    Command("train-pose", "train the lifting encoder's camera estimate alone (a camera network of its own)",
            _pose_arguments, _train_pose),
    Command("train-refiner", "train a refiner of the decoded shape by the views' silhouettes (on the pipeline's own "
            "predictions)", _refiner_arguments, _train_refiner),
    Command("attach-segmenter", "copy a trained MaskNet into a pipeline folder as its segmenter", _attach_arguments,
            _attach_segmenter),
    *BENCHMARKS,
)
def _cutouts_arguments(p) -> None:
    p.add_argument("--out", default="data/cutouts", help="output folder")
    p.add_argument("--source", help="a folder holding tuxpaint-stamps-default_*.deb (default: apt-get download)")
    p.add_argument("--no-progress", action="store_true")


def _build_cutouts(args) -> int:
    from ...data.cutouts import build

    print(json.dumps(build(args.out, source=args.source, progress=not args.no_progress), indent=2))
    return 0


DATA_BUILDERS = (
    Command("cutouts", "photographed objects with their own transparency (Tux Paint's stamps), for the "
            "segmenter", _cutouts_arguments, _build_cutouts),
    Command("objects", "3D models from every source in lddbm.data.sources, rendered, with 32^3 voxels",
            _objects_arguments, lambda args: _build_objects(args, None)),
    Command("furniture", "the Sweet Home 3D furniture only (sources: sweethome3d)", _objects_arguments,
            lambda args: _build_objects(args, ("sweethome3d",))),
)
EXAMPLE_BUILDERS = (
    Command("furniture", "held-out objects' views and voxels as demo examples", _examples_arguments, _examples),
)
