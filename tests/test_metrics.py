import math

import pytest
import torch

from lddbm import metrics
from lddbm.metrics import EMPTY_DISTANCE, chamfer_l1, fscore, iou, one_nna, surface_points


def box(size: int, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> torch.Tensor:
    """A (size, size, size) bool grid occupied on [lo, hi) along each axis."""
    grid = torch.zeros(size, size, size, dtype=torch.bool)
    grid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
    return grid


# ---- IoU ----------------------------------------------------------------------------------------

def test_iou_of_shifted_cubes_is_intersection_over_union():
    a = box(8, (0, 0, 0), (4, 4, 4))
    b = box(8, (2, 0, 0), (6, 4, 4))  # overlap 2x4x4 = 32, union 64 + 64 - 32 = 96
    result = iou(a[None], b[None].float())
    assert result.shape == (1,)
    assert result.item() == pytest.approx(32 / 96)


def test_iou_identical_disjoint_empty_and_channel_dim():
    a, far = box(8, (0, 0, 0), (4, 4, 4)), box(8, (5, 5, 5), (8, 8, 8))
    empty = torch.zeros(8, 8, 8, dtype=torch.bool)
    pred = torch.stack([a, a, empty, empty])[:, None]  # (B, 1, D, H, W)
    target = torch.stack([a, far, empty, a])[:, None]
    assert iou(pred, target).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_iou_thresholds_probabilities_inclusively():
    target = box(4, (0, 0, 0), (2, 4, 4)).float()[None]  # half the grid
    pred = torch.full_like(target, 0.5)  # occupied everywhere at threshold 0.5 (>=)
    assert iou(pred, target).item() == pytest.approx(0.5)
    assert iou(pred, target, threshold=0.6).item() == 0.0


def test_iou_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        iou(torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 4, 5))


# ---- surface points -------------------------------------------------------------------------------

def test_surface_points_lie_on_the_faces_of_a_solid_cube():
    grid = box(16, (4, 2, 6), (12, 10, 14))  # faces at 4/16 .. 12/16, 2/16 .. 10/16, 6/16 .. 14/16
    lo, hi = torch.tensor([4, 2, 6]) / 16, torch.tensor([12, 10, 14]) / 16
    points = surface_points(grid, 4000, generator=torch.Generator().manual_seed(0))
    assert points.shape == (4000, 3) and points.dtype == torch.float32
    half_voxel = 0.5 / 16
    assert (points >= lo - 1e-6).all() and (points <= hi + 1e-6).all()
    to_nearest_face = torch.minimum(points - lo, hi - points).amin(dim=1)  # (n,)
    assert to_nearest_face.max() <= half_voxel + 1e-6  # marching cubes bevels edges by at most this
    assert torch.allclose(points.amin(dim=0), lo, atol=1e-5)  # spans the extent: faces on voxel faces
    assert torch.allclose(points.amax(dim=0), hi, atol=1e-5)


def test_surface_points_are_reproducible_and_handle_empty_grids():
    grid = box(8, (1, 1, 1), (6, 5, 7))
    a = surface_points(grid, 100, generator=torch.Generator().manual_seed(3))
    b = surface_points(grid, 100, generator=torch.Generator().manual_seed(3))
    c = surface_points(grid, 100, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert surface_points(torch.zeros(8, 8, 8), 100).shape == (0, 3)


# ---- Chamfer and F-score --------------------------------------------------------------------------

def test_chamfer_closed_forms():
    cloud = torch.rand(300, 3, generator=torch.Generator().manual_seed(0))
    assert chamfer_l1(cloud, cloud) == 0.0
    # Points on the plane x = 0.2, shifted by d along x: every nearest neighbour is exactly d away.
    plane = torch.cat([torch.full((200, 1), 0.2), torch.rand(200, 2, generator=torch.Generator().manual_seed(1))], 1)
    assert chamfer_l1(plane, plane + torch.tensor([0.03, 0.0, 0.0])) == pytest.approx(0.03, abs=1e-6)
    # By hand: p -> q nearest distances [1], q -> p [1, 2]: 0.5 * (1 + 1.5).
    p = torch.tensor([[0.0, 0.0, 0.0]])
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    assert chamfer_l1(p, q) == pytest.approx(1.25) and chamfer_l1(q, p) == pytest.approx(1.25)


def test_chamfer_is_the_same_in_chunks(monkeypatch):
    gen = torch.Generator().manual_seed(2)
    p, q = torch.rand(257, 3, generator=gen), torch.rand(130, 3, generator=gen)
    whole = chamfer_l1(p, q)
    monkeypatch.setattr(metrics, "_CDIST_ELEMENTS", 1000)  # a few rows per chunk
    assert chamfer_l1(p, q) == pytest.approx(whole, rel=1e-6)
    brute = torch.cdist(p.double(), q.double())
    assert whole == pytest.approx(0.5 * (brute.amin(1).mean() + brute.amin(0).mean()).item(), rel=1e-5)


def test_fscore_limits_and_a_hand_made_case():
    cloud = torch.rand(300, 3, generator=torch.Generator().manual_seed(0))
    assert fscore(cloud, cloud) == 1.0
    assert fscore(cloud, cloud + 1.0) == 0.0
    # p: 2 points, one within 0.01 of q -> precision 1/2; q: 1 point, matched -> recall 1. F = 2/3.
    p = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    q = torch.tensor([[0.005, 0.0, 0.0]])
    assert fscore(p, q) == pytest.approx(2 / 3)
    assert fscore(p, q, threshold=0.001) == 0.0


def test_empty_clouds_have_documented_values():
    empty, cloud = torch.empty(0, 3), torch.rand(10, 3)
    assert chamfer_l1(empty, empty) == 0.0
    assert chamfer_l1(empty, cloud) == chamfer_l1(cloud, empty) == EMPTY_DISTANCE == math.sqrt(3)
    assert fscore(empty, empty) == 1.0
    assert fscore(empty, cloud) == fscore(cloud, empty) == 0.0


# ---- 1-NNA ----------------------------------------------------------------------------------------

def point(x: float) -> torch.Tensor:
    return torch.tensor([[x, 0.0, 0.0]])  # a one-point cloud: Chamfer = |x - x'|


def test_one_nna_on_hand_made_sets():
    assert one_nna([point(0.0), point(0.1)], [point(10.0), point(10.1)]) == 1.0  # separable
    assert one_nna([point(0.0), point(10.0)], [point(0.1), point(10.1)]) == 0.0  # interleaved pairs
    with pytest.raises(ValueError, match="both sets"):
        one_nna([], [point(0.0)])


def random_cubes(count: int, sides: tuple[int, int], seed: int, size: int = 16) -> list[torch.Tensor]:
    """Surface clouds of `count` cubes, side in [sides[0], sides[1]] voxels, each at a random place
    where it still holds a corner of the central voxel (so small cubes stay near each other)."""
    gen = torch.Generator().manual_seed(seed)
    clouds = []
    for _ in range(count):
        side = int(torch.randint(sides[0], sides[1] + 1, (1,), generator=gen))
        low, high = max(0, size // 2 - side), min(size // 2, size - side)
        lo = torch.randint(low, high + 1, (3,), generator=gen).tolist()
        grid = box(size, tuple(lo), tuple(v + side for v in lo))
        clouds.append(surface_points(grid, 128, generator=gen))
    return clouds


def test_one_nna_separates_shape_families_and_not_draws_of_one_family():
    small, large = random_cubes(16, (2, 4), seed=0), random_cubes(16, (10, 13), seed=1)
    assert one_nna(small, large) >= 0.95
    small_again = random_cubes(16, (2, 4), seed=2)
    assert one_nna(small, small_again) <= 0.75


def test_chamfer_matrix_equals_pairwise_chamfer_with_empty_and_odd_sizes():
    gen = torch.Generator().manual_seed(0)
    same = [torch.rand(64, 3, generator=gen) for _ in range(5)] + [torch.empty(0, 3)]
    odd = same + [torch.rand(10, 3, generator=gen)]
    for clouds in (same, odd):
        expected = torch.tensor([[chamfer_l1(a, b) for b in clouds] for a in clouds], dtype=torch.float64)
        assert torch.allclose(metrics.chamfer_matrix(clouds, clouds), expected, atol=1e-6)
    a = random_cubes(6, (2, 4), seed=0)
    assert one_nna(a[:3], a[3:]) == one_nna(a[:3], a[3:], distance=chamfer_l1)


# ---- EMD ----------------------------------------------------------------------------------------

def test_emd_closed_forms():
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(200, 3, generator=gen)
    assert metrics.emd(p, p) == 0.0
    assert metrics.emd(p, p[torch.randperm(200, generator=gen)]) == pytest.approx(0.0, abs=1e-12)  # order-free
    shift = torch.tensor([0.03, 0.0, 0.04])
    assert metrics.emd(p, p + shift) == pytest.approx(0.05, abs=1e-6)  # a translation moves every point by |shift|
    # two points each: the optimal matching, not the nearest neighbours (Chamfer is 0 here, EMD is not)
    a = torch.tensor([[0.0, 0, 0], [0.0, 0, 0]])
    b = torch.tensor([[0.0, 0, 0], [1.0, 0, 0]])
    assert metrics.emd(a, b) == pytest.approx(0.5) and chamfer_l1(a, a) == 0.0
    assert metrics.emd(torch.empty(0, 3), torch.empty(0, 3)) == 0.0
    assert metrics.emd(p, torch.empty(0, 3)) == EMPTY_DISTANCE


# ---- disagreement -> error ---------------------------------------------------------------------

def test_disagreement_auroc_limits():
    target = torch.zeros(4, 4, 4)
    target[:2] = 1
    # 5 samples agree where they are right and split 3:2 (the mean is wrong) on layer 0
    samples = target.expand(5, 4, 4, 4).clone()
    samples[:3, 0] = 0  # layer 0: 3 of 5 say empty, the truth is occupied -> shown wrong, disputed
    assert metrics.disagreement_auroc(samples, target) == 1.0
    # disagreement where the shown shape is right and none where it is wrong: below chance
    samples = target.expand(5, 4, 4, 4).clone()
    samples[:, 3] = 1  # layer 3: all say occupied, truth empty -> wrong, undisputed
    samples[:2, 1] = 0  # layer 1: 3 of 5 occupied, truth occupied -> shown right, disputed
    # errors (layer 3, score 0) never outscore the disputed right layer 1 and tie with layers 0, 2:
    # AUROC = (0 + 0.5 * 32 / 48) = 1/3, below chance
    assert metrics.disagreement_auroc(samples, target) == pytest.approx(1 / 3)
    # no errors at all: undefined
    assert math.isnan(metrics.disagreement_auroc(target.expand(3, 4, 4, 4), target))
    # the mask restricts the voxels counted
    mask = torch.zeros(4, 4, 4, dtype=torch.bool)
    mask[3] = True
    assert math.isnan(metrics.disagreement_auroc(samples, target, mask=mask))  # only wrong voxels left


def test_stochastic_report_on_hand_made_samples():
    from lddbm.tasks.multiview3d.evaluation import stochastic_report

    target = box(8, (2, 2, 2), (6, 6, 6)).float()  # 64 voxels
    good = target.clone()
    bad = torch.zeros(8, 8, 8)
    drawn = torch.stack([good, good, bad])[None]  # one object, 3 samples: two right, one empty
    r = stochastic_report(drawn, target[None])
    assert r["samples"] == 3 and r["iou_best_of_3"] == 1.0 and r["iou_mean_probability"] == 1.0
    assert r["iou_per_sample"] == pytest.approx(2 / 3)
    assert r["voxels_disagreeing"] == pytest.approx(64 / 512)
    assert math.isnan(r["disagreement_auroc"])  # the mean (2/3 occupied) is right everywhere
    # a deterministic answer that missed the disputed voxels: disagreement points at all its errors
    r = stochastic_report(drawn, target[None], deterministic=bad[None])
    assert r["iou_deterministic"] == 0.0 and r["disagreement_auroc_deterministic"] == 1.0
