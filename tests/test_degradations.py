"""Realistic degradations, the fixed evaluation degradation, blockiness, and the waifu2x peer."""

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from lddbm.data.degradations import _jpeg, blockiness, degrade_for_eval, realistic
from lddbm.data.photos import degrade
from lddbm.tasks.superres.peers import Waifu2xPhoto, waifu2x_unavailable
from lddbm.tasks.superres.upscale import bicubic, evaluate_images


def photo(size=128) -> Image.Image:
    return Image.fromarray(skdata.astronaut()[60 : 60 + size, 140 : 140 + size])


def test_eval_degradations_are_fixed_per_image_and_documented():
    hr = photo(128)
    assert np.array_equal(np.asarray(degrade_for_eval(hr, 4, "bicubic")), np.asarray(degrade(hr, 4)))
    a = np.asarray(degrade_for_eval(hr, 4, "jpeg_noise", name="a"), dtype=np.int16)
    again = np.asarray(degrade_for_eval(hr, 4, "jpeg_noise", name="a"), dtype=np.int16)
    other = np.asarray(degrade_for_eval(hr, 4, "jpeg_noise", name="b"), dtype=np.int16)
    assert a.shape == (32, 32, 3) and np.array_equal(a, again) and not np.array_equal(a, other)
    assert np.abs(a - np.asarray(degrade(hr, 4), dtype=np.int16)).mean() > 1  # noise and JPEG changed it
    with pytest.raises(ValueError, match="Unknown degradation"):
        degrade_for_eval(hr, 4, "blur")


def test_realistic_degradation_varies_and_keeps_the_size():
    hr, rng = photo(128), np.random.default_rng(0)
    outs = [np.asarray(realistic(hr, 4, rng)) for _ in range(6)]
    assert all(o.shape == (32, 32, 3) and o.dtype == np.uint8 for o in outs)
    assert len({o.tobytes() for o in outs}) == 6  # a different chain each time
    assert realistic(hr.convert("L"), 8, rng).size == (16, 16)


def test_blockiness_sees_the_jpeg_grid():
    smooth = Image.fromarray(skdata.astronaut()[:256, :256])
    assert blockiness(smooth, 8) == pytest.approx(1.0, abs=0.15)
    assert blockiness(_jpeg(smooth, 10), 8) > 1.3 * blockiness(smooth, 8)
    # at x4, the input's 8-px blocks are 32 px in the upscale
    assert blockiness(bicubic(_jpeg(smooth.resize((64, 64)), 10), 4), 32) > 1.2


def test_evaluate_images_scores_peers_on_degraded_inputs(tiny_sr):
    images = {"a": photo(48)}
    peer_inputs = []

    def peer(lr, scale):
        peer_inputs.append(np.asarray(lr))
        return bicubic(lr, scale)

    report = evaluate_images({"lddbm": tiny_sr}, images, scale=4, crop=48, sampling={"lddbm": {"steps": 1}},
                             degradation="jpeg_noise", peers={"same-as-bicubic": peer})
    assert report["degradation"] == "jpeg_noise" and set(report["mean"]) == {"bicubic", "lddbm", "same-as-bicubic"}
    assert report["gain_over_bicubic"]["same-as-bicubic"]["psnr_rgb"] == pytest.approx(0.0)
    assert "blockiness" in report["mean"]["lddbm"] and report["original_blockiness"] > 0
    expected = degrade_for_eval(images["a"].crop((0, 0, 48, 48)), 4, "jpeg_noise", name="a")
    assert np.array_equal(peer_inputs[0], np.asarray(expected))  # the peer got the same degraded input


@pytest.mark.skipif(waifu2x_unavailable() is not None, reason=f"waifu2x peer: {waifu2x_unavailable()}")
def test_waifu2x_tiles_give_the_whole_image_result_and_beat_nothing_silently():
    lr = photo(40)
    tiled, whole = Waifu2xPhoto(tile=16, threads=1), Waifu2xPhoto(tile=1000, threads=1)
    a, b = np.asarray(tiled(lr, 4)), np.asarray(whole(lr, 4))
    assert a.shape == (160, 160, 3) and np.array_equal(a, b)
    assert np.abs(a.astype(int) - np.asarray(bicubic(lr, 4), dtype=int)).mean() < 12  # an upscale, not noise
    with pytest.raises(Exception, match="powers of two"):
        tiled(lr, 3)
    averaged = np.asarray(Waifu2xPhoto(tile=1000, threads=1, ensemble=8)(lr, 4)).astype(int)
    assert averaged.shape == a.shape and 0 < np.abs(averaged - a).mean() < 3  # the same upscale, averaged over turns


def test_an_unavailable_peer_is_skipped_with_a_note(monkeypatch):
    from lddbm.tasks.superres import peers

    monkeypatch.setattr(peers, "waifu2x_unavailable", lambda: "onnxruntime is not installed")
    models, skipped = peers.peers_by_name("waifu2x,waifu2x-denoise2,waifu2x-tta")
    assert models == {} and skipped == {"waifu2x": "onnxruntime is not installed",
                                        "waifu2x-denoise2": "onnxruntime is not installed",
                                        "waifu2x-tta": "onnxruntime is not installed"}
    with pytest.raises(Exception, match="Unknown peer"):
        peers.peers_by_name("esrgan")
