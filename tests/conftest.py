"""Shared fixtures: tiny random-weight pipelines, and the web demo (app.py) served on localhost
with tiny checkpoints (``app``, ``served_app``), so test files need not import each other."""

import contextlib
import importlib
import os
import socket
from pathlib import Path

import pytest
import torch
from PIL import Image

from lddbm.denoiser import BridgeTransformer
from lddbm.modalities import ImageDecoder, VectorEncoder
from lddbm.pipeline import LDDBMPipeline
from lddbm.scheduler import BridgeScheduler


SLOW_TESTS = "LDDBM_SLOW_TESTS"  # 1: also run the tests marked slow (CI sets it: .ci/run)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` (end-to-end training, the soak, multi-process runs) run in CI, not in every
    loop: they are deselected unless LDDBM_SLOW_TESTS=1 or a ``-m`` expression chooses for itself."""
    if os.environ.get(SLOW_TESTS) == "1" or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture
def tiny_pipeline() -> LDDBMPipeline:
    """A vector -> 8x8 image pipeline with random (non-zero) weights."""
    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=2, sample_size=4, patch_size=2, hidden_size=16, depth=1,
                                 encoder_depth=1, num_heads=2, num_mask_tokens=2)
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.05)
    pipe = LDDBMPipeline(
        VectorEncoder(dim=3, latent_channels=2, latent_size=4, width=16),
        denoiser,
        BridgeScheduler(num_inference_steps=3),
        ImageDecoder(out_channels=1, image_size=8, latent_channels=2, latent_size=4, width=8),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def make_tiny_sr() -> LDDBMPipeline:
    """An 8 px -> 32 px (x4) super-resolution pipeline with random weights (residual head included)."""
    from lddbm.modalities import AnchoredImageDecoder, LowResEncoder

    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=5, sample_size=8, patch_size=4, hidden_size=16, depth=1,
                                 encoder_depth=1, num_heads=2, num_mask_tokens=2)
    decoder = AnchoredImageDecoder(image_size=32, latent_channels=5, latent_size=8, width=8, blocks=1)
    for p in [*denoiser.parameters(), *decoder.net[-1].parameters()]:
        torch.nn.init.normal_(p, std=0.02)
    pipe = LDDBMPipeline(LowResEncoder(image_size=8, latent_channels=5, latent_size=8, width=8, blocks=1),
                         denoiser, BridgeScheduler(sampler="dbim", num_inference_steps=2), decoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture
def tiny_sr() -> LDDBMPipeline:
    return make_tiny_sr()


# ---- the web demo (app.py) with tiny checkpoints ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def make_tiny_3d() -> LDDBMPipeline:
    """A 1-4 views (16 px) -> 16^3 voxels pipeline with random weights, mostly occupied (meshes are not empty)."""
    from lddbm.modalities import MultiViewEncoder, VoxelDecoder

    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=8, sample_size=4, patch_size=2, hidden_size=16, depth=1, encoder_depth=1, num_heads=2)
    decoder = VoxelDecoder(grid=16, latent_channels=8, latent_size=4, width=8)
    torch.nn.init.constant_(decoder.net[-1].bias, 1.0)
    pipe = LDDBMPipeline(MultiViewEncoder(image_size=16, max_views=4, latent_channels=8, latent_size=4, width=8, embed_dim=16,
                                          foreground_ratio=0.75),
                         denoiser, BridgeScheduler(num_inference_steps=2), decoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def make_tiny_novelview() -> LDDBMPipeline:
    """1-3 views (16 px) + camera -> a 16 px view, random weights."""
    from lddbm.modalities import PosedViewsEncoder

    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=4, sample_size=4, patch_size=2, hidden_size=16, depth=1, encoder_depth=1, num_heads=2)
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.05)
    encoder = PosedViewsEncoder(image_size=16, max_views=3, latent_channels=4, latent_size=4, width=8, num_blocks=1,
                                camera_dim=16, global_dim=32)
    for block in encoder.blocks:  # zero-initialised in training (FiLM starts as identity): give the camera a visible effect
        torch.nn.init.normal_(block.modulation.weight, std=0.3)
    pipe = LDDBMPipeline(encoder, denoiser, BridgeScheduler(num_inference_steps=2),
                         ImageDecoder(out_channels=3, image_size=16, latent_channels=4, latent_size=4, width=8))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture
def tiny_novelview() -> LDDBMPipeline:
    return make_tiny_novelview()


def make_tiny_digits(target: str) -> LDDBMPipeline:
    """A 32 px digit translator with random weights and its target encoder: -> "printed" (takes a class label
    too, and ranks 2 candidates per translation by default, as checkpoints/digits/h2p does) or -> "handwritten"."""
    from lddbm.modalities import ImageEncoder

    torch.manual_seed(0)
    source_channels, target_channels = (1, 3) if target == "printed" else (3, 1)
    denoiser = BridgeTransformer(in_channels=4, sample_size=8, patch_size=2, hidden_size=16, depth=1, encoder_depth=1,
                                 num_heads=2, num_classes=10 if target == "printed" else 0)
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.05)
    pipe = LDDBMPipeline(ImageEncoder(in_channels=source_channels, image_size=32, latent_channels=4, latent_size=8, width=4),
                         denoiser, BridgeScheduler(num_inference_steps=2, sampler="dbim", eta=0.5,
                                                   num_candidates=2 if target == "printed" else 1),
                         ImageDecoder(out_channels=target_channels, image_size=32, latent_channels=4, latent_size=8, width=4),
                         target_encoder=ImageEncoder(in_channels=target_channels, image_size=32, latent_channels=4,
                                                     latent_size=8, width=4))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_digit_models(folder: Path) -> None:
    """FOLDER/digits/{h2p, p2h} (tiny translators) and FOLDER/digits/classifiers/{handwritten, printed} (random judges)."""
    from lddbm.tasks.digits.judges import DigitClassifier

    make_tiny_digits("printed").save_pretrained(folder / "digits" / "h2p")
    make_tiny_digits("handwritten").save_pretrained(folder / "digits" / "p2h")
    for modality, channels in (("handwritten", 1), ("printed", 3)):
        torch.manual_seed(0)
        DigitClassifier(in_channels=channels, width=4).eval().save_pretrained(folder / "digits" / "classifiers" / modality)


def save_demo_checkpoints(folder: Path) -> LDDBMPipeline:
    """The demo's checkpoints folder with tiny models: multiview3d, novelview, sr4x and the digits (so every tab
    is built), and the shipped synthetic checkpoint (small) for the toy tab. Returns the 3D pipeline."""
    pipe = make_tiny_3d()
    pipe.save_pretrained(folder / "multiview3d")
    make_tiny_novelview().save_pretrained(folder / "novelview")
    make_tiny_sr().save_pretrained(folder / "sr4x")
    save_tiny_digit_models(folder)
    synthetic = ROOT / "checkpoints" / "synthetic"
    if synthetic.is_dir():
        (folder / "synthetic").symlink_to(synthetic, target_is_directory=True)
    return pipe


@pytest.fixture
def tiny_3d(tmp_path):
    """(the tiny 3D pipeline, a checkpoints folder holding it, a tiny sr4x and the synthetic checkpoint)."""
    folder = tmp_path / "checkpoints"
    return save_demo_checkpoints(folder), folder


@contextlib.contextmanager
def patched_app(checkpoints: Path, downloads: Path):
    """The demo package (app/) with its checkpoints and download folders (app.common's) replaced, restored afterwards."""
    module = importlib.import_module("app")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module.common, "CHECKPOINTS", checkpoints)
        mp.setattr(module.common, "DOWNLOADS", downloads)
        mp.setenv("GRADIO_TEMP_DIR", str(downloads))  # build_demo points Gradio's cache there; restored afterwards
        module.common.pipeline.cache_clear()
        try:
            yield module
        finally:
            module.common.pipeline.cache_clear()


@pytest.fixture
def app(tiny_3d, tmp_path):
    """app.py on the tiny checkpoints (one test)."""
    with patched_app(tiny_3d[1], tmp_path / "downloads") as module:
        yield module


@contextlib.contextmanager
def launched(module):
    """Serve the demo (its checkpoints already patched) on a free localhost port the way app.py does
    (``serve``: bounded queue, busy message, upload limit); yields the URL and closes the server afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = module.build_demo()
    module.serve(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """(app.py on tiny checkpoints, the URL it is served at): launched once per test module."""
    folder = tmp_path_factory.mktemp("served")
    save_demo_checkpoints(folder / "checkpoints")
    with patched_app(folder / "checkpoints", folder / "downloads") as module, \
            launched(module) as url:
        yield module, url


def write_views(folder: Path, n: int = 3) -> list[str]:
    """n small plain-coloured PNG views in ``folder``."""
    paths = []
    for i in range(n):
        path = folder / f"v{i}.png"
        Image.new("RGBA", (24, 24), (40 * i, 90, 200, 255)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def views(tmp_path):
    """views(n=3) -> paths of n small PNG views in this test's tmp_path."""
    return lambda n=3: write_views(tmp_path, n)
