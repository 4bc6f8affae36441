"""The lifting source encoder (lddbm.modalities.lifting): its camera model against the renderer's and
the framing's, the volume's layout against the voxel autoencoder's, shapes and the pose loss."""

import math

import numpy as np
import pytest
import torch

from lddbm.framing import framing_box
from lddbm.tasks.multiview3d.hull import project, voxel_centres
from lddbm.modalities.lifting import LiftingEncoder, pose_targets, project_to_frame


@pytest.mark.parametrize("camera", [(30.0, 25.0, 2.0, 40.0), (200.0, 5.0, 1.6, 68.0), (315.0, 58.0, 3.1, 31.0)])
def test_the_pose_projects_points_where_the_renderer_and_the_framing_put_them(camera):
    """hull.project (the renderer's pinhole camera) then the framing crop, against project_to_frame
    of the seven pose numbers: the same framed coordinates for every point of the object's cube."""
    size = 128
    points = voxel_centres(8)
    rows, cols = project(points, camera, size)
    mask = np.zeros((size, size), dtype=bool)
    r, c = np.clip(rows.astype(int), 0, size - 1), np.clip(cols.astype(int), 0, size - 1)
    mask[r, c] = True
    cx, cy, side = box = framing_box(mask, 0.7, (0.03, -0.02))
    expected = np.stack([(cols - cx) / (side / 2), (rows - cy) / (side / 2)], axis=1)
    got = project_to_frame(torch.from_numpy(points).float(), torch.from_numpy(pose_targets(np.array(camera), box, size)))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4)


def test_a_lifted_silhouette_lands_in_the_voxels_that_cast_it():
    """Sampling a view's own silhouette at the cube's cells with the true camera marks exactly the cells
    that project inside it: the visual hull of one view, as lddbm.tasks.multiview3d.hull computes it."""
    from lddbm.tasks.multiview3d.hull import visual_hull

    size, camera = 64, np.array([40.0, 20.0, 2.0, 40.0])
    occupied = voxel_centres(16)[np.linspace(0, 4095, 300).astype(int)]  # some cells
    rows, cols = project(occupied, camera, size)
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    mask = np.zeros((size, size), dtype=bool)
    mask[rows[inside].astype(int), cols[inside].astype(int)] = True
    box = (size / 2, size / 2, float(size))  # the whole render, unframed
    grid = project_to_frame(torch.from_numpy(voxel_centres(16)).float(),
                            torch.from_numpy(pose_targets(camera, box, size)))
    sampled = torch.nn.functional.grid_sample(torch.from_numpy(mask).float()[None, None], grid[None, None],
                                              mode="nearest", align_corners=False)[0, 0, 0]
    hull = visual_hull(mask[None], camera[None], grid=16).reshape(-1)
    assert (sampled.numpy() > 0.5).tolist() == hull.tolist()


def test_shapes_any_view_count_and_the_pose_loss():
    enc = LiftingEncoder(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8)
    for views in (1, 3, 12):
        z = enc(torch.randn(2, views, 3, 32, 32))
        assert z.shape == (2, 8, 4, 4) and enc.last_pose.shape == (2, views, 7)
    enc.train()
    pose = torch.randn(2, 4, 7)
    z = enc({"views": torch.randn(2, 4, 3, 32, 32), "pose": pose})
    loss = enc.pose_loss(pose) + z.square().mean()
    loss.backward()
    assert torch.isfinite(loss) and enc.pose_head[-1].weight.grad.abs().sum() > 0
    import copy

    copy.deepcopy(enc)  # no graph kept (the trainer's EMA copies the modules)
    with pytest.raises(RuntimeError, match="pose_loss needs"):
        enc.pose_loss(pose)
    assert z.std().item() == pytest.approx(0.5, rel=0.05)  # standardised like every source latent


def test_the_lift_preset_trains_a_step_and_loads_as_a_pipeline(tmp_path):
    """objects3d_lift: a dataset with cameras gives the pose loss; the saved pipeline samples from views."""
    from lddbm.presets import get_preset
    from lddbm.tasks import get_task
    from lddbm.train import build_objective

    preset = get_preset("objects3d_lift")
    objective = build_objective(preset)
    assert type(objective.source_encoder).__name__ == "LiftingEncoder" and objective.weights.pose == 1.0
    B = 2
    source = {"views": torch.randn(B, 4, 3, 64, 64), "pose": torch.randn(B, 4, 7)}
    target = (torch.rand(B, 1, 32, 32, 32) > 0.7).float()
    losses = objective(source, target, torch.full((B,), 0.5), torch.randn(B, 16, 8, 8), auxiliary=True)
    assert "pose" in losses and torch.isfinite(losses["total"])
    assert get_task(preset).name == "multiview3d"


def test_azimuth_bins_lift_along_weighted_hypotheses_and_train_the_head():
    """With azimuth_bins, the estimate is a distribution over bins: the shape loss reaches the bins'
    logits through the hypotheses' weights, and the pose loss is lowest for logits peaked at the true bin."""
    torch.manual_seed(0)
    enc = LiftingEncoder(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8,
                         azimuth_bins=12, azimuth_hypotheses=3, teacher_share=0.0)
    enc.train()
    views = torch.randn(2, 3, 3, 32, 32)
    z = enc(views)
    z.square().mean().backward()
    assert enc.azimuth_head.weight.grad.abs().sum() > 0  # through the weights, the rays themselves detached
    assert enc.last_pose.shape == (2, 3, 7)
    angle = torch.atan2(enc.last_pose[..., 0], enc.last_pose[..., 1])
    assert torch.allclose(enc.last_pose[..., :2].norm(dim=-1), torch.ones(2, 3), atol=1e-5)
    # a peaked distribution decodes to its bin's angle
    logits = torch.full((1, 12), -20.0)
    logits[0, 3] = 20.0
    assert enc._decode_azimuth(logits).item() == pytest.approx(3 * 2 * math.pi / 12, abs=1e-4)
    # the loss prefers the true bin
    true = torch.zeros(2, 3, 7)
    true[..., 0], true[..., 1] = math.sin(math.pi / 2), math.cos(math.pi / 2)  # azimuth 90 degrees: bin 3
    losses = []
    for peak in (3, 9):
        enc._pose_to_score = (enc.last_pose, torch.nn.functional.one_hot(torch.full((2, 3), peak), 12).float() * 10)
        losses.append(enc.pose_loss(true).item())
    assert losses[0] < losses[1]
    assert angle.shape == (2, 3)


def test_teacher_share_is_a_lifting_setting_of_the_preset():
    """data.teacher_share reaches the lifting encoder (0: always lifted along its own estimate, as at test
    time: the cool-down setting); on the pooled encoder it is an error that names the setting."""
    import dataclasses

    from lddbm.errors import ConfigError
    from lddbm.presets import get_preset
    from lddbm.tasks.multiview3d.build import modalities

    p = get_preset("objects3d_lift_bins")
    p = dataclasses.replace(p, data=dataclasses.replace(p.data, teacher_share=0.0))
    assert modalities(p)["source_encoder"].config.teacher_share == 0.0
    pooled = get_preset("objects3d")
    with pytest.raises(ConfigError, match="teacher_share"):
        modalities(dataclasses.replace(pooled, data=dataclasses.replace(pooled.data, teacher_share=0.0)))


def test_turntable_sectors_hold_the_builders_cameras():
    """Every camera the data builder spaces (lddbm.data.furniture.cameras_for: 4 evenly round, the first
    offset by up to a quarter turn, jittered) falls in its view's sector, whichever evenly spread subset
    is taken; a view's sector is a third of the circle."""
    from lddbm.data.furniture import BuildOptions, cameras_for
    from lddbm.modalities.lifting import turntable_sectors

    for views in (4, 2, 1):  # fewer views: the evenly spread subset of a 4-view build, as evaluation takes them
        sectors = turntable_sectors(views, 36)
        for i in range(200):
            azimuths = cameras_for(f"object-{i}", BuildOptions(views=4))[:, 0][:: 4 // views]
            bins = np.round(azimuths / 10).astype(int) % 36
            assert sectors[torch.arange(views), torch.from_numpy(bins)].all()
    assert turntable_sectors(4, 36).sum(1).tolist() == [12] * 4  # a third of the circle, the other sides ruled out
    assert turntable_sectors(1, 36)[0].nonzero().flatten().tolist() == [*range(11), 35]  # -15 .. 105 degrees


def test_the_turntable_order_confines_each_views_azimuth_and_is_marked_per_sample():
    """Views marked as in turntable order are lifted along azimuths inside their sectors; unmarked ones
    (and the camera loss) see the whole circle; preprocess marks inputs with the asked or configured order."""
    from lddbm.modalities.lifting import turntable_sectors

    torch.manual_seed(0)
    enc = LiftingEncoder(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8,
                         azimuth_bins=12, azimuth_hypotheses=2).eval()
    with torch.no_grad():
        enc.azimuth_head.bias.copy_(torch.nn.functional.one_hot(torch.tensor(6), 12) * 50.0)  # all say 180 degrees
    views = torch.randn(2, 4, 3, 32, 32)
    enc({"views": views, "turntable": torch.tensor([True, False])})
    azimuth = torch.rad2deg(torch.atan2(enc.last_pose[..., 0], enc.last_pose[..., 1])) % 360
    bins = torch.round(azimuth / 30).long() % 12
    assert turntable_sectors(4, 12)[torch.arange(4), bins[0]].all()  # confined
    assert torch.allclose(azimuth[1], torch.full((4,), 180.0), atol=1e-3)  # free
    assert enc.preprocess(views)["turntable"].tolist() == [False, False]
    assert enc.preprocess(views, view_order="turntable")["turntable"].tolist() == [True, True]
    with pytest.raises(ValueError, match="view_order"):
        enc.preprocess(views, view_order="sideways")
    with pytest.raises(ValueError, match="azimuth_bins"):
        LiftingEncoder(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8,
                       view_order="turntable")
    plain = LiftingEncoder(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8)
    with pytest.raises(ValueError, match="view_order='any'"):
        plain.preprocess(views, view_order="turntable")


def test_the_turntable_preset_marks_its_samples_in_order():
    """objects3d_turntable: the encoder's default order is the turntable, and the data set draws that
    share of its training items in the builder's order, marked so; the pooled encoder refuses the setting."""
    import dataclasses

    from lddbm.errors import ConfigError
    from lddbm.presets import get_preset
    from lddbm.tasks.multiview3d.build import modalities

    p = get_preset("objects3d_turntable")
    assert modalities(p)["source_encoder"].config.view_order == "turntable" and p.data.turntable_share == 0.5
    pooled = get_preset("objects3d")
    with pytest.raises(ConfigError, match="view_order"):
        modalities(dataclasses.replace(pooled, data=dataclasses.replace(pooled.data, view_order="turntable")))
    nobins = get_preset("objects3d_lift")
    with pytest.raises(ConfigError, match="azimuth_bins"):
        modalities(dataclasses.replace(nobins, data=dataclasses.replace(nobins.data, turntable_share=0.5)))


def test_the_camera_network_reads_every_view_and_is_told_the_order():
    """pose_width > 0: the cameras come from PoseNet (a CNN per view, self-attention across views). In any
    order the views are a set (permuting them permutes the estimate); the turntable order is an input."""
    torch.manual_seed(0)
    enc = LiftingEncoder(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8, azimuth_bins=12,
                         pose_width=8, pose_layers=1).eval()
    views = torch.randn(2, 3, 3, 32, 32)
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        pose, scored, _ = enc.estimate_pose(views, torch.tensor([False, False]))
        permuted, scored_permuted, _ = enc.estimate_pose(views[:, perm], torch.tensor([False, False]))
        in_order, scored_in_order, _ = enc.estimate_pose(views, torch.tensor([True, True]))
    torch.testing.assert_close(scored_permuted, scored[:, perm], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(permuted, pose[:, perm], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(scored_in_order, scored)  # where each view sits in the turn reaches the estimate
    z = enc(views)
    assert z.shape == (2, 8, 4, 4) and enc.last_pose.shape == (2, 3, 7)
    # camera_loss is what pose_loss scores after a call given true cameras
    enc.train()
    true = torch.randn(2, 3, 7)
    torch.manual_seed(1)
    enc({"views": views, "pose": true})
    loss = enc.pose_loss(true, regression_weight=3.0)
    torch.manual_seed(1)
    pose, scored, _ = enc.estimate_pose(views)
    torch.testing.assert_close(loss, enc.camera_loss(pose, scored, true, 3.0))


def test_each_camera_error_has_its_own_weight():
    """pose_part_weights weigh the squared errors of elevation, log_scale, inverse_distance, u0, v0 (the
    shapes' IoU is most sensitive to the offsets); the azimuth's cross-entropy keeps its weight."""
    kw = dict(image_size=32, latent_channels=8, latent_size=4, volume=8, width=8, features=8, azimuth_bins=12)
    plain, weighted = LiftingEncoder(**kw), LiftingEncoder(**kw, pose_part_weights=[1, 2, 0, 8, 8])
    torch.manual_seed(0)
    pose, true, logits = torch.randn(2, 3, 7), torch.randn(2, 3, 7), torch.randn(2, 3, 12)
    base = plain.camera_loss(pose, logits, true, 3.0)
    squared = (pose - true).square()[..., 2:]
    cross_entropy = base - 3.0 * squared.mean()
    expected = 3.0 * (squared * torch.tensor([1.0, 2, 0, 8, 8])).mean() + cross_entropy
    torch.testing.assert_close(weighted.camera_loss(pose, logits, true, 3.0), expected)
    only_offsets = pose.clone()
    only_offsets[..., 5:] = true[..., 5:]  # the offsets right: their weight no longer counts
    gap = weighted.camera_loss(pose, logits, true, 1.0) - weighted.camera_loss(only_offsets, logits, true, 1.0)
    torch.testing.assert_close(gap, 8 * (pose - true)[..., 5:].square().sum() / squared.numel())
    with pytest.raises(ValueError, match="5 weights"):
        LiftingEncoder(**kw, pose_part_weights=[1, 2])
    from lddbm.presets import apply_overrides, get_preset

    preset = apply_overrides(get_preset("objects3d_pose"), {"data.pose_part_weights": "1,2,0.5,8,8"})
    assert preset.data.pose_part_weights == (1.0, 2.0, 0.5, 8.0, 8.0)
    assert apply_overrides(preset, {"data.pose_part_weights": "none"}).data.pose_part_weights is None


def test_the_benchmarks_shared_offset_is_one_shift_of_the_object():
    """benchmarks/lifting_pose.py --each: the offsets' error that one 3D shift of the object's centre explains
    is removed, and only that (a per-view error no shift explains stays)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from lifting_pose import _shared_offset_removed

    from lddbm.modalities.lifting import project_to_frame

    torch.manual_seed(0)
    azimuth = torch.tensor([[0.3, 1.9, 3.4, 5.0]])
    true = torch.stack([azimuth.sin(), azimuth.cos(), torch.full_like(azimuth, 0.4), torch.full_like(azimuth, 0.5),
                        torch.full_like(azimuth, 0.01), 0.05 * torch.randn(1, 4), 0.05 * torch.randn(1, 4)], -1)
    shift = torch.tensor([0.03, -0.02, 0.01])
    seen = project_to_frame(shift[None], true)[..., 0, :]  # where the shifted centre lands, (1, 4, 2)
    estimated = true.clone()
    estimated[..., 5:] = seen  # the estimate took the shifted point for the centre
    torch.testing.assert_close(_shared_offset_removed(estimated, true)[..., 5:], true[..., 5:], atol=2e-4, rtol=0)
    lone = estimated.clone()
    lone[0, 1, 5] += 0.02  # one view's own error: one shift cannot explain it, so most of it stays
    assert (_shared_offset_removed(lone, true)[0, 1, 5] - true[0, 1, 5]).abs() > 0.01
