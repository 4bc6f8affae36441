"""Super-resolution: the anchored latent, whole-image upscaling, metrics, the eval CLI and training."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skdata

from lddbm.__main__ import main as cli
from lddbm.errors import ConfigError
from lddbm.data.photos import degrade, to_tensor
from lddbm.modalities import AnchoredImageDecoder, AnchoredImageEncoder, LowResEncoder
from lddbm.presets import apply_overrides, get_preset
from lddbm.tasks.superres.upscale import evaluate_images, image_metrics, upscale
from lddbm.train import train


def photo(size=128) -> Image.Image:
    return Image.fromarray(skdata.astronaut()[100 : 100 + size, 150 : 150 + size])


def test_hr_anchor_is_the_degraded_input_and_untrained_decoder_is_bicubic():
    hr = photo(128)
    lr = to_tensor(degrade(hr, 4))[None]
    encoder = AnchoredImageEncoder(image_size=128, latent_channels=7, latent_size=32, width=8, blocks=1)
    z = encoder(to_tensor(hr)[None])
    assert z.shape == (1, 7, 32, 32)
    assert (z[:, :3] - lr).abs().mean() < 0.01  # same operator as the LR input (up to PIL's uint8 rounding)
    detail = z[:, 3:]
    assert abs(detail.std().item() - 0.5) < 0.01 and abs(detail.mean().item()) < 1e-4  # standardised
    decoder = AnchoredImageDecoder(image_size=128, latent_channels=7, latent_size=32, width=8, blocks=1)
    expected = F.interpolate(z[:, :3], scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(decoder(z), expected)  # the residual head starts at zero


def test_the_anchor_correction_starts_as_the_input_and_is_trained_by_the_predictive_loss():
    encoder = LowResEncoder(image_size=16, latent_channels=7, latent_size=32, width=8, blocks=1, anchor_blocks=1)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    z = encoder(x)
    torch.testing.assert_close(z[:, :3], F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False))
    z[:, :3].pow(2).mean().backward()  # any loss on the carried-over anchor reaches the correction
    assert encoder.anchor_net[-1].weight.grad.abs().sum() > 0


def test_the_decoders_second_stage_starts_as_the_first_and_loads_a_checkpoint_without_it(tmp_path):
    """refine_blocks: a second stage reads the decoded image back and corrects it; zero at first, so the
    decoder given it starts as the same decoder without it, and a checkpoint without it loads (fresh stage)."""
    from lddbm.train import load_weights

    kw = dict(image_size=64, latent_channels=7, latent_size=16, width=8, blocks=1)
    plain = AnchoredImageDecoder(**kw)
    torch.nn.init.normal_(plain.net[-1].weight, std=0.1)  # a trained first stage
    refined = AnchoredImageDecoder(**kw, refine_blocks=1)
    z = torch.randn(2, 7, 16, 16)

    class Holder(torch.nn.Module):  # load_weights reads a pipeline folder's component into a module of that name
        def __init__(self, decoder):
            super().__init__()
            self.target_decoder = decoder

    plain.save_pretrained(tmp_path / "target_decoder", safe_serialization=True)
    load_weights(Holder(refined), tmp_path, ("target_decoder",))
    torch.testing.assert_close(refined(z), plain(z))
    refined(z).square().mean().backward()  # and it trains
    assert refined.refine[-1].weight.grad.abs().sum() > 0


def test_the_trunks_without_groupnorm_still_anchor_and_start_as_bicubic():
    """norm="none" (EDSR-style trunks): no GroupNorm anywhere, the same anchoring and the same bicubic start;
    the preset's data.norm reaches all three modules, and an unknown norm is refused."""
    from lddbm.tasks.superres import modalities

    kw = dict(latent_channels=7, latent_size=32, width=8, blocks=1, norm="none")
    hr = to_tensor(photo(128))[None]
    lr = F.interpolate(hr, size=(32, 32), mode="bicubic", antialias=True, align_corners=False)
    z = AnchoredImageEncoder(image_size=128, **kw)(hr)
    torch.testing.assert_close(z[:, :3], lr)
    torch.testing.assert_close(LowResEncoder(image_size=32, **kw)(lr)[:, :3], lr)
    torch.testing.assert_close(AnchoredImageDecoder(image_size=128, **kw)(z),
                               F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False))
    preset = apply_overrides(get_preset("sr4x"), {"data.norm": "none", "latent.width": "8"})
    for name, module in modalities(preset).items():
        assert module.config.norm == "none", name
        assert not any(isinstance(m, torch.nn.GroupNorm) for m in module.modules()), name
    assert any(isinstance(m, torch.nn.GroupNorm) for m in LowResEncoder(image_size=32, latent_channels=7).modules())
    with pytest.raises(ValueError, match="norm must be one of"):
        LowResEncoder(image_size=32, latent_channels=7, norm="batch")


def test_the_decoder_can_project_its_image_onto_the_anchor():
    """anchor_projection: the decoded image's down-sampling moves onto the anchor, gradients still reach the
    residual head, and the preset's data.anchor_projection reaches the decoder."""
    from lddbm.modalities.superres import downsample
    from lddbm.tasks.superres import modalities

    kw = dict(image_size=64, latent_channels=7, latent_size=16, width=8, blocks=1)
    plain, projected = AnchoredImageDecoder(**kw), AnchoredImageDecoder(**kw, anchor_projection=2)
    torch.nn.init.normal_(plain.net[-1].weight, std=0.1)  # a residual that disagrees with the anchor
    projected.load_state_dict(plain.state_dict())
    z = torch.randn(2, 7, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.5
    disagreement = [(downsample(d(z), 16) - z[:, :3]).abs().mean().item() for d in (plain, projected)]
    assert disagreement[1] < disagreement[0] / 2
    projected(z).abs().mean().backward()
    assert projected.net[-1].weight.grad.abs().sum() > 0
    preset = apply_overrides(get_preset("sr4x"), {"data.anchor_projection": "2", "latent.width": "8"})
    assert modalities(preset)["target_decoder"].config.anchor_projection == 2


@pytest.mark.parametrize(("lr_size", "scale"), [(32, 4), (16, 8)])
def test_lowres_encoder_anchors_on_its_input(lr_size, scale):
    encoder = LowResEncoder(image_size=lr_size, latent_channels=7, latent_size=32, width=8, blocks=1)
    x = torch.rand(2, 3, lr_size, lr_size) * 2 - 1
    z = encoder(x)
    assert z.shape == (2, 7, 32, 32)
    if scale == 4:
        torch.testing.assert_close(z[:, :3], x)
    with pytest.raises(ValueError, match="Expected images of shape"):
        encoder.preprocess(torch.zeros(1, 3, lr_size + 1, lr_size + 1))


def test_back_projection_makes_the_result_agree_with_a_clean_input():
    """Each iteration moves the result towards the set whose antialiased bicubic down-sampling is the input;
    0 iterations leave it as it is."""
    from lddbm.tasks.superres.tiling import back_project

    hr = to_tensor(photo(64))
    lr = F.interpolate(hr[None], size=(16, 16), mode="bicubic", antialias=True, align_corners=False)[0]
    noise = torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(0))
    guess = F.interpolate(lr[None], scale_factor=4, mode="nearest")[0] + 0.05 * noise

    def disagreement(up):
        return (F.interpolate(up[None], size=(16, 16), mode="bicubic", antialias=True, align_corners=False)[0] - lr).abs().mean()

    assert torch.equal(back_project(guess, lr, 0), guess)
    errors = [disagreement(back_project(guess, lr, k)) for k in range(4)]
    assert errors[0] > 2 * errors[1] and errors[1] > errors[2] > errors[3]
    assert (back_project(guess, lr, 2) - hr).abs().mean() < (guess - hr).abs().mean()  # and nearer the original


def test_upscale_back_projects_as_the_checkpoint_says(tiny_sr):
    """The source encoder's back_projection is upscale's default (the clean presets write 2, sr4x_real 0); an
    explicit value overrides it; a negative one is refused with a message."""
    from lddbm.tasks.superres import modalities

    rgb = photo(24)
    assert tiny_sr.source_encoder.config.back_projection == 0
    plain = np.asarray(upscale(tiny_sr, rgb, steps=1).image)
    assert np.array_equal(plain, np.asarray(upscale(tiny_sr, rgb, steps=1, back_projection=0).image))
    projected = np.asarray(upscale(tiny_sr, rgb, steps=1, back_projection=2).image)
    assert not np.array_equal(plain, projected)
    tiny_sr.source_encoder.register_to_config(back_projection=2)
    assert np.array_equal(projected, np.asarray(upscale(tiny_sr, rgb, steps=1).image))
    with pytest.raises(ConfigError, match="0 or more"):
        upscale(tiny_sr, rgb, back_projection=-1)
    assert modalities(get_preset("sr4x"))["source_encoder"].config.back_projection == 2
    assert modalities(get_preset("sr8x"))["source_encoder"].config.back_projection == 2
    assert modalities(get_preset("sr4x_real"))["source_encoder"].config.back_projection == 0


def test_upscale_precision_bfloat16_autocast_and_its_choice(tiny_sr, monkeypatch):
    """bfloat16 autocast gives (nearly) the float32 image and says so; "auto" takes it only on a CPU that has it
    natively; an unknown precision is refused with a message."""
    import lddbm.tasks.superres.upscale as up

    rgb = photo(24)
    full = upscale(tiny_sr, rgb, steps=1, precision="float32")
    half = upscale(tiny_sr, rgb, steps=1, precision="bfloat16")
    assert (full.precision, half.precision) == ("float32", "bfloat16")
    assert np.abs(np.asarray(full.image, float) - np.asarray(half.image, float)).mean() < 2  # of 255
    monkeypatch.setattr(up, "native_bfloat16", lambda device: False)
    assert upscale(tiny_sr, rgb, steps=1).precision == "float32"
    monkeypatch.setattr(up, "native_bfloat16", lambda device: True)
    assert upscale(tiny_sr, rgb, steps=1).precision == "bfloat16"
    monkeypatch.undo()
    assert up.native_bfloat16("cuda") is False  # autocast to bfloat16 is a CPU choice here
    with pytest.raises(ConfigError, match="precision must be one of"):
        upscale(tiny_sr, rgb, precision="half")


def test_a_second_pass_upscales_the_cleaned_result_again(tiny_sr):
    """second_pass: the first result, shrunk back to the input's size, is upscaled again by the second model
    (its tiles counted too); a second model of another factor is refused with a message."""
    from conftest import make_tiny_sr

    from lddbm.data.degradations import downsample

    rgb = photo(24)
    first = upscale(tiny_sr, rgb, steps=1)
    second_model = make_tiny_sr()
    torch.nn.init.normal_(second_model.target_decoder.net[-1].weight, std=0.05)  # not the same model twice
    both = upscale(tiny_sr, rgb, steps=1, second_pass=second_model)
    expected = upscale(second_model, downsample(first.image, 4))
    assert both.image.size == first.image.size and both.tiles == first.tiles + expected.tiles
    assert np.array_equal(np.asarray(both.image), np.asarray(expected.image))
    other = make_tiny_sr()
    other.target_decoder.register_to_config(image_size=64)  # reads as a x8 model
    with pytest.raises(ConfigError, match="must upscale ×4 like the first"):
        upscale(tiny_sr, rgb, steps=1, second_pass=other)


def test_upscale_whole_images_of_any_mode(tiny_sr):
    calls = []
    rgb = photo(20).resize((20, 12))
    result = upscale(tiny_sr, rgb, steps=2, seed=3, progress=lambda done, total: calls.append((done, total)))
    assert result.image.size == result.bicubic.size == (80, 48) and result.scale == 4
    assert result.nfe == 2 and result.tiles >= 4 and calls[-1][0] == calls[-1][1] == result.tiles
    again = upscale(tiny_sr, rgb, steps=2, seed=3)
    assert np.array_equal(np.asarray(again.image), np.asarray(result.image))  # seeded
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    out = upscale(tiny_sr, rgba, steps=1).image
    assert out.mode == "RGBA" and np.asarray(out)[..., 3].mean() == pytest.approx(128, abs=1)
    assert upscale(tiny_sr, rgb.convert("L"), steps=1).image.mode == "L"
    assert upscale(tiny_sr, rgb.convert("P"), steps=1).image.mode == "RGB"


def test_image_metrics_known_values_and_border():
    a = np.asarray(photo(64)).astype(np.int16)
    shifted = Image.fromarray(np.clip(a + 10, 0, 255).astype(np.uint8))
    clipped = (np.clip(a + 10, 0, 255) - a).astype(np.float64)
    m = image_metrics(shifted, Image.fromarray(a.astype(np.uint8)), border=0)
    assert m["psnr_rgb"] == pytest.approx(10 * math.log10(255**2 / (clipped**2).mean()), abs=1e-6)
    assert 0 < m["ssim_rgb"] < 1 and m["psnr_y"] > m["psnr_rgb"]  # Y weights sum to 219/255 < 1
    broken = a.copy()
    broken[:4] = 0  # damage only inside a 4-pixel border
    spared = image_metrics(Image.fromarray(broken.astype(np.uint8)), Image.fromarray(a.astype(np.uint8)), border=4)
    assert spared["psnr_rgb"] == math.inf and spared["ssim_rgb"] == pytest.approx(1)


def test_evaluate_images_reports_methods_and_gains(tiny_sr):
    images = {"a": photo(48), "b": photo(40).convert("L").convert("RGB")}
    report = evaluate_images({"lddbm": tiny_sr}, images, scale=4, crop=36, sampling={"lddbm": {"steps": 1}})
    assert report["images"] == 2 and set(report["mean"]) == {"bicubic", "lddbm"}
    assert report["per_image"]["a"]["size"] == [36, 36] and report["per_image"]["b"]["size"] == [36, 36]
    gain = report["gain_over_bicubic"]["lddbm"]["psnr_rgb"]
    assert gain == pytest.approx(report["mean"]["lddbm"]["psnr_rgb"] - report["mean"]["bicubic"]["psnr_rgb"])
    with pytest.raises(ValueError, match="upscales x4, which does not divide"):
        evaluate_images({"lddbm": tiny_sr}, images, scale=6)
    x8 = evaluate_images({"lddbm": tiny_sr}, images, scale=8, crop=32, sampling={"lddbm": {"steps": 1}})
    assert x8["scale"] == 8 and x8["per_image"]["a"]["size"] == [32, 32]  # the x4 model, then bicubic x2


def test_a_multiple_of_the_models_factor_is_the_model_then_bicubic(tiny_sr):
    rgb = photo(20).resize((20, 12))
    x4 = upscale(tiny_sr, rgb, steps=1, seed=1)
    x8 = upscale(tiny_sr, rgb, steps=1, seed=1, scale=8)
    assert x8.image.size == x8.bicubic.size == (160, 96) and (x8.scale, x8.interpolated, x4.interpolated) == (8, 2, 1)
    assert np.array_equal(np.asarray(x8.image), np.asarray(x4.image.resize((160, 96), Image.BICUBIC)))
    assert x8.tiles == x4.tiles  # the model's work is the same
    assert upscale(tiny_sr, rgb, steps=1, scale=4).interpolated == 1
    for bad in (2, 6, 0):
        with pytest.raises(ConfigError, match="upscales ×4; it can give ×4 or a whole multiple"):
            upscale(tiny_sr, rgb, steps=1, scale=bad)


def test_eval_sr_cli_writes_json(tiny_sr, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    tiny_sr.save_pretrained(ckpt)
    AnchoredImageEncoder(image_size=32, latent_channels=5, latent_size=8, width=8, blocks=1).save_pretrained(ckpt / "target_encoder")
    folder = tmp_path / "images"
    folder.mkdir()
    photo(48).save(folder / "one.png")
    photo(40).save(folder / "two.jpg")
    out = tmp_path / "report.json"
    code = cli(["eval", "sr", "--checkpoint", str(ckpt), "--baseline", str(ckpt), "--images", str(folder),
                "--scale", "4", "--steps", "2", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["mean"]) == {"bicubic", "lddbm", "baseline"} and set(report["per_image"]) == {"one", "two"}
    assert report["steps"] == 2 and report["per_image"]["one"]["size"] == [48, 48]  # whole image by default
    assert 5 < report["autoencoder_psnr_rgb"] < 100
    assert cli(["eval", "sr", "--checkpoint", str(ckpt), "--images", str(folder), "--scale", "6"]) == 2
    assert "upscales x4" in capsys.readouterr().err
    assert cli(["eval", "sr", "--checkpoint", str(ckpt), "--images", str(folder), "--scale", "8", "--steps", "1",
                "--json", str(out)]) == 0
    assert json.loads(out.read_text())["scale"] == 8


@pytest.mark.parametrize(("preset", "scale"), [("sr4x", 4), ("sr4x_real", 4), ("sr8x", 8)])
def test_sr_presets_train_export_and_evaluate(tmp_path, preset, scale):
    root = tmp_path / "photos"
    (root / "images").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.roll(skdata.astronaut(), 37 * i, axis=1)[:96, :96]).save(root / "images" / f"p{i}.png")
    (root / "split.json").write_text(json.dumps({"train": ["p0", "p1"], "test": ["p2"]}))
    tiny = {"data.root": str(root), "data.hr_size": "32", "data.eval_crop": "32", "data.crops_per_epoch": "8",
            "latent.channels": "5", "latent.size": "8", "latent.width": "8", "denoiser.hidden_size": "16",
            "denoiser.depth": "1", "denoiser.encoder_depth": "1", "denoiser.num_heads": "2", "train.steps": "2",
            "train.batch_size": "2", "train.eval_every": "2", "train.eval_size": "1", "train.eval_steps": "1"}
    result = train(apply_overrides(get_preset(preset), tiny), tmp_path / "run", progress=False)
    assert result["step"] == 2 and "psnr_gain" in result["eval"] and result["eval"]["scale"] == scale
    exported = tmp_path / "run" / "pipeline"
    assert (exported / "target_encoder" / "diffusion_pytorch_model.safetensors").is_file()
    out = tmp_path / "test.json"
    assert cli(["eval", "sr", "--checkpoint", str(exported), "--steps", "1", "--json", str(out)]) == 0
    assert list(json.loads(out.read_text())["per_image"]) == ["p2"]  # the data's test split by default


def test_upscale_cli(tiny_sr, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    tiny_sr.save_pretrained(ckpt)
    photo(24).save(tmp_path / "in.png")
    code = cli(["upscale", "--checkpoint", str(ckpt), "--image", str(tmp_path / "in.png"), "--out", str(tmp_path / "out.png"),
                "--bicubic", str(tmp_path / "bicubic.png"), "--steps", "1"])
    first = json.loads(capsys.readouterr().out)
    assert code == 0 and first["size"] == [96, 96]
    assert Image.open(tmp_path / "out.png").size == Image.open(tmp_path / "bicubic.png").size == (96, 96)
    assert cli(["upscale", "--checkpoint", str(ckpt), "--image", str(tmp_path / "in.png"), "--out",
                str(tmp_path / "out8.png"), "--steps", "1", "--scale", "8"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["size"] == [192, 192] and said["scale"] == 8 and said["bicubic_after_model"] == 2
    assert cli(["upscale", "--checkpoint", str(ckpt), "--image", str(tmp_path / "in.png"), "--out",
                str(tmp_path / "twice.png"), "--steps", "1", "--second-pass", str(ckpt), "--precision", "float32"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["size"] == [96, 96] and said["tiles"] == 2 * first["tiles"] and said["precision"] == "float32"
    (tmp_path / "bad.png").write_bytes(b"")
    assert cli(["upscale", "--checkpoint", str(ckpt), "--image", str(tmp_path / "bad.png"), "--out", str(tmp_path / "o.png")]) == 2
    assert "empty" in capsys.readouterr().err


def test_upscale_cli_fits_large_images(tiny_sr, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    tiny_sr.save_pretrained(ckpt)
    Image.new("RGB", (1024, 300), (30, 140, 90)).save(tmp_path / "wide.png")
    args = ["upscale", "--checkpoint", str(ckpt), "--image", str(tmp_path / "wide.png"), "--steps", "1"]
    assert cli([*args, "--out", str(tmp_path / "down.png")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["size"] == [2048, 600] and "downscaled to 512×150" in captured.err
    assert cli([*args, "--out", str(tmp_path / "crop.png"), "--fit", "crop"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == [2048, 1200]
    assert cli([*args, "--out", str(tmp_path / "no.png"), "--fit", "error"]) == 2
    assert "at most 512" in capsys.readouterr().err


def test_fit_to_limit():
    from lddbm.tasks.superres.upscale import fit_to_limit

    small = Image.new("RGB", (100, 50))
    assert fit_to_limit(small) == (small, None)
    tall, note = fit_to_limit(Image.new("I;16", (300, 1024)), 512, "downscale")
    assert tall.size == (150, 512) and tall.mode == "L" and "300×1024" in note  # 16-bit grey: 8-bit grey
    with pytest.raises(Exception, match="Unknown way"):
        fit_to_limit(small, 10, "stretch")


def test_the_eight_symmetries_are_distinct_and_undone():
    from lddbm.tasks.superres.upscale import symmetry

    x = torch.randn(2, 3, 5, 5)
    moved = [symmetry(x, k) for k in range(8)]
    assert len({tuple(m.flatten().tolist()) for m in moved}) == 8
    assert all(torch.equal(symmetry(m, k, inverse=True), x) for k, m in enumerate(moved))


@pytest.mark.parametrize("ensemble", [2, 8])
def test_the_ensemble_turns_each_result_back_before_averaging(tiny_sr, monkeypatch, ensemble):
    """A stand-in model that adds a left-to-right ramp to nearest-neighbour upsampling: turned back and
    averaged over the mirrored inputs, the ramp cancels to its mean everywhere; a result not turned back would not."""
    from types import SimpleNamespace

    from lddbm.pipeline import LDDBMPipeline

    def model(ramp: float):
        def call(self, tiles, **kwargs):
            up = F.interpolate(tiles.float(), scale_factor=4, mode="nearest")
            x = torch.linspace(-ramp, ramp, up.shape[-1])
            return SimpleNamespace(outputs=up + x, nfe=1)
        return call

    image = photo(24)
    monkeypatch.setattr(LDDBMPipeline, "__call__", model(0.2))
    averaged = np.asarray(upscale(tiny_sr, image, ensemble=ensemble).image).astype(int)
    monkeypatch.setattr(LDDBMPipeline, "__call__", model(0.0))
    plain = np.asarray(upscale(tiny_sr, image).image).astype(int)
    assert np.abs(averaged - plain).max() <= 1  # the ramp's mean is 0; uint8 rounding
    with pytest.raises(ConfigError, match="ensemble must be one of 1, 2, 4, 8"):
        upscale(tiny_sr, image, ensemble=3)
