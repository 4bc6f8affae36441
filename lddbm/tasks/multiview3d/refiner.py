"""Training a pipeline's silhouette refiner (``lddbm.modalities.refiner.SilhouetteRefiner``).

The refiner corrects what the bridge decodes, so it learns from what the bridge decodes: the pipeline
(frozen) predicts every training object once per view set (``DEFAULT_VIEW_SETS``: four clean views in turntable
order, four of the training pool's augmented cut-outs, one augmented view; ``--view-sets`` adds stochastic
samples and views in any order), each prediction is stored
with the soft hull of its views along the encoder's estimated cameras (``OUT/predictions``, made once,
about 3 minutes a set on 2 cores), and the refiner is trained on those with the grid turned a quarter
turn about the vertical and mirrored at random (the hull and the shape turn together, so nothing the
views tell is lost). The loss is the cross-entropy plus a soft-IoU term, which keeps the 0.5 threshold
the one IoU is best read at (cross-entropy alone makes the refined probabilities cautious: the refined
shape read at 0.5 lost 0.015 IoU to the unrefined one in a scratch run). Validation (every validation object,
4 clean views in turntable order, and 1 view) chooses the export, ``OUT/refiner``.

    python -m lddbm train-refiner --pipeline checkpoints/multiview3d --out runs/refiner --attach runs/ship_refined
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...metrics import iou
from ...modalities.refiner import SilhouetteRefiner, estimated_hull
from .side_runs import advance, resume_or_seed, save_state

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_VIEW_SETS", "VIEW_SETS", "ViewSet", "attach_refiner", "predictions", "train_refiner"]


@dataclasses.dataclass(frozen=True)
class ViewSet:
    """Which predictions to learn from: ``count`` views from ``source`` ("clean" framed renders, or "pool": one of
    the training pool's augmented variants of each), views offset, offset + T/count, ... of the T built (12:
    offset 0 gives views 0, 3, 6, 9), taken in ``order`` ("any": shuffled, and the pipeline told so), bridged
    with Heun's ``churn``."""

    source: str
    count: int
    offset: int
    order: str = "turntable"
    churn: float = 0.0


VIEW_SETS = {
    "clean4": ViewSet("clean", 4, 0), "pool4": ViewSet("pool", 4, 1), "pool1": ViewSet("pool", 1, 2),
    "churn4": ViewSet("clean", 4, 2, churn=0.33), "any4": ViewSet("pool", 4, 2, order="any"),
}
DEFAULT_VIEW_SETS = ("clean4", "pool4", "pool1")
VAL_SETS = {"val4": ViewSet("clean", 4, 0), "val1": ViewSet("clean", 1, 0)}


@torch.no_grad()
def predict_with_hull(pipe, views: torch.Tensor, steps: int = 10, order: str = "turntable", churn: float = 0.0,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Framed views (B, V, 3, S, S) in [-1, 1], in ``order`` -> the pipeline's unrefined decoded logits
    (B, 1, G, G, G) (Heun ``steps``, ``churn``, ``seed``; as ``eval`` runs) and the views' soft hull along the
    encoder's cameras (B, 3, G, G, G)."""
    encoder = pipe.source_encoder
    prepared = encoder.preprocess(views, view_order=order)
    out = pipe(prepared, num_inference_steps=steps, sampler="heun", churn=churn, output_type="latent", refine=False,
               generator=torch.Generator().manual_seed(seed))
    logits = pipe.target_decoder(out.latents).float()
    return logits, estimated_hull(encoder, prepared, logits.shape[-1])


def predictions(pipe, root: str | Path, split: str, name: str, views: ViewSet, cache: Path, pool=None, batch: int = 32,
                progress: bool = True, made_by: str = "") -> dict[str, torch.Tensor]:
    """The pipeline's predictions for every object of ``split`` from the ``views`` set (the pool's variants and
    any order's shuffles drawn with a fixed seed), as float16 {"logits" (N, 1, G, G, G), "hull" (N, 3, G, G, G), "target" (N, 1, G, G, G)}; stored in
    ``cache``/SPLIT_NAME.pt and read from there when it was made alike (``made_by`` names the pipeline).
    ``pool``: a callable returning the training pool (called only when a "pool" set must be made)."""
    from tqdm.auto import tqdm

    from ...data.multiview import MultiViewVoxels

    file = cache / f"{split}_{name}.pt"
    made_by = {"pipeline": made_by, "root": str(root), **dataclasses.asdict(views)}
    source, count = views.source, views.count
    if file.is_file():
        saved = torch.load(file, weights_only=True)
        if json.loads(saved.pop("made_by")) == made_by:
            return saved
    encoder = pipe.source_encoder
    data = MultiViewVoxels(root, split, num_views=count, image_size=encoder.config.image_size,
                           foreground_ratio=encoder.config.foreground_ratio, random_views=False)
    step = data.total_views // count
    picks = [views.offset % step + step * k for k in range(count)]
    if source == "pool":
        if pool is None:
            raise ValueError("The 'pool' view sets need the training split's augmentation pool (data.augment_pool > 0).")
        pool = pool()
    rng = np.random.default_rng(count)
    logits, hulls = [], []
    for start in tqdm(range(0, len(data), batch), desc=f"predict {split} {name}", disable=not progress):
        rows = list(range(start, min(start + batch, len(data))))
        if source == "pool":
            variant = rng.integers(pool.shape[2], size=(len(rows), len(picks)))
            batch_views = torch.from_numpy(np.stack([pool[i, picks, variant[n]] for n, i in enumerate(rows)]))
            batch_views = batch_views.permute(0, 1, 4, 2, 3)
        else:
            batch_views = data.views[rows][:, picks]
        if views.order == "any":
            batch_views = batch_views[:, torch.from_numpy(rng.permutation(count))]
        logit, hull = predict_with_hull(pipe, batch_views.float() / 127.5 - 1, order=views.order, churn=views.churn,
                                        seed=start if views.churn else 0)  # deterministic sets as eval runs them
        logits.append(logit.clamp(-30, 30).half())
        hulls.append(hull.half())
    made = {"logits": torch.cat(logits), "hull": torch.cat(hulls), "target": data.voxels[:, None].half()}
    cache.mkdir(parents=True, exist_ok=True)
    torch.save({**made, "made_by": json.dumps(made_by)}, file)
    return made


def _loss(logits: torch.Tensor, target: torch.Tensor, jaccard: float) -> torch.Tensor:
    """Cross-entropy plus ``jaccard`` x (1 - the soft IoU of the probabilities), per object then averaged."""
    loss = F.binary_cross_entropy_with_logits(logits, target)
    if jaccard:
        p, t = torch.sigmoid(logits).flatten(1), target.flatten(1)
        inter = (p * t).sum(1)
        loss = loss + jaccard * (1 - inter / (p.sum(1) + t.sum(1) - inter).clamp_min(1)).mean()
    return loss


@torch.no_grad()
def evaluate_refiner(refiner: SilhouetteRefiner, sets: dict[str, dict[str, torch.Tensor]], batch: int = 32) -> dict:
    """Mean IoU at 0.5 of each validation set, unrefined and refined."""
    was_training = refiner.training
    refiner.eval()
    report = {}
    for name, d in sets.items():
        refined = []
        for s in range(0, len(d["logits"]), batch):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                refined.append(refiner(d["logits"][s:s + batch].float(), d["hull"][s:s + batch].float()).float())
        report[name] = {"unrefined": float(iou(d["logits"], d["target"], threshold=0.0).mean()),  # logits: 0 is p = 0.5
                        "refined": float(iou(torch.cat(refined), d["target"], threshold=0.0).mean())}
    refiner.train(was_training)
    return report


def train_refiner(pipeline: str | Path, out: str | Path, data_root: str | Path | None = None, steps: int = 1500,
                  batch_size: int = 16, lr: float = 1e-3, warmup_steps: int = 50, jaccard: float = 1.0,
                  widths: tuple[int, int, int] = (8, 24, 48), blocks: int = 1, eval_every: int = 250, seed: int = 0,
                  resume: bool = False, max_minutes: float = 0.0, progress: bool = True,
                  view_sets: tuple[str, ...] = DEFAULT_VIEW_SETS) -> dict:
    """Train a ``SilhouetteRefiner`` for ``pipeline`` (a views -> 3D folder with a lifting encoder); see the
    module's docstring. Writes ``OUT/predictions`` (made once), ``OUT/log.jsonl``, ``OUT/state.pt`` every
    ``eval_every`` steps (``resume`` continues from it) and ``OUT/refiner`` whenever validation's 4-view IoU
    improves; ``view_sets``: the names in ``VIEW_SETS`` whose predictions it learns from. Returns a summary (also
    ``OUT/summary.json``)."""
    from tqdm.auto import tqdm

    from ...modalities.lifting import LiftingEncoder
    from ...pipeline import LDDBMPipeline
    from ...presets import load_preset
    from .build import dataset

    pipeline, out = Path(pipeline), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = LDDBMPipeline.load(pipeline)
    pipe.set_progress_bar_config(disable=True)
    if not isinstance(pipe.source_encoder, LiftingEncoder) or pipe.source_encoder.azimuth_head is None:
        raise ValueError(f"{pipeline} has no lifting encoder with azimuth classes: the refiner reads its cameras.")
    pipe.source_encoder.float()
    preset = load_preset(pipeline / "preset.json")
    root = Path(data_root or preset.data.root)
    preset = dataclasses.replace(preset, data=dataclasses.replace(preset.data, root=str(root)))
    # the training split (renders and pool) is loaded only if a pool set is not cached yet (not on --resume)
    pool = functools.cache(lambda: dataset(preset, "train").pool) if preset.data.augment_pool > 0 else None
    cache, made_by = out / "predictions", str(pipeline.resolve())
    made = [predictions(pipe, root, "train", name, VIEW_SETS[name] if pool is not None
                        else dataclasses.replace(VIEW_SETS[name], source="clean"), cache, pool, progress=progress,
                        made_by=made_by) for name in view_sets]
    train = {k: torch.cat([m[k] for m in made]) for k in ("logits", "hull", "target")}
    val = {name: predictions(pipe, root, "val", name, views, cache, progress=progress, made_by=made_by)
           for name, views in VAL_SETS.items()}

    refiner = SilhouetteRefiner(grid=train["logits"].shape[-1], widths=tuple(widths), blocks=blocks)
    optimizer = torch.optim.AdamW(refiner.parameters(), lr=lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup_steps) * 0.5
                                                  * (1 + math.cos(math.pi * min(s, steps) / steps)))
    state_file = out / "state.pt"
    start, best, history = resume_or_seed(state_file, resume, seed, refiner, optimizer, scheduler, -1.0)
    t0, done = time.time(), start
    bar = tqdm(total=steps, initial=start, desc="train-refiner", disable=not progress)
    refiner.train()
    for step in range(start, steps):
        idx = torch.randint(len(train["logits"]), (batch_size,))
        logits, hull, target = (train[k][idx].float() for k in ("logits", "hull", "target"))
        turns = int(torch.randint(4, ()))  # a quarter turn about the vertical (y: the grid's second axis)
        logits, hull, target = (x.rot90(turns, (2, 4)) for x in (logits, hull, target))
        if torch.rand(()) < 0.5:
            logits, hull, target = (x.flip(2) for x in (logits, hull, target))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            refined = refiner(logits, hull)
        loss = _loss(refined.float(), target, jaccard)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        done, timed_out, due = advance(bar, loss.item(), step, steps, eval_every, t0, max_minutes)
        if due:
            record = {"step": done, "loss": loss.item(), **evaluate_refiner(refiner, val),
                      "minutes": round((time.time() - t0) / 60, 2)}
            history.append(record)
            logger.info("train-refiner step %d: %s", done, json.dumps(record))
            with (out / "log.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
            if record["val4"]["refined"] > best:
                best = record["val4"]["refined"]
                _save(refiner, out / "refiner", pipeline, record)
            save_state(state_file, refiner, optimizer, scheduler, done, best, history)
        if timed_out:
            break
    bar.close()
    summary = {"pipeline": str(pipeline), "out": str(out), "view_sets": list(view_sets), "steps": done, "best_val4_iou": best,
               "train_predictions": len(train["logits"]), "minutes_this_call": round((time.time() - t0) / 60, 2),
               "history": history[-3:]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _save(refiner: SilhouetteRefiner, folder: Path, pipeline: Path, record: dict) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    refiner.save_pretrained(tmp, safe_serialization=True)
    (tmp / "selection.json").write_text(json.dumps({"pipeline": str(pipeline), **record}, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def attach_refiner(refiner_folder: str | Path, pipeline_folder: str | Path) -> None:
    """Copy a refiner folder (``train_refiner``'s ``OUT/refiner``) into a saved pipeline as its ``refiner``
    component, stored in the dtype of the pipeline's denoiser (a ``refiner/README.md`` there is kept)."""
    pipeline_folder = Path(pipeline_folder)
    index_file = pipeline_folder / "model_index.json"
    if not index_file.is_file():
        raise ValueError(f"{pipeline_folder} is not a saved pipeline folder (no model_index.json).")
    if json.loads(index_file.read_text()).get("source_encoder", [None, None])[1] != "LiftingEncoder":
        raise ValueError(f"{pipeline_folder} has no lifting encoder: the refiner reads the cameras one estimates.")
    from safetensors import safe_open

    with safe_open(str(pipeline_folder / "denoiser" / "diffusion_pytorch_model.safetensors"), framework="pt") as f:
        stored = f.get_slice(next(iter(f.keys()))).get_dtype()
    dtype = {"F16": torch.float16, "BF16": torch.bfloat16}.get(stored, torch.float32)
    from ...checkpoints import replace_component

    model = SilhouetteRefiner.from_pretrained(refiner_folder, torch_dtype=dtype)
    replace_component(pipeline_folder / "refiner", lambda folder: model.save_pretrained(folder, safe_serialization=True))
    index = json.loads(index_file.read_text())
    index["refiner"] = ["lddbm.modalities.refiner", "SilhouetteRefiner"]
    index_file.write_text(json.dumps(index, indent=2) + "\n")
