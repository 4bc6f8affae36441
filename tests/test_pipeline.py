import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.pipeline import CheckpointError, LDDBMPipeline, LDDBMPipelineOutput

INPUTS = [[0.1, -0.4, 1.2], [0.0, 0.3, -0.7]]


def run(pipe, seed=0, **kw):
    return pipe(INPUTS, generator=torch.Generator().manual_seed(seed), **kw)


def test_output_dataclass_and_nfe(tiny_pipeline):
    out = run(tiny_pipeline)
    assert isinstance(out, LDDBMPipelineOutput)
    assert out.outputs.shape == (2, 1, 8, 8) and out.latents.shape == (2, 2, 4, 4)
    assert out.nfe == 5  # 3 Heun steps without churn: 2 * 3 - 1
    assert run(tiny_pipeline, sampler="dbim", num_inference_steps=4).nfe == 4
    images = run(tiny_pipeline, output_type="pil").outputs
    assert len(images) == 2 and isinstance(images[0], Image.Image) and images[0].size == (8, 8)
    outputs, latents, nfe, seconds = run(tiny_pipeline, return_dict=False)
    assert nfe == 5 and seconds > 0


def test_sampling_is_deterministic_given_the_seed(tiny_pipeline):
    """Same seed, same numbers; a stochastic sampler with another seed differs. (Determinism only:
    the numbers themselves are pinned per shipped checkpoint in test_expected_slices.py.)"""
    a = run(tiny_pipeline, churn=0.5).outputs
    b = run(tiny_pipeline, churn=0.5).outputs
    c = run(tiny_pipeline, churn=0.5, seed=1).outputs
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_num_samples_and_callback(tiny_pipeline):
    seen = []
    out = run(tiny_pipeline, num_samples=3, churn=0.5, callback=lambda i, t, x, d: seen.append((i, t)))
    assert out.outputs.shape[0] == 6
    assert not torch.equal(out.outputs[0], out.outputs[1])  # distinct stochastic samples of input 0
    assert [i for i, _ in seen] == list(range(out.nfe))


def test_save_load_round_trip_identical(tiny_pipeline, tmp_path):
    tiny_pipeline.save_pretrained(tmp_path)
    assert not list(tmp_path.rglob("*.bin")) and len(list(tmp_path.rglob("*.safetensors"))) == 3
    loaded = LDDBMPipeline.load(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    for sampler in ("heun", "dbim"):
        assert torch.equal(run(tiny_pipeline, sampler=sampler).outputs, run(loaded, sampler=sampler).outputs)


def test_float16_export_loads_as_float32(tiny_pipeline, tmp_path):
    tiny_pipeline.to(torch.float16).save_pretrained(tmp_path)
    loaded = LDDBMPipeline.load(tmp_path)
    assert loaded.denoiser.dtype == torch.float32
    tiny_pipeline.to(torch.float32)
    out = run(loaded).outputs
    assert torch.allclose(out, run(tiny_pipeline).outputs, atol=2e-2)


def test_clear_errors_for_broken_folders(tiny_pipeline, tmp_path):
    good = tmp_path / "good"
    tiny_pipeline.save_pretrained(good)

    def broken(name):
        folder = tmp_path / name
        shutil.copytree(good, folder)
        return folder

    with pytest.raises(CheckpointError, match="No pipeline folder .*nowhere"):
        LDDBMPipeline.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="model_index.json is missing"):
        LDDBMPipeline.load(tmp_path / "empty")

    folder = broken("missing")
    shutil.rmtree(folder / "denoiser")
    with pytest.raises(CheckpointError, match=r"denoiser[/\\]config.json is missing"):
        LDDBMPipeline.load(folder)

    folder = broken("corrupt")
    (folder / "target_decoder" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"target_decoder[/\\]diffusion_pytorch_model.safetensors is corrupt"):
        LDDBMPipeline.load(folder)

    folder = broken("mismatch")
    cfg_file = folder / "denoiser" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["hidden_size"] = 32
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="has shape .* but .*config.json implies"):
        LDDBMPipeline.load(folder)


def test_bad_inputs_raise_clear_errors(tiny_pipeline):
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        tiny_pipeline([[1.0, 2.0]])
    with pytest.raises(ValueError, match="NaN"):
        tiny_pipeline([[np.nan, 0.0, 1.0]])
    with pytest.raises(ValueError, match="num_samples"):
        tiny_pipeline(INPUTS, num_samples=0)


def test_concurrent_calls_do_not_share_sampling_state(tiny_pipeline):
    """A web server calls one pipeline from several threads; each call keeps its own plan."""
    from concurrent.futures import ThreadPoolExecutor

    settings = [dict(sampler="heun", num_inference_steps=6), dict(sampler="dbim", num_inference_steps=3)] * 3
    expected = [run(tiny_pipeline, **kw).outputs for kw in settings]
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda kw: run(tiny_pipeline, **kw).outputs, settings))
    for a, b in zip(expected, got):
        assert torch.equal(a, b)
    assert tiny_pipeline.scheduler.num_inference_steps == 3  # the shared scheduler keeps its config plan


def test_multiview_pipeline_with_its_segmenter_round_trips(tmp_path):
    """The optional segmenter component is saved, checked, loaded and used by preprocess (and a
    pipeline without one still loads)."""
    from lddbm.denoiser import BridgeTransformer
    from lddbm.modalities import MultiViewEncoder, VoxelDecoder
    from lddbm.scheduler import BridgeScheduler
    from lddbm.segmentation import MaskNet

    torch.manual_seed(0)
    parts = dict(
        source_encoder=MultiViewEncoder(image_size=16, max_views=2, latent_channels=4, latent_size=4, width=8,
                                        embed_dim=16, foreground_ratio=0.75),
        denoiser=BridgeTransformer(in_channels=4, sample_size=4, patch_size=2, hidden_size=16, depth=1, encoder_depth=1,
                                   num_heads=2),
        scheduler=BridgeScheduler(num_inference_steps=2), target_decoder=VoxelDecoder(grid=16, latent_channels=4, latent_size=4, width=8))
    calls = []

    class Counting(MaskNet):
        def segment(self, rgb, **kw):
            calls.append(rgb.shape)
            return super().segment(rgb, **kw)

    LDDBMPipeline(**parts).save_pretrained(tmp_path / "plain")
    assert LDDBMPipeline.load(tmp_path / "plain").segmenter is None
    pipe = LDDBMPipeline(**parts, segmenter=MaskNet(image_size=32, widths=(8, 16)))
    pipe.save_pretrained(tmp_path / "seg")
    assert json.loads((tmp_path / "seg" / "model_index.json").read_text())["segmenter"] == ["lddbm.segmentation", "MaskNet"]
    loaded = LDDBMPipeline.load(tmp_path / "seg")
    assert isinstance(loaded.segmenter, MaskNet)
    loaded.segmenter.__class__ = Counting  # count the calls the pipeline makes
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    out = loaded([photo, photo], num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    assert out.outputs.shape == (1, 16, 16, 16) and calls == [(40, 50, 3)] * 2
    loaded([photo], num_inference_steps=1, preprocess_kwargs={"remove_background": False})
    assert len(calls) == 2  # not segmented when asked not to
    (tmp_path / "seg" / "segmenter" / "diffusion_pytorch_model.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointError, match="segmenter"):
        LDDBMPipeline.load(tmp_path / "seg")
