"""Command line: ``python -m lddbm train | eval | sample ...`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .cli import checkpoint_preset, given_sampler_options, load_pipeline, sampler_name, sampling_options, write_json
from .errors import ConfigError, LDDBMError

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
    from .presets import apply_overrides
    from .tasks import check_task_name

    overrides = _overrides(extra)
    if getattr(args, "data", None):
        overrides["data.root"] = args.data
    preset = checkpoint_preset(args.checkpoint, args.task, overrides)
    task = check_task_name(args.task, preset)
    if getattr(args, "views", None):
        if "views" not in [o.name for o in task.eval_options]:
            raise ConfigError(f"--views applies to multi-view tasks; this checkpoint is a {task.name} model.")
        preset = apply_overrides(preset, {"data.num_views": str(args.views)})
    return preset, load_pipeline(args.checkpoint, args.device), task


def _task_options(args, task) -> dict:
    """The task-specific options the user gave (an error for one the task does not take)."""
    from .tasks import TASKS

    names = {o.name for t in TASKS.values() for o in t.eval_options}
    own = [o.name for o in task.eval_options]
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    wrong = [name for name in given if name not in own]
    if wrong:
        raise ConfigError(f"--{wrong[0].replace('_', '-')} does not apply to the {task.name} task (its options: "
                          f"{', '.join('--' + o.replace('_', '-') for o in own) or 'none'}).")
    return {k: v for k, v in given.items() if k != "views"}


def _sample_options(args, **extra):
    from .tasks import SampleOptions

    # bench has --samplers (a grid) and passes each one here; eval has --sampler
    return SampleOptions(steps=extra.get("steps", args.steps), sampler=extra.get("sampler", getattr(args, "sampler", None)),
                         options=given_sampler_options(args), seed=args.seed)


def cmd_eval(args, extra) -> int:
    """Score a checkpoint on its task's data; the checkpoint's preset decides the task."""
    from .samplers import OPTIONS

    preset, pipe, task = _eval_setup(args, extra)
    report = task.evaluate(pipe, preset, args.split, args.limit, _sample_options(args), **_task_options(args, task))
    cfg = pipe.scheduler.config
    report.update(task=task.name, preset=preset.name, checkpoint=str(args.checkpoint),
                  sampler=args.sampler or cfg.sampler, steps=args.steps or cfg.num_inference_steps, device=str(pipe.device))
    report.update({name: getattr(args, name) for name in OPTIONS})  # None: the checkpoint's default
    write_json(args.json, report)
    return 0


def _moved_benchmark(args, extra) -> None:
    """``bench NAME`` or ``bench TASK --NAME`` where a task has its own ``bench-NAME`` command (e.g. the old
    ``bench segmentation``): a ConfigError naming that command."""
    from .tasks import TASKS

    commands = {c.name for task in TASKS.values() for c in task.commands}
    typed = {args.task: f"bench {args.task}"}
    for arg in extra:
        if arg.startswith("--"):
            flag = arg[2:].partition("=")[0]
            typed.setdefault(flag, f"bench {args.task} --{flag}")
    for name, old in typed.items():
        if f"bench-{name}" in commands:
            raise ConfigError(f"`{old}` is now its own command: python -m lddbm bench-{name} --checkpoint CHECKPOINT "
                              f"... (its options: python -m lddbm bench-{name} --help).")


def cmd_bench(args, extra) -> int:
    """Quality and speed over a grid of samplers and step counts."""
    from .samplers import SAMPLERS

    _moved_benchmark(args, extra)
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
    write_json(args.json, {"task": args.task, "checkpoint": str(args.checkpoint), "device": str(pipe.device), "rows": rows})
    return 0


def _task_eval_options(p, tasks) -> None:
    """Each task's own options of eval / bench (tasks sharing a name share the flag; their help is joined)."""
    merged: dict[str, list] = {}
    for task in tasks.values():
        for option in task.eval_options:
            merged.setdefault(option.name, []).append((task.name, option))
    for name, uses in merged.items():
        if name == "views":  # every evaluation parser has it (it sets data.num_views)
            continue
        first = uses[0][1]
        if any((o.type, o.choices) != (first.type, first.choices) for _, o in uses):
            raise ConfigError(f"Tasks {', '.join(t for t, _ in uses)} declare --{name} with different types.")
        p.add_argument(f"--{name.replace('_', '-')}", type=first.type, choices=first.choices,
                       help="; ".join(f"{t}: {o.help}" for t, o in uses))


def _run_task_command(command):
    """A task's command as a subcommand handler (its extra arguments are an error)."""
    def run(args, extra) -> int:
        if extra:
            raise SystemExit(f"error: unexpected arguments {extra}")
        return command.run(args)
    return run


def _task_subcommands(sub, title: str, commands, help_text: str) -> None:
    """`build-data NAME` / `examples NAME`: one sub-parser per task's builder."""
    p = sub.add_parser(title, help=help_text)
    inner = p.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    for command in commands:
        q = inner.add_parser(command.name, help=command.help)
        command.add_arguments(q)
        q.set_defaults(func=_run_task_command(command))


def main(argv: list[str] | None = None) -> int:
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
        p.add_argument("--checkpoint", required=True, help="an LDDBMPipeline folder, or a name under the "
                       "checkpoints folder (LDDBM_CHECKPOINTS)")
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
    _task_eval_options(p, TASKS)
    p.add_argument("--steps", type=int, help="sampling steps (default: the checkpoint's)")
    sampling_options(p)
    p.set_defaults(func=cmd_eval)

    own = ", ".join(c.name for task in TASKS.values() for c in task.commands if c.name.startswith("bench-"))
    p = sub.add_parser("bench", help="quality and speed over samplers x step counts" + (
        f" (the tasks' own benchmarks: {own})" if own else ""))
    evaluation_options(p, split="test")
    _task_eval_options(p, TASKS)
    p.add_argument("--steps", type=int, nargs="+", help="default: 1 2 4 8 16 40")
    p.add_argument("--samplers", nargs="+", type=sampler_name, metavar="SAMPLER",
                   help=f"default: {' '.join(SAMPLERS)}")
    sampling_options(p, sampler=False)
    p.set_defaults(func=cmd_bench)

    _task_subcommands(sub, "build-data", [c for t in TASKS.values() for c in t.data_builders],
                      "build a data set from packaged sources")
    _task_subcommands(sub, "examples", [c for t in TASKS.values() for c in t.example_builders],
                      "copy held-out data as example inputs (assets/)")
    for task in TASKS.values():
        for command in task.commands:
            p = sub.add_parser(command.name, help=command.help)
            command.add_arguments(p)
            p.set_defaults(func=_run_task_command(command))

    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args, extra)
    except LDDBMError as err:  # a problem the user can fix; anything else is a bug and keeps its traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
