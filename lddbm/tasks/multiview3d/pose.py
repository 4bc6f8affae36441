"""The lifting encoder's camera estimate, measured and trained on its own.

Lifted along the renderer's true cameras, the shipped model scores validation IoU 0.633; along its own
estimate 0.541, and along its estimated azimuth with the true elevation and framing 0.588
(``benchmarks/lifting_pose.py --iou``): the estimate, not the rest of the model, is what costs the most.
Estimating a view's camera is plain supervised learning (views and the builder's cameras), so it can be
trained alone, without the bridge, the decoder or the lifted volume, for a fraction of a full step.

``train_pose`` gives a pipeline's ``LiftingEncoder`` a camera network of its own (``PoseNet``:
``pose_width``, ``pose_layers``) and trains only that and the azimuth classes on the training split's
augmented views (the pool the full run uses, half the samples in turntable order), keeping every other
weight. It writes a complete pipeline folder (``OUT/pipeline``) that evaluates as it is and that
``train --init-from`` fine-tunes with the preset written beside it. ``camera_errors`` is the measure:
median azimuth and elevation errors and the framing numbers' mean absolute errors on clean renders.

    python -m lddbm train-pose --init-from checkpoints/multiview3d --out runs/pose32 --pose-width 32
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from ...modalities.lifting import POSE, LiftingEncoder
from .side_runs import advance, resume_or_seed, save_state

logger = logging.getLogger(__name__)

__all__ = ["angle_error", "camera_errors", "train_pose"]

CAMERA_WEIGHTS = ("pose_head.", "azimuth_head.")  # the encoder's weights train-pose trains (state-dict prefixes)


def angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference of angles in degrees, wrapped to [0, 180]."""
    return np.abs((a - b + 180) % 360 - 180)


def _azimuth(p: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(p[:, 0], p[:, 1]))


def camera_errors(encoder: LiftingEncoder, data, n: int, view_order: str | None = None, batch: int = 32) -> dict:
    """The camera estimate of the first ``n`` items of ``data`` (a ``MultiViewVoxels`` with ``poses``),
    the views taken in ``view_order`` (None: the encoder's): azimuth error (median, share within 15 and
    45 degrees), median elevation error, the framing numbers' mean absolute errors, and what always
    guessing the mean camera would score."""
    estimated, true = [], []
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        for start in range(0, n, batch):
            items = [data[i]["source"] for i in range(start, min(start + batch, n))]
            views = encoder.preprocess(torch.stack([it["views"] for it in items]), view_order=view_order)
            encoder.estimate_pose(views["views"].to(encoder.dtype), views["turntable"])
            estimated.append(encoder.last_pose.float().reshape(-1, len(POSE)).numpy())
            true.append(torch.stack([it["pose"] for it in items]).reshape(-1, len(POSE)).numpy())
    encoder.train(was_training)
    est, tru = np.concatenate(estimated), np.concatenate(true)
    az_err = angle_error(_azimuth(est), _azimuth(tru))
    mean_guess = tru.mean(0, keepdims=True)
    return {
        "objects": n, "views": int(len(est)), "view_order": view_order or encoder.config.view_order,
        "azimuth_error_deg": {"median": float(np.median(az_err)), "within_15": float((az_err <= 15).mean()),
                              "within_45": float((az_err <= 45).mean())},
        "elevation_error_deg_median": float(np.median(np.abs(np.degrees(est[:, 2] - tru[:, 2])))),
        "framing_mae": {name: float(np.abs(est[:, k] - tru[:, k]).mean()) for k, name in enumerate(POSE) if k >= 3},
        "constant_guess": {
            "azimuth_error_deg_median": float(np.median(angle_error(np.full(len(tru), float(_azimuth(mean_guess)[0])),
                                                                    _azimuth(tru)))),
            "elevation_error_deg_median": float(np.median(np.abs(np.degrees(mean_guess[0, 2] - tru[:, 2]))))},
    }


def _score(report: dict, part_weights: tuple[float, ...] | None = None) -> float:
    """One number to choose checkpoints by (lower is better): the azimuth's share off by more than 15
    degrees, plus the elevation's median error in tens of degrees, plus the framing errors; with
    ``part_weights`` (elevation, log_scale, inverse_distance, u0, v0) each of those weighted so."""
    w = part_weights or (1.0,) * (len(POSE) - 2)
    return ((1 - report["azimuth_error_deg"]["within_15"]) + w[0] * report["elevation_error_deg_median"] / 10
            + sum(wk * report["framing_mae"][name] for wk, name in zip(w[1:], POSE[3:])))


def train_pose(init_from: str | Path, out: str | Path, pose_width: int = 32, pose_layers: int = 2, steps: int = 6000,
               batch_size: int = 32, lr: float = 1e-3, warmup_steps: int = 200, regression_weight: float = 20.0,
               turntable_share: float = 0.5, eval_every: int = 500, eval_size: int = 256, seed: int = 0,
               resume: bool = False, max_minutes: float = 0.0, progress: bool = True,
               view_counts: tuple[int, ...] | None = None, part_weights: tuple[float, ...] | None = None) -> dict:
    """Train a camera network (``PoseNet``) for the lifting encoder of pipeline ``init_from``, alone; see the
    module's docstring. Checkpoints ``OUT/state.pt`` every ``eval_every`` steps (``resume`` continues from it),
    and writes ``OUT/pipeline`` (the pipeline with the new encoder; its ``preset.json`` names the new data
    settings) whenever validation's camera errors improve (``_score``). ``part_weights``: the squared errors'
    own weights (``LiftingEncoder(pose_part_weights)``), also in that score. Returns a summary (also ``OUT/summary.json``)."""
    from tqdm.auto import tqdm

    from ...pipeline import LDDBMPipeline
    from ...data.multiview import MultiViewVoxels
    from ...presets import load_preset
    from .build import dataset

    init_from, out = Path(init_from), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = LDDBMPipeline.load(init_from)
    old = pipe.source_encoder.float()
    if not isinstance(old, LiftingEncoder) or old.azimuth_head is None:
        raise ValueError(f"{init_from} has no lifting encoder with azimuth classes: train-pose refines its cameras.")
    preset = load_preset(init_from / "preset.json")
    preset = dataclasses.replace(preset, data=dataclasses.replace(
        preset.data, pose_width=pose_width, pose_layers=pose_layers, pose_regression_weight=regression_weight,
        turntable_share=turntable_share, pose_part_weights=tuple(part_weights) if part_weights else None))
    config = {k: v for k, v in old.config.items() if not k.startswith("_")}
    encoder = LiftingEncoder(**{**config, "pose_width": pose_width, "pose_layers": pose_layers,
                                "pose_regression_weight": regression_weight,
                                "pose_part_weights": list(part_weights) if part_weights else None})
    fresh = old.config.get("pose_width", 0) != pose_width or old.config.get("pose_layers", 2) != pose_layers
    state = {k: v for k, v in old.state_dict().items() if not (fresh and k.startswith(CAMERA_WEIGHTS))}
    _, unexpected = encoder.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"{init_from}/source_encoder does not fit a lifting encoder with a camera network "
                         f"(unexpected weights: {', '.join(unexpected[:3])}).")
    for name, p in encoder.named_parameters():
        p.requires_grad_(name.startswith(CAMERA_WEIGHTS))
    trained = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=lr, weight_decay=0.01)

    def rate(step: int) -> float:  # warm-up, then a cosine to a tenth
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    state_file = out / "state.pt"
    start, best, history = resume_or_seed(state_file, resume, seed, encoder, optimizer, scheduler, float("inf"))
    train_data = dataset(preset, "train")
    val = MultiViewVoxels(preset.data.root, "val", num_views=preset.data.num_views, image_size=encoder.config.image_size,
                          foreground_ratio=encoder.config.foreground_ratio, poses=True)
    n_val = min(eval_size, len(val))
    single = MultiViewVoxels(preset.data.root, "val", num_views=1, image_size=encoder.config.image_size,
                             foreground_ratio=encoder.config.foreground_ratio, poses=True) if view_counts else None
    t0, done = time.time(), start
    bar = tqdm(total=steps, initial=start, desc="train-pose", disable=not progress)
    encoder.train()
    for step in range(start, steps):
        idx = torch.randint(len(train_data), (batch_size,))
        items = [train_data[int(i)]["source"] for i in idx]
        views = torch.stack([it["views"] for it in items])
        true = torch.stack([it["pose"] for it in items])
        turntable = torch.stack([it["turntable"] for it in items])
        if view_counts:
            views, true, turntable = _subset(views, true, turntable, int(view_counts[torch.randint(len(view_counts), ())]))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            pose, scored, _ = encoder.estimate_pose(views, turntable)
        loss = encoder.camera_loss(pose.float(), scored, true, regression_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        scheduler.step()
        done, timed_out, due = advance(bar, loss.item(), step, steps, eval_every, t0, max_minutes)
        if due:
            report = camera_errors(encoder, val, n_val, "turntable")
            report_any = camera_errors(encoder, val, n_val, "any")
            score = _score(report, part_weights)
            record = {"step": done, "loss": loss.item(), "score": score, "turntable": report, "any": report_any,
                      "minutes": round((time.time() - t0) / 60, 2)}
            if single is not None:  # one view (in turntable order: from the front or up to a quarter turn right)
                record["one_view"] = camera_errors(encoder, single, n_val, "turntable")
                score = record["score"] = score + _score(record["one_view"], part_weights)
            history.append(record)
            logger.info("train-pose step %d: %s", done, json.dumps(record))
            with (out / "log.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
            if score < best:
                best = score
                _export(pipe, encoder, preset, out / "pipeline", init_from)
            save_state(state_file, encoder, optimizer, scheduler, done, best, history)
        if timed_out:
            break
    bar.close()
    summary = {"init_from": str(init_from), "out": str(out), "steps": done, "best_score": best,
               "minutes_this_call": round((time.time() - t0) / 60, 2), "history": history[-3:]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _subset(views: torch.Tensor, pose: torch.Tensor, turntable: torch.Tensor, count: int):
    """``count`` of each object's V views (B, V, ...) with their cameras: in turntable order an evenly spread
    subset that starts at the first view (still a turntable sequence), or, when V is no multiple of
    ``count``, the first ``count`` views marked as in any order; otherwise ``count`` views drawn at random."""
    B, V = views.shape[:2]
    if count >= V:
        return views, pose, turntable
    turntable = turntable.clone()
    rows = []
    for b in range(B):
        if turntable[b] and V % count == 0:
            rows.append(torch.arange(0, V, V // count))
        elif turntable[b]:
            rows.append(torch.arange(count))
            turntable[b] = False
        else:
            rows.append(torch.randperm(V)[:count])
    index = torch.stack(rows)  # (B, count)
    batch = torch.arange(B)[:, None]
    return views[batch, index], pose[batch, index], turntable


def _export(pipe, encoder: LiftingEncoder, preset, folder: Path, init_from: Path) -> None:
    """The pipeline with ``encoder`` as its source encoder, stored as ``init_from`` stores its weights."""
    import copy

    from ...presets import save_preset

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(init_from, tmp, ignore=shutil.ignore_patterns("README.md", "card_metrics.json"))
    dtype = next(pipe.denoiser.parameters()).dtype
    shutil.rmtree(tmp / "source_encoder")
    copy.deepcopy(encoder).to(dtype).save_pretrained(tmp / "source_encoder", safe_serialization=True)
    save_preset(preset, tmp / "preset.json")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
