"""Pinned output slices of the shipped checkpoints (diffusers-style ``expected_slice`` tests).

Each shipped folder in checkpoints/ is loaded once, run on ONE fixed input with its own default
sampler, a small explicit ``num_inference_steps`` and ``torch.Generator().manual_seed(0)``, and a
3x3 patch of the decoded output and of ``out.latents`` is compared with numbers written down when
this file was made. A change to the weights, the configs, the preprocessing, the bridge maths or the
samplers shows up here, even where two runs of the new code would still agree with each other.

Where the numbers come from: commit eff5f42 (the tree as committed, exported with ``git archive``
while the working tree was being edited), CPU, torch 2.13, diffusers 0.42.1, printed with
``np.set_printoptions(precision=4)`` by the same calls as below; identical to 1e-6 with
``torch.set_num_threads(1)`` and with 2 threads. To re-pin after an *intended* change, print the
failing slice (the assertion message shows it) and say in the commit why the numbers moved.

Tolerance: the weights are stored as float16 (float32 for the toy) but loaded and computed in
float32 on the CPU; runs differ only by float32 summation order (threads, CPU vector width),
measured at ~2e-7 here. 1e-3 absolute, on outputs in [-1, 1] (images) or [0, 1] (occupancy) and on
latents of std ~0.5-1, leaves ~1000x room for that yet fails on real changes: measured on these
patches, one step more or fewer, the other sampler, or skipping the segmenter moves them by 0.17
to 18 (Heun checkpoints); for sr4x, Heun instead of DBIM moves them by 0.1 / 7, 3 DBIM steps
instead of 2 by 1e-3 / 2e-2, eta 0.5 by 1e-4 / 3e-3 (outputs / latents). One and two DBIM steps
give the same sr4x tile to 4e-4 (its card: they tie), so the step count is pinned by ``nfe``.
The patches were chosen away from the decoders' clamp at +-1 and from saturated sigmoids, so they
react to changes instead of sitting at a bound.

Only ``inputs``, ``num_inference_steps``, ``generator`` (and ``preprocess_kwargs`` for multi-view)
are passed: the sampler and its options come from the checkpoint's own scheduler config, which is
what these tests pin (Heun with churn 0; DBIM, formerly ``fast``, with eta 0; both deterministic,
so the generator only fixes the call's signature).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.pipeline import LDDBMPipeline

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
ASSETS = ROOT / "assets"

ATOL = 1e-3  # see the module docstring


def load(name: str) -> LDDBMPipeline:
    folder = CHECKPOINTS / name
    if not (folder / "model_index.json").is_file():
        pytest.skip(f"no shipped checkpoint in {folder}")
    pipe = LDDBMPipeline.load(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def assert_slice(actual: torch.Tensor, expected: list[float]) -> None:
    actual = actual.detach().float().cpu().numpy().flatten()
    expected = np.array(expected, dtype=np.float32)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() < ATOL, f"got {np.array2string(actual, precision=4, separator=', ')}"


# ---- synthetic: 8-d vector -> 16x16 disc image (default sampler Heun) ----------------------------

# the noiseless source vector y = W u of the disc u = (cx, cy, r) = (0.1, -0.2, 0.3), with the
# task's fixed W (lddbm.tasks.synthetic.data.source_matrix, seed 0), rounded to 4 decimals
SYNTHETIC_INPUT = [[0.0427, -0.0055, 0.5319, -0.2247, -0.2013, 0.1802, 0.3752, -0.5679]]


@pytest.fixture(scope="module")
def synthetic_output():
    pipe = load("synthetic")
    return pipe(torch.tensor(SYNTHETIC_INPUT), num_inference_steps=3, generator=torch.Generator().manual_seed(0))


def test_synthetic_checkpoint_matches_pinned_slice(synthetic_output):
    out = synthetic_output
    assert out.nfe == 5  # Heun, 3 steps, no churn: 2 * 3 - 1 (the checkpoint's default sampler)
    assert tuple(out.outputs.shape) == (1, 1, 16, 16) and tuple(out.latents.shape) == (1, 4, 4, 4)
    # the disc's lower-left edge (pixels in [-1, 1])
    assert_slice(out.outputs[0, 0, 7:10, 6:9],
                 [-0.3521, 0.6645, 0.9719, -0.6666, 0.1185, 0.5289, -0.9431, -0.6580, -0.4824])
    assert_slice(out.latents[0, -1, -3:, -3:],
                 [1.0344, 0.2163, -0.4996, 0.8205, -0.6325, -0.6463, -0.4495, -0.7940, -0.3698])


# ---- multiview3d: 4 views -> 32^3 occupancy (default sampler Heun; shipped segmenter) ------------

# The four views of the first shipped example (by name; RGB renders on a light background, no
# transparency).
# remove_background=True (the default, passed explicitly): the path every upload takes in the demo
# and the CLI, so the shipped `segmenter` component is covered too. It is deterministic: MaskNet
# with refine=false is a plain forward pass thresholded at 0.5 (no GrabCut, no randomness), and on
# these views no pixel's probability is within 7e-4 of the threshold (the segmenter shipped 2026-12-08, trained with photographed cut-outs)
# while thread counts move it by ~1e-7, so the masks cannot flip; their pixel counts are pinned below as well, so a failure says
# whether the segmentation or the bridge moved.
MULTIVIEW_VIEWS = [ASSETS / "multiview3d" / "blendswap-cc-0-bench" / f"view_{i}.png" for i in range(4)]


@pytest.fixture(scope="module")
def multiview3d_pipe():
    if not all(v.is_file() for v in MULTIVIEW_VIEWS):
        pytest.skip("the multiview3d example views are not in assets/")
    return load("multiview3d")


@pytest.fixture(scope="module")
def multiview3d_output(multiview3d_pipe):
    return multiview3d_pipe([str(v) for v in MULTIVIEW_VIEWS], num_inference_steps=3,
                            generator=torch.Generator().manual_seed(0),
                            preprocess_kwargs={"remove_background": True})


def test_multiview3d_segmenter_masks_match_pinned_pixel_counts(multiview3d_pipe):
    rgb = [np.array(Image.open(v).convert("RGB")) for v in MULTIVIEW_VIEWS]  # plain 128x128 RGB PNGs
    assert [int(multiview3d_pipe.segmenter.segment(x).sum()) for x in rgb] == [1121, 1437, 1325, 1096]


def test_multiview3d_checkpoint_matches_pinned_slice(multiview3d_output):
    out = multiview3d_output
    assert out.nfe == 5  # Heun, 3 steps, no churn (the checkpoint's default sampler)
    assert tuple(out.outputs.shape) == (1, 32, 32, 32) and tuple(out.latents.shape) == (1, 16, 8, 8)
    # occupancy probabilities at the grid's edge, mostly empty, after the silhouette refiner (the pooled-encoder
    # checkpoint before it filled the edge here; the slice pins the numbers, not their quality)
    assert_slice(out.outputs[0, 16, 0:3, 0:3],
                 [0.3154, 0.0842, 0.0197, 0.2053, 0.0355, 0.0077, 0.1732, 0.0192, 0.0048])
    assert_slice(out.latents[0, -1, -3:, -3:],
                 [0.0276, 4.4858, 0.5189, 3.8927, 4.2601, 0.1809, -0.3127, 2.8361, 0.5390])


# ---- sr4x: 32x32 -> 128x128 (default sampler DBIM, eta 0) -----------------------------------------

SR_EXAMPLE = ASSETS / "sr4x" / "mate-backgrounds-garden" / "lr.png"


def sr4x_input() -> torch.Tensor:
    """The centre 32x32 tile (the model's tile size) of a shipped 128x128 example, (1, 3, 32, 32) in
    [-1, 1]: a natural, textured image, so the output is not dominated by the clamp at +-1 as it is
    for uniform noise."""
    lr = np.asarray(Image.open(SR_EXAMPLE).convert("RGB"), dtype=np.float32)[48:80, 48:80]
    return torch.from_numpy(lr / 127.5 - 1).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def sr4x_output():
    if not SR_EXAMPLE.is_file():
        pytest.skip(f"no {SR_EXAMPLE}")
    pipe = load("sr4x")
    x = sr4x_input()
    return x, pipe(x, num_inference_steps=2, generator=torch.Generator().manual_seed(0))


def test_sr4x_checkpoint_matches_pinned_slice(sr4x_output):
    x, out = sr4x_output
    assert out.nfe == 2  # DBIM, 2 steps: one network evaluation per step (the checkpoint's default sampler)
    assert tuple(out.outputs.shape) == (1, 3, 128, 128) and tuple(out.latents.shape) == (1, 19, 32, 32)
    # green channel at the centre of the HR tile (pixels in [-1, 1])
    assert_slice(out.outputs[0, 1, 62:65, 62:65],
                 [0.2462, 0.2778, 0.2972, 0.2057, 0.2417, 0.2645, 0.1636, 0.2067, 0.2359])
    # a learned detail channel (channels 0-2 are the anchor, carried over from the input unchanged)
    assert_slice(out.latents[0, -1, 14:17, 14:17],
                 [0.2805, 0.2795, 0.3209, 0.2576, 0.2597, 0.2962, 0.2174, 0.2238, 0.2532])
    assert torch.equal(out.latents[:, :3], x)
