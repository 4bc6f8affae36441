"""Contracts a library user relies on: loading from a fresh interpreter, output types, inputs as
files, one image conversion for every path, the task/modality registry, and CLI errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.errors import ConfigError, LDDBMError
from lddbm.pipeline import LDDBMPipeline

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"


def test_from_pretrained_works_in_a_fresh_interpreter(tmp_path):
    """Only `import lddbm` (or nothing but diffusers and the folder's pipeline.py) beforehand."""
    code = textwrap.dedent(f"""
        from lddbm import LDDBMPipeline
        pipe = LDDBMPipeline.from_pretrained({str(CHECKPOINTS / "multiview3d")!r})
        print(type(pipe.target_decoder).__name__, type(pipe.segmenter).__name__)
        from diffusers import DiffusionPipeline
        same = DiffusionPipeline.from_pretrained({str(CHECKPOINTS / "sr4x")!r}, trust_remote_code=True)
        print(type(same).__name__, same.scheduler.config.sampler)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["VoxelDecoder", "MaskNet", "LDDBMPipeline", "dbim"]


def test_saved_folder_names_its_class_for_diffusers(tiny_pipeline, tmp_path):
    tiny_pipeline.save_pretrained(tmp_path)
    spec = json.loads((tmp_path / "model_index.json").read_text())
    assert spec["_class_name"] == ["pipeline", "LDDBMPipeline"]
    assert "from lddbm.pipeline import LDDBMPipeline" in (tmp_path / "pipeline.py").read_text()
    assert type(LDDBMPipeline.from_pretrained(tmp_path)) is LDDBMPipeline  # no trust_remote_code needed


def test_every_shipped_checkpoint_lists_the_components_it_carries():
    """A component folder that model_index.json does not name is never loaded (it was so for the target
    encoders of multiview3d, novelview and sr* until the re-ranking needed them)."""
    folders = sorted(p.parent for p in CHECKPOINTS.rglob("model_index.json"))
    assert len(folders) >= 7
    for folder in folders:
        listed = {k for k, v in json.loads((folder / "model_index.json").read_text()).items()
                  if not k.startswith("_") and v[0] is not None}
        carried = {p.parent.name for p in [*folder.glob("*/config.json"), *folder.glob("*/scheduler_config.json")]}
        assert carried == listed, folder.name


def test_a_folder_saved_before_the_renames_still_loads_and_samples_the_same(tmp_path):
    """Old layout: class name as a string, no pipeline.py, flat bridge fields, sampler "fast" with churn."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(CHECKPOINTS / "sr4x", old)
    (old / "pipeline.py").unlink()
    index = json.loads((old / "model_index.json").read_text())
    (old / "model_index.json").write_text(json.dumps({**index, "_class_name": "LDDBMPipeline"}))
    config = json.loads((old / "scheduler" / "scheduler_config.json").read_text())
    bridge, eta = config.pop("bridge"), config.pop("eta")
    config.update(bridge, sampler="fast", churn=eta)
    (old / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    with pytest.warns(FutureWarning, match="deprecated sampler name 'fast'"):
        before = LDDBMPipeline.load(old)
    now = LDDBMPipeline.load(CHECKPOINTS / "sr4x")
    assert before.scheduler.bridge == now.scheduler.bridge and before.scheduler.config.sampler == "dbim"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for pipe in (before, now):
        pipe.set_progress_bar_config(disable=True)
    torch.testing.assert_close(before(x).outputs, now(x).outputs)


def test_every_decoder_declares_its_output_types(tiny_pipeline, tmp_path):
    assert tiny_pipeline.output_types == ("pt", "np", "pil", "latent")
    inputs = [[0.1, -0.4, 1.2]]
    pil = tiny_pipeline(inputs, output_type="pil").outputs
    assert isinstance(pil[0], Image.Image) and pil[0].size == (8, 8)
    assert tiny_pipeline(inputs, output_type="np").outputs.shape == (1, 8, 8, 1)
    out = tiny_pipeline(inputs, output_type="latent")
    assert torch.equal(out.outputs, out.latents) and out.outputs.shape == (1, 2, 4, 4)
    with pytest.raises(ConfigError, match="'mesh' is not available for ImageDecoder; choose one of 'pt', 'np', 'pil'"):
        tiny_pipeline(inputs, output_type="mesh")


def test_voxel_decoder_gives_meshes():
    import trimesh

    from lddbm.modalities import VoxelDecoder

    decoder = VoxelDecoder(grid=16, latent_channels=4, latent_size=4, width=8)
    logits = torch.full((2, 1, 16, 16, 16), -5.0)
    logits[0, :, 4:12, 4:12, 4:12] = 5.0  # a cube in the first sample, nothing in the second
    cube, empty = decoder.postprocess(logits, "mesh")
    assert isinstance(cube, trimesh.Trimesh) and cube.is_watertight and cube.volume == pytest.approx(0.125, rel=0.05)
    assert isinstance(empty, trimesh.Trimesh) and len(empty.faces) == 0


def test_image_inputs_may_be_file_paths(tiny_sr, tmp_path):
    from lddbm.modalities.image import images_to_tensor
    from lddbm.tasks.superres.upscale import upscale

    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "small.png")
    from_path = images_to_tensor([str(tmp_path / "small.png")], 3, 16)
    torch.testing.assert_close(from_path, images_to_tensor(Image.fromarray(rgb), 3, 16))
    by_path, by_image = upscale(tiny_sr, tmp_path / "small.png"), upscale(tiny_sr, Image.fromarray(rgb))
    assert by_path.image.size == (64, 64) and np.array_equal(np.asarray(by_path.image), np.asarray(by_image.image))


def test_a_16_bit_image_is_the_same_picture_in_every_path():
    """A 16-bit image filled with 1000 (of 65535) is near black for the 3D views, the SR tiles and
    the generic conversion alike (it used to be white in the 3D path)."""
    from lddbm.framing import normalize_view
    from lddbm.images import pil_to_tensor
    from lddbm.modalities.multiview import load_views
    from lddbm.tasks.superres.tiling import split_alpha

    image = Image.fromarray(np.full((32, 32), 1000, dtype=np.uint16))
    assert image.mode.startswith("I;16")
    expected = round(1000 / 65535 * 255) / 127.5 - 1  # 4 of 255
    values = {
        "pil_to_tensor": pil_to_tensor(image).unique(),
        "3d views (unframed)": load_views([image], 16).unique(),
        "3d views (framed)": pil_to_tensor(normalize_view(image, remove_background=False).image.convert("RGB"))[:, 16, 16].unique(),
        "super-resolution": torch.from_numpy(split_alpha(image)[0]).unique(),
    }
    for path, v in values.items():
        assert v.tolist() == pytest.approx([expected]), path


def test_every_task_plugs_in_through_the_protocols():
    """Each task's networks meet in one latent shape: a latent decoded and encoded again keeps it, the
    reconstruction loss is a finite scalar that trains the decoder, "pt" and "np" post-processing keep
    the batch, and the source encoder declares the same latent layout (what the pipeline and trainer
    rely on)."""
    from lddbm.presets import get_preset
    from lddbm.tasks import TASKS

    torch.manual_seed(0)
    for task in TASKS.values():
        preset = get_preset(task.default_preset)
        modules = task.build_modalities(preset)
        shape = (2, preset.latent.channels, preset.latent.size, preset.latent.size)
        decoder, encoder = modules["target_decoder"].eval(), modules["target_encoder"].eval()
        decoded = decoder(torch.randn(shape) * 0.5)
        with torch.no_grad():
            assert encoder(decoded).shape == shape, task.name
        loss = decoder.reconstruction_loss(decoded, decoded.detach().clamp(0, 1))
        loss.backward()
        assert loss.ndim == 0 and torch.isfinite(loss) and loss.item() >= 0, task.name
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters()), task.name
        decoded = decoded.detach()
        assert {"pt", "np"} <= set(decoder.output_types), task.name
        assert len(decoder.postprocess(decoded, "np")) == 2 and len(decoder.postprocess(decoded, "pt")) == 2, task.name
        source = modules["source_encoder"]
        assert callable(source.preprocess), task.name
        assert (source.config.latent_channels, source.config.latent_size) == shape[1:3], task.name


def cli(args: list[str]) -> int:
    from lddbm.__main__ import main

    return main(args)


def test_eval_refuses_to_score_a_checkpoint_as_another_task(capsys):
    assert cli(["eval", "synthetic", "--checkpoint", str(CHECKPOINTS / "sr4x")]) == 2
    assert "is a 'sr4x' model (task 'superres'), not 'synthetic'" in capsys.readouterr().err
    assert cli(["eval", "synthetic", "--checkpoint", str(CHECKPOINTS / "synthetic"), "--images", "x"]) == 2
    assert "--images does not apply to the synthetic task" in capsys.readouterr().err
    assert cli(["eval", "sr4x", "--checkpoint", str(CHECKPOINTS / "sr4x"), "--views", "4"]) == 2
    assert "--views applies to multi-view tasks" in capsys.readouterr().err


def test_a_sampler_option_the_sampler_does_not_read_is_an_error(capsys, tmp_path):
    image = tmp_path / "small.png"
    Image.new("RGB", (32, 32), (120, 30, 200)).save(image)
    code = cli(["upscale", "--checkpoint", str(CHECKPOINTS / "sr4x"), "--image", str(image), "--out",
                str(tmp_path / "big.png"), "--guidance", "2"])
    assert code == 2 and "The dbim sampler has no option guidance; it takes eta" in capsys.readouterr().err


def test_sample_with_a_checkpoint_of_another_task_says_which(capsys, tmp_path):
    view = ROOT / "assets" / "multiview3d" / "blendswap-cc-0-bench" / "view_0.png"
    code = cli(["sample", "--checkpoint", str(CHECKPOINTS / "sr4x"), "--views", str(view), "--out", str(tmp_path / "a.glb")])
    assert code == 2 and "is not a views -> 3D model" in capsys.readouterr().err


def test_sample_refuses_an_output_it_cannot_write_before_working(capsys, tmp_path):
    """--out shape.npy: one line naming the mesh formats, before the checkpoint is even loaded."""
    view = ROOT / "assets" / "multiview3d" / "blendswap-cc-0-bench" / "view_0.png"
    code = cli(["sample", "--checkpoint", str(tmp_path / "no-such-checkpoint"), "--views", str(view), "--out",
                str(tmp_path / "shape.npy")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "use one of the suffixes .glb, .obj, .stl" in err
    assert not (tmp_path / "shape.npy").exists()


def test_cli_prints_user_errors_but_keeps_tracebacks_of_bugs(monkeypatch, capsys):
    import lddbm.__main__ as cli_module

    def user_error(args, extra):
        raise ConfigError("a message for the user")

    def bug(args, extra):
        raise KeyError("a bug")

    monkeypatch.setattr(cli_module, "cmd_train", user_error)
    assert cli(["train", "--preset", "synthetic"]) == 2
    assert capsys.readouterr().err.strip() == "error: a message for the user"
    monkeypatch.setattr(cli_module, "cmd_train", bug)
    with pytest.raises(KeyError):
        cli(["train", "--preset", "synthetic"])
    assert issubclass(ConfigError, (LDDBMError, ValueError))
