"""Novel views: evaluation and the orbit helper (the model maths lives in the shared modules).

``evaluate_novelview`` scores a pipeline on fixed requests of a split (``lddbm.tasks.novelview.data``):
PSNR and SSIM against the true view; two figures that do not reward blur — the gradient-energy
ratio (detail in the prediction / detail in the truth; a blurred answer scores below 1) and KID
(``metrics.kid``) on the 512-d view embedding of our views -> 3D model's view CNN (a network we
trained for another task, so it shares no weights with the models scored) — each overall and per
Δazimuth bucket (near < 60°, side 60-120°, back >= 120°); the copy baseline (the source view
nearest the target, chosen with the true cameras the model is not told, as rendered) and the same view
as the model receives it (``copy_framed``: framed like an upload, so at the object size uploads are
given rather than the render's own; what copying the model's own input scores) and, optionally, a
second pipeline (e.g. the regression baseline) scored on the same requests.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from ...metrics import gradient_energy, kid, psnr, ssim
from ...source_batches import batch_slice, batch_stack

__all__ = ["BUCKETS", "evaluate_novelview", "orbit_azimuths", "score_examples", "synthesize_views", "view_features"]

logger = logging.getLogger(__name__)

BUCKETS = {"near": (0.0, 60.0), "side": (60.0, 120.0), "back": (120.0, 180.1)}  # |Δazimuth|, degrees


def orbit_azimuths(count: int, start: float = 0.0) -> list[float]:
    """``count`` azimuths evenly around the object from ``start`` (degrees, relative to the first view)."""
    if count < 1:
        raise ValueError(f"An orbit needs at least one view, got {count}.")
    return [start + 360.0 * k / count for k in range(count)]


def view_features(encoder_folder: str | Path, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """(N, 3, S, S) images in [-1, 1] -> (N, E) embeddings of a views -> 3D source encoder's view CNN, the
    images resized to its input size: ``MultiViewEncoder.view_net`` (E = 512), or a ``LiftingEncoder``'s
    feature maps averaged and maxed over the image (E = 4 x its width)."""
    import json

    import torch.nn.functional as F

    from ...modalities import LiftingEncoder, MultiViewEncoder

    kind = json.loads((Path(encoder_folder) / "config.json").read_text()).get("_class_name")
    cls = LiftingEncoder if kind == "LiftingEncoder" else MultiViewEncoder
    encoder = cls.from_pretrained(Path(encoder_folder)).float().eval()
    size = encoder.config.image_size
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = images[i : i + batch].float()
            if x.shape[-1] != size:
                x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            y = encoder.view_net(x)
            out.append(y if y.ndim == 2 else torch.cat([y.mean((2, 3)), y.amax((2, 3))], dim=1))
    return torch.cat(out)


def _scores(per_image: dict[str, torch.Tensor], keep: torch.Tensor, features: torch.Tensor | None,
            true_features: torch.Tensor | None) -> dict:
    """Scores of the requests where ``keep`` is true, from the per-image PSNR / SSIM computed once."""
    report = {
        "psnr": float(per_image["psnr"][keep].mean()),
        "ssim": float(per_image["ssim"][keep].mean()),
        "gradient_energy_ratio": float(per_image["energy"][keep].mean() / per_image["true_energy"][keep].mean()),
    }
    if features is not None and int(keep.sum()) > 1:
        report["kid"] = kid(features[keep], true_features[keep])
    return report


def evaluate_novelview(pipe, preset, split: str, limit: int | None, opts, features: str | None = None,
                       baseline: str | None = None, candidates: int | None = None) -> dict:
    """See the module docstring. ``limit``: the first N objects (each gives one request per other view);
    ``features``: a views -> 3D pipeline folder (its ``source_encoder``) for KID, None to skip it;
    ``baseline``: a second pipeline folder, sampled with its own defaults; ``candidates``: bridge samples
    per view, the one best aligned with its source kept (the pipeline's ``num_candidates``; default: the
    checkpoint's)."""
    from .data import NovelViews
    from ...pipeline import LDDBMPipeline
    from .. import SampleOptions, translate

    d = preset.data
    data = NovelViews(d.root, split, num_views=d.num_views, image_size=d.image_size, foreground_ratio=d.foreground_ratio,
                      augment=False, limit_objects=limit)
    items = [data[i] for i in range(len(data))]
    sources = batch_stack([it["source"] for it in items])
    target = torch.stack([it["target"] for it in items])  # (N, 3, S, S)
    deltas = torch.tensor([abs(it["delta_azimuth"]) for it in items])
    predictions = {"copy": torch.stack([it["nearest"] for it in items]),
                   "copy_framed": torch.stack([it["source"]["views"][it["nearest_source"]] for it in items])}
    k = pipe.default_num_candidates if candidates is None else candidates
    start = time.perf_counter()
    predictions["lddbm"], nfe = translate(pipe, sources, opts, num_candidates=k)
    seconds = (time.perf_counter() - start) / len(items)
    nfes = {"lddbm": nfe, "copy": 0, "copy_framed": 0}
    if baseline:
        other = LDDBMPipeline.load(baseline, device=pipe.device)
        other.set_progress_bar_config(disable=True)
        predictions["baseline"], nfes["baseline"] = translate(other, sources, SampleOptions(seed=opts.seed,
                                                                                          batch_size=opts.batch_size))
    feats = {}
    if features:
        feats = {name: view_features(Path(features) / "source_encoder", x) for name, x in {**predictions, "truth": target}.items()}
    report = {"split": split, "objects": len(data.ids), "requests": len(items), "views": d.num_views, "nfe": nfes["lddbm"],
              "candidates": k, "nfe_per_method": nfes, "kid_features": str(Path(features) / "source_encoder") if features else None,
              "baseline": baseline, "seconds_per_view": seconds}
    true_energy = gradient_energy(target)
    everything = torch.ones(len(items), dtype=torch.bool)
    for name, pred in predictions.items():
        per_image = {"psnr": psnr(pred, target), "ssim": ssim(pred, target), "energy": gradient_energy(pred),
                     "true_energy": true_energy}
        report[name] = _scores(per_image, everything, feats.get(name), feats.get("truth"))
        report[name]["per_bucket"] = {}
        for bucket, (low, high) in BUCKETS.items():
            keep = (deltas >= low) & (deltas < high)
            if keep.any():
                report[name]["per_bucket"][bucket] = {"requests": int(keep.sum()),
                                                      **_scores(per_image, keep, feats.get(name), feats.get("truth"))}
    report["psnr"] = report["lddbm"]["psnr"]
    report["psnr_gain_over_copy"] = report["lddbm"]["psnr"] - report["copy"]["psnr"]
    report["psnr_gain_over_framed_copy"] = report["lddbm"]["psnr"] - report["copy_framed"]["psnr"]
    one = batch_slice(sources, 0, 1)
    single = []
    for _ in range(3):  # one new view, as the demo asks for it
        t0 = time.perf_counter()
        translate(pipe, one, opts, num_candidates=k)
        single.append(time.perf_counter() - t0)
    report["latency_seconds"] = sorted(single)[1]
    # an orbit of 12 views as the demo makes it: one call per view (the progress bar moves per view)
    _, _, report["orbit12_seconds"] = synthesize_views(pipe, one["views"], orbit_azimuths(12), float(one["camera"][0, 1]),
                                                       seed=opts.seed, num_candidates=k, **opts.sampler_kwargs())
    logger.info("novel views: PSNR %.2f (copy %.2f)", report["lddbm"]["psnr"], report["copy"]["psnr"])
    return report


def synthesize_views(pipe, views, azimuths, elevation: float, seed: int = 0, progress=None, **sampling):
    """New views of one object: ``views`` (PIL images, paths or ``NormalizedView``s, or a preprocessed
    (V, 3, S, S) tensor; the first is the reference), one image per azimuth in ``azimuths`` (degrees, relative to the first view) at camera
    height ``elevation``. Returns (PIL images, NFE per view, seconds). ``progress(done, total)`` is
    called after each view; every view has its own generator seeded from ``seed``, so a view does not
    depend on how many others are asked for. ``sampling``: the pipeline's sampling keywords."""
    start = time.perf_counter()
    if torch.is_tensor(views):  # already preprocessed: (V, 3, S, S) or (1, V, 3, S, S) in [-1, 1]
        framed = views.reshape(1, *views.shape[-4:])
    else:
        framed = pipe.source_encoder.preprocess(views, azimuth=0.0, elevation=elevation,
                                                segmenter=getattr(pipe, "segmenter", None))["views"]
    images, nfe = [], 0
    for k, azimuth in enumerate(azimuths):
        request = {"views": framed, "camera": torch.tensor([[float(azimuth), float(elevation)]])}
        request = pipe.source_encoder.preprocess(request)  # checked (elevation range) and on the device
        generator = torch.Generator(device=pipe.device).manual_seed(int(seed) + 7919 * k)
        out = pipe(request, generator=generator, output_type="pil", **sampling)
        images.append(out.outputs[0])
        nfe = out.nfe
        if progress is not None:
            progress(k + 1, len(azimuths))
    return images, nfe, time.perf_counter() - start


def score_examples(pipe, root: str | Path, seed: int = 0, **sampling) -> dict[str, float]:
    """Mean PSNR (dB) of the generated views against every true render of each exported example
    (``lddbm.tasks.novelview.data.export_examples``: inputs view_*.png, renders truth_*.png, cameras in
    meta.json), at the model's image size: {example folder name: PSNR}."""
    import json

    from PIL import Image

    from ...images import pil_to_tensor
    from ...modalities.posedviews import relative_azimuth

    size = pipe.target_decoder.config.image_size
    max_views = pipe.source_encoder.config.max_views
    scores = {}
    for folder in sorted(p for p in Path(root).iterdir() if (p / "meta.json").is_file()):
        meta = json.loads((folder / "meta.json").read_text())
        images = [Image.open(folder / name).convert("RGB") for name in meta["views"][:max_views]]
        views = pipe.source_encoder.preprocess(images, segmenter=getattr(pipe, "segmenter", None))["views"]  # framed once
        reference = meta["cameras"][meta["views"][0]][0]
        names = sorted(meta["truth"])
        cams = [(float(relative_azimuth(meta["truth"][n][0], reference)), float(meta["truth"][n][1])) for n in names]
        values = []
        for name, (azimuth, elevation) in zip(names, cams):
            made, _, _ = synthesize_views(pipe, views, [azimuth], min(elevation, 60.0), seed=seed, **sampling)
            with Image.open(folder / name) as im:
                truth = pil_to_tensor(im.convert("RGB").resize((size, size), Image.BICUBIC))
            values.append(float(psnr(pil_to_tensor(made[0])[None], truth[None])))
        scores[folder.name] = sum(values) / len(values)
    return scores
