"""Pure tensor metrics. Each returns one value per sample (B,) unless said otherwise."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB; data_range is max - min of the signal (2 for [-1, 1])."""
    return 10 * torch.log10(data_range**2 / mse(pred, target).clamp_min(1e-12))


SSIM_OPTIONS = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)  # Wang et al. (2004)


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of images (B, C, H, W) in [-1, 1] over RGB (scikit-image, Wang et al.'s Gaussian window)."""
    from skimage.metrics import structural_similarity

    a = pred.detach().float().clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy()
    b = target.detach().float().clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy()
    return torch.tensor([structural_similarity(y, x, channel_axis=-1, data_range=2.0, **SSIM_OPTIONS)
                         for x, y in zip(a, b)])


def gradient_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean squared finite difference (horizontal and vertical) of images (B, C, H, W) -> (B,).

    The ratio of a prediction's to the truth's says how much detail survives: a blurred
    prediction scores < 1 although its PSNR may be the best (the conditional mean is blurry)."""
    x = x.float()
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(1).mean(dim=1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(1).mean(dim=1)
    return dx + dy


def kid(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Kernel Inception Distance of two feature sets (N, D) and (M, D): the unbiased MMD^2 with the
    cubic polynomial kernel k(x, y) = (x.y / D + 1)^3 (Binkowski et al., 2018). One number for the
    sets; 0 when both come from the same distribution, larger the further apart."""
    a, b = features_a.double(), features_b.double()
    n, m, d = len(a), len(b), a.shape[1]
    if n < 2 or m < 2:
        raise ValueError("KID needs at least two samples in each set.")
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    within_a = (kaa.sum() - kaa.diagonal().sum()) / (n * (n - 1))
    within_b = (kbb.sum() - kbb.diagonal().sum()) / (m * (m - 1))
    return float(within_a + within_b - 2 * kab.mean())


# ---- 3D shapes: occupancy grids and surface point clouds -------------------------------------
# Point clouds are (N, 3) tensors in the unit cube [0, 1]^3 (the whole voxel grid spans it).

EMPTY_DISTANCE = math.sqrt(3)  # the unit cube's diagonal: the Chamfer distance when one cloud is empty
_CDIST_ELEMENTS = 2**22  # pairwise distances held at once by _nearest (16 MiB of float32)


def iou(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Per-sample IoU of occupancy grids (B, D, H, W) or (B, 1, D, H, W) -> (B,).

    `pred` is occupied where pred >= threshold (probabilities or {0, 1}), `target` where
    target >= 0.5. Two empty grids have IoU 1.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {tuple(pred.shape)} and target {tuple(target.shape)}: they must match")
    p = (pred >= threshold).flatten(1)  # (B, N)
    t = (target.float() >= 0.5).flatten(1)  # (B, N)
    intersection = (p & t).sum(dim=1).float()
    union = (p | t).sum(dim=1).float()
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union))


def surface_points(occupancy: torch.Tensor, n: int, generator: torch.Generator | None = None,
                   threshold: float = 0.5) -> torch.Tensor:
    """`n` points, uniform by area, on the marching-cubes surface of one (D, H, W) grid -> (n, 3).

    Coordinates lie in [0, 1]^3 with array axis i -> coordinate i (the mesh of
    export.voxels_to_mesh, shifted by 0.5). The sampling seed is drawn from `generator` (torch's
    global generator when None). An empty grid gives an empty (0, 3) tensor.
    """
    from .export import voxels_to_mesh  # scikit-image and trimesh are needed for 3D shapes only

    if occupancy.dim() != 3:
        raise ValueError(f"occupancy must be one (D, H, W) grid, got shape {tuple(occupancy.shape)}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    if n == 0 or not (occupancy.float() >= threshold).any():
        return torch.empty(0, 3)
    mesh = voxels_to_mesh(occupancy, threshold)  # world coordinates [-0.5, 0.5]^3
    points, _ = mesh.sample(n, return_index=True, seed=seed)  # (n, 3)
    return torch.from_numpy(points + 0.5).float()


def _nearest(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """For each point of a (N, 3), the Euclidean distance to its nearest point of b (M, 3) -> (N,)."""
    a, b = a.float(), b.float()
    rows = max(1, _CDIST_ELEMENTS // max(len(b), 1))
    # The direct difference form is exact (the matmul form loses ~1e-3 near 0 in float32).
    return torch.cat([torch.cdist(chunk, b, compute_mode="donot_use_mm_for_euclid_dist").amin(dim=1)
                      for chunk in a.split(rows)])


def chamfer_l1(p: torch.Tensor, q: torch.Tensor) -> float:
    """Symmetric mean nearest-neighbour distance of clouds p (N, 3) and q (M, 3), the
    Occupancy-Networks "Chamfer-L1": 0.5 * (mean_p min_q |p - q| + mean_q min_p |q - p|).

    Two empty clouds give 0; exactly one empty gives EMPTY_DISTANCE (the worst value in the unit
    cube, so that means over a test set stay finite).
    """
    if len(p) == 0 or len(q) == 0:
        return 0.0 if len(p) == len(q) else EMPTY_DISTANCE
    return 0.5 * (_nearest(p, q).mean().item() + _nearest(q, p).mean().item())


def fscore(p: torch.Tensor, q: torch.Tensor, threshold: float = 0.01) -> float:
    """F-score at `threshold` (unit-cube units: 0.01 is "F-score@1%") of clouds p (N, 3), q (M, 3).

    Precision is the fraction of p within `threshold` (<=) of q, recall the fraction of q within
    `threshold` of p; F = 2PR / (P + R), 0 when both are 0. Two empty clouds give 1, one empty 0.
    """
    if len(p) == 0 or len(q) == 0:
        return 1.0 if len(p) == len(q) else 0.0
    precision = (_nearest(p, q) <= threshold).float().mean().item()
    recall = (_nearest(q, p) <= threshold).float().mean().item()
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def emd(p: torch.Tensor, q: torch.Tensor) -> float:
    """Earth mover's distance of clouds p (N, 3) and q (M, 3): the mean distance under the optimal
    one-to-one matching (exact, by scipy's linear_sum_assignment; the larger cloud is cut to the
    smaller's first points, so pass clouds in random order). Empty clouds as in chamfer_l1.
    """
    from scipy.optimize import linear_sum_assignment

    if len(p) == 0 or len(q) == 0:
        return 0.0 if len(p) == len(q) else EMPTY_DISTANCE
    n = min(len(p), len(q))
    cost = torch.cdist(p[:n].double(), q[:n].double(), compute_mode="donot_use_mm_for_euclid_dist").numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def chamfer_matrix(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """chamfer_l1 of every cloud of ``a`` with every cloud of ``b`` -> (len(a), len(b)) float64.

    Nearest neighbours come from one k-d tree per cloud (scipy's cKDTree: exact, and about 4 times
    faster than dense distances for 512-point clouds, which made 1-NNA over 842 clouds take 20
    minutes); empty clouds get chamfer_l1's documented values.
    """
    from scipy.spatial import cKDTree

    pa = [c.double().numpy() for c in a]
    pb = [c.double().numpy() for c in b]
    trees_a = [cKDTree(c) if len(c) else None for c in pa]
    trees_b = [cKDTree(c) if len(c) else None for c in pb]
    symmetric = a is b  # one set with itself: each pair once
    out = torch.empty(len(a), len(b), dtype=torch.float64)
    for i, (p, tree_p) in enumerate(zip(pa, trees_a)):
        for j, (q, tree_q) in enumerate(zip(pb, trees_b)):
            if symmetric and j < i:
                out[i, j] = out[j, i]
            elif tree_p is None or tree_q is None:
                out[i, j] = 0.0 if tree_p is tree_q else EMPTY_DISTANCE
            else:
                out[i, j] = 0.5 * (tree_q.query(p)[0].mean() + tree_p.query(q)[0].mean())
    return out


def one_nna(generated: Sequence[torch.Tensor], reference: Sequence[torch.Tensor],
            distance: Callable[[torch.Tensor, torch.Tensor], float] | None = None) -> float:
    """1-nearest-neighbour accuracy (Lopez-Paz & Oquab, 2017) of two sets of point clouds.

    Pools both sets, classifies each cloud by the set of its nearest other cloud under the
    symmetric `distance` (leave-one-out; default Chamfer-L1 by ``chamfer_matrix``) and returns the
    accuracy: 0.5 when the sets are indistinguishable, 1.0 when fully separable. Ties go to the
    lower index (generated first).

    As a measure of a conditional generator, the two sets should come from *different* objects
    (generated from one half of a test split, reference = the other half's ground truth): when each
    generated shape's own ground truth is in the reference set, a good prediction's nearest
    neighbour is that ground truth, which pulls the score below 0.5 for the wrong reason.
    """
    if len(generated) == 0 or len(reference) == 0:
        raise ValueError(f"1-NNA needs clouds in both sets, got {len(generated)} generated "
                         f"and {len(reference)} reference")
    clouds = list(generated) + list(reference)
    labels = torch.tensor([1] * len(generated) + [0] * len(reference))  # (N,)
    n = len(clouds)
    if distance is None:
        d = chamfer_matrix(clouds, clouds)
    else:
        d = torch.zeros((n, n), dtype=torch.float64)
        for i in range(n):
            for j in range(i + 1, n):
                d[i, j] = d[j, i] = distance(clouds[i], clouds[j])
    d.fill_diagonal_(math.inf)  # leave-one-out
    predicted = labels[d.argmin(dim=1)]  # (N,)
    return (predicted == labels).double().mean().item()


def disagreement_auroc(samples: torch.Tensor, target: torch.Tensor, threshold: float = 0.5,
                       mask: torch.Tensor | None = None, shown: torch.Tensor | None = None) -> float:
    """How well per-voxel disagreement among samples predicts per-voxel error: the AUROC.

    ``samples`` (K, ...) occupancy probabilities of K samples (of one input, or of many stacked
    along a later axis); ``target`` (...) the truth. The shape shown is the samples' mean
    probability >= ``threshold`` (as the demo shows it); a voxel's error is "shown differs from the
    truth", its score the share of samples that disagree with the rest, min(p, 1 - p) with p the
    share of samples occupying it (the demo's agreement colouring is 1 - that). AUROC = P(score of
    an error voxel > score of a right one), ties counting half (the Mann-Whitney U statistic,
    scipy). ``mask`` restricts the voxels counted; ``shown`` (...) replaces the mean as the shape
    judged (e.g. the deterministic answer). NaN when the counted voxels are all right or all wrong.
    """
    from scipy.stats import mannwhitneyu

    occupied = (samples >= threshold).float().mean(dim=0)
    score = torch.minimum(occupied, 1 - occupied)
    shown = samples.float().mean(dim=0) if shown is None else shown
    error = (shown >= threshold) != (target.float() >= 0.5)
    if mask is not None:
        score, error = score[mask], error[mask]
    score, error = score.flatten().numpy(), error.flatten().numpy()
    if error.all() or not error.any():
        return float("nan")
    u = mannwhitneyu(score[error], score[~error], alternative="two-sided").statistic
    return float(u / (error.sum() * (~error).sum()))
