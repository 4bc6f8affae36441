"""Multi-view images lifted into 3D: per-view features back-projected along estimated rays.

The pooled encoder (``MultiViewEncoder``) squeezes each view to one vector and has to learn geometry
from the voxel loss alone; on two CPU cores it does not (README, "Views -> 3D"). This encoder gives
the model the geometry the silhouettes hold, told no cameras at test time:

1. a shared CNN maps each framed view to a (F, S/4, S/4) feature map;
2. a small pose head estimates that view's camera as seven numbers (``POSE``): the azimuth (as sine
   and cosine) and elevation in the object's frame, and the projection of the framed image,
   ``u = A * x_c / (1 - q * d_c) + u0`` (``v`` alike, downwards) with x_c, y_c the point across and up
   the image, d_c its distance towards the camera, A the scale at the origin, q = 1 / the camera
   distance and (u0, v0) where the origin lands; trained against the renderer's cameras and the
   framing actually applied (``pose_targets``). With ``pose_width`` > 0 the estimate comes from a network
   of its own (``PoseNet``: a CNN per view, then self-attention across the views, told each view's place
   in a turntable sequence), trained alone first (``lddbm.tasks.multiview3d.pose``): along the true
   cameras the lifted model scored validation IoU 0.633, along the small head's estimate 0.541;
3. every cell of a (volume)^3 grid over the object's cube is projected into every view with its
   camera and samples the features there (``grid_sample``); the views are fused by masked mean and
   max (any 1-12 views);
4. each 2^3 block of cells is folded into one cell's channels and 3D convolutions at the latent's
   resolution (cheap on a CPU) bring the volume to the voxel autoencoder's layout, (c3, g, g, g) folded
   into (c3 * g, g, g) exactly as ``VoxelEncoder`` folds it, so the source latent lies cell by cell
   over the target latent the bridge moves it to.

The views may come in any order, or in *turntable order* (``view_order``): V views going round the
object to the right in steps of about 360/V degrees, the first from the front or up to a quarter turn
right of it, as the data builder spaces its cameras (``lddbm.data.furniture.cameras_for``) and as the
demo asks people to take photos. A single view cannot tell a chair's front from its back, nor a box's
sides apart (median azimuth error 78 degrees in any order); in turntable order view k's azimuth is
confined to its sector (``turntable_sectors``: k * 360/V plus 0-90 degrees, widened by
``TURNTABLE_SLACK`` either side), and the lift follows the likeliest bins inside it. Training marks
the samples drawn in that order (``"turntable"``); the camera loss always scores the unconfined
estimate, so the head still answers for views in any order.

In training, the rays use the true cameras for a share of the samples (``teacher_share``) and the
estimated ones otherwise (detached: the pose head learns from its own loss only). Outside training the
rays follow the estimate, unless true cameras are passed (``{"views", "pose"}``): an oracle for
benchmarks (benchmarks/lifting_pose.py), never what the pipeline or the demo does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from .common import ResBlock, check_latent_layout, standardize_latent
from .multiview import MultiViewEncoder
from .voxel import _fold

__all__ = ["POSE", "PoseNet", "TURNTABLE_FIRST", "TURNTABLE_SLACK", "VIEW_ORDERS", "LiftingEncoder", "pose_targets", "project_to_frame",
           "takes_view_order", "turntable_sectors"]

POSE = ("sin_azimuth", "cos_azimuth", "elevation", "log_scale", "inverse_distance", "u0", "v0")
VIEW_ORDERS = ("any", "turntable")
TURNTABLE_FIRST = 90.0  # degrees: the first turntable view is from the front or up to this much right of it
TURNTABLE_SLACK = 15.0  # degrees a turntable view may stray beyond its sector (the builder jitters by 12)


def turntable_sectors(num_views: int, bins: int) -> torch.Tensor:
    """(num_views, bins) bool: the azimuth bins (bin b at b * 360 / bins degrees) view k of a turntable
    sequence may take: the first view is from the front or up to a quarter turn right of it, view k
    360 k / num_views further round, each widened by TURNTABLE_SLACK either side:
    [k * s - TURNTABLE_SLACK, k * s + TURNTABLE_FIRST + TURNTABLE_SLACK] with s = 360 / num_views."""
    angles = torch.arange(bins, dtype=torch.float64) * (360.0 / bins)
    start = torch.arange(num_views, dtype=torch.float64)[:, None] * (360.0 / num_views) - TURNTABLE_SLACK
    return torch.remainder(angles[None] - start, 360.0) <= TURNTABLE_FIRST + 2 * TURNTABLE_SLACK


def takes_view_order(encoder) -> bool:
    """Whether a source encoder reads a view order (``preprocess(view_order=...)``): a LiftingEncoder with
    azimuth classes. Others (the pooled encoder, a lifting one that regresses the azimuth) take the views as a set."""
    return getattr(encoder.config, "azimuth_bins", 0) > 0


def _rotation(pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The camera's right, up and towards-camera unit vectors (each (..., 3)) from a pose (..., 7),
    as ``lddbm.data.render.look_at`` builds them (y up; the camera looks at the origin)."""
    sa, ca = pose[..., 0], pose[..., 1]
    norm = torch.sqrt(sa**2 + ca**2).clamp_min(1e-6)
    sa, ca = sa / norm, ca / norm
    se, ce = torch.sin(pose[..., 2]), torch.cos(pose[..., 2])
    zero = torch.zeros_like(sa)
    right = torch.stack([ca, zero, -sa], dim=-1)
    up = torch.stack([-sa * se, ce, -ca * se], dim=-1)
    towards = torch.stack([sa * ce, se, ca * ce], dim=-1)
    return right, up, towards


def project_to_frame(points: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """World points (N, 3) seen by cameras ``pose`` (..., 7) -> (..., N, 2) framed-image coordinates
    (u across, v down, the frame spanning [-1, 1]: ``grid_sample``'s convention)."""
    right, up, towards = (r[..., None, :] for r in _rotation(pose))  # (..., 1, 3)
    x, y, d = (points * right).sum(-1), (points * up).sum(-1), (points * towards).sum(-1)  # (..., N)
    scale, q = pose[..., 3:4].exp(), pose[..., 4:5]
    w = (1 - q * d).clamp_min(0.05)  # points behind the camera cannot occur for the object's cube
    return torch.stack([scale * x / w + pose[..., 5:6], -scale * y / w + pose[..., 6:7]], dim=-1)


def pose_targets(camera: np.ndarray, box: tuple[float, float, float], render_size: int) -> np.ndarray:
    """The seven pose numbers (``POSE``) of one framed view: ``camera`` = (azimuth, elevation, distance,
    fov) as the builder stores them (degrees), ``box`` = (cx, cy, side) of the framing crop in render
    pixels (``lddbm.framing.framing_box``), in a ``render_size`` square render."""
    azimuth, elevation, distance, fov = (float(v) for v in camera[:4])
    f = 1.0 / math.tan(math.radians(fov) / 2)
    cx, cy, side = box
    s = render_size / side  # framed units per render NDC unit
    a = math.radians(azimuth)
    return np.array([math.sin(a), math.cos(a), math.radians(elevation), math.log(s * f / distance), 1.0 / distance,
                     (render_size / 2 - cx) / (side / 2), (render_size / 2 - cy) / (side / 2)], dtype=np.float32)


def _space_to_depth(x: torch.Tensor) -> torch.Tensor:
    """(B, c, X, Y, Z) -> (B, 8c, X/2, Y/2, Z/2): each 2^3 block of cells becomes one cell's channels."""
    B, c, X, Y, Z = x.shape
    x = x.reshape(B, c, X // 2, 2, Y // 2, 2, Z // 2, 2).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(B, 8 * c, X // 2, Y // 2, Z // 2)


def _cube(volume: int) -> torch.Tensor:
    """(volume^3, 3) cell centres over [-0.5, 0.5]^3, indexed [x, y, z] (``lddbm.tasks.multiview3d.hull.voxel_centres``)."""
    c = (torch.arange(volume, dtype=torch.float32) + 0.5) / volume - 0.5
    return torch.stack(torch.meshgrid(c, c, c, indexing="ij"), dim=-1).reshape(-1, 3)


class PoseNet(nn.Module):
    """The camera estimate's own network (``LiftingEncoder(pose_width > 0)``): a CNN of its own over each
    framed view (not the lifted features' small trunk) and ``layers`` of self-attention across the
    object's views, so that what one view shows (how tall the object is, which side is its front) informs
    the others' cameras. In turntable order each view also carries where it sits in the turn (sine and
    cosine of 360 k / V); in any order that input is zero. (B, V, 3, S, S) -> (B, V, hidden)."""

    def __init__(self, image_size: int, width: int, hidden: int = 128, layers: int = 2, heads: int = 4):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(  # (3, S, S) -> (hidden,): four stride-2 stages
            nn.Conv2d(3, w, 4, stride=2, padding=1), ResBlock(w),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), ResBlock(2 * w),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), ResBlock(4 * w),
            nn.Conv2d(4 * w, 4 * w, 4, stride=2, padding=1), nn.GroupNorm(8, 4 * w), nn.SiLU(), nn.Flatten(),
            nn.Linear(4 * w * (image_size // 16) ** 2, hidden), nn.SiLU())
        self.place = nn.Linear(2, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.mixer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers > 0 else None
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.SiLU())

    def forward(self, views: torch.Tensor, turntable: torch.Tensor) -> torch.Tensor:
        B, V = views.shape[:2]
        h = self.trunk(views.flatten(0, 1)).reshape(B, V, -1)
        if self.mixer is not None:
            turn = torch.arange(V, device=views.device, dtype=h.dtype) * (2 * math.pi / V)
            place = torch.stack([turn.sin(), turn.cos()], -1)[None] * turntable.to(h.dtype).reshape(B, 1, 1)
            h = self.mixer(h + self.place(place))
        return h + self.out(h)


class LiftingEncoder(ModelMixin, ConfigMixin):
    """(B, V, 3, S, S) views in [-1, 1] (or {"views": ..., "pose": (B, V, 7)} in training) -> (B, C, h, h)
    latent of std sigma_data, laid out like ``VoxelEncoder``'s. ``last_pose`` holds the estimated
    cameras of the last call; after a call given true cameras, ``pose_loss(true)`` scores them."""

    _views_tensor = MultiViewEncoder._views_tensor

    def preprocess(self, inputs, remove_background: bool = True, foreground_ratio: float | None = None,
                   segmenter=None, view_order: str | None = None) -> dict:
        """Views framed as the pooled encoder frames them (``MultiViewEncoder.preprocess``), as
        ``{"views": (B, V, 3, S, S), "turntable": (B,) bool}``; ``view_order`` "any" or "turntable"
        (None: the config's ``view_order``). A dict is passed through."""
        if isinstance(inputs, dict):
            return inputs
        order = view_order or self.config.view_order
        if order not in VIEW_ORDERS:
            raise ValueError(f"view_order must be one of {', '.join(VIEW_ORDERS)}; got {order!r}.")
        if order == "turntable" and self.azimuth_head is None:
            raise ValueError("This model estimates no azimuth classes (azimuth_bins = 0), so it cannot use the "
                             "turntable order: pass view_order='any'.")
        x = MultiViewEncoder.preprocess(self, inputs, remove_background, foreground_ratio, segmenter)
        return {"views": x, "turntable": torch.full((x.shape[0],), order == "turntable", device=x.device)}

    @register_to_config
    def __init__(
        self,
        image_size: int = 64,
        max_views: int = 12,
        latent_channels: int = 16,
        latent_size: int = 8,
        width: int = 16,  # channels of the first 2D stage (doubled once)
        features: int = 8,  # channels sampled into the volume per view
        volume: int = 16,  # cells per side of the lifted volume (2 x latent_size)
        volume_width: int = 32,  # channels of the 3D stage (at latent_size^3: 2^3 lifted cells folded into each)
        view_dropout: float = 0.25,  # training only
        teacher_share: float = 0.5,  # training only: share of samples lifted with the true cameras
        azimuth_bins: int = 0,  # > 0: the azimuth as a distribution over bins, lifted along its likeliest ones
        azimuth_hypotheses: int = 4,  # with azimuth_bins: the bins each view is lifted along, weighted
        view_order: str = "any",  # how inputs that do not say are ordered: "any" or "turntable" (needs azimuth_bins)
        pose_width: int = 0,  # > 0: the cameras are estimated by a network of their own (PoseNet) this wide
        pose_layers: int = 2,  # with pose_width: self-attention layers across the views in PoseNet
        pose_regression_weight: float = 1.0,  # training only: the camera loss's weight on the squared errors
        # training only: each squared error's own weight, for elevation, log_scale, inverse_distance, u0, v0
        # (POSE[2:]); None: all 1. The shapes' IoU is most sensitive to the offsets (benchmarks/lifting_pose.py --each)
        pose_part_weights: list[float] | None = None,
        sigma_data: float = 0.5,
        foreground_ratio: float | None = 0.75,
    ):
        if pose_part_weights is not None and (len(pose_part_weights) != len(POSE) - 2
                                              or any(not w >= 0 for w in pose_part_weights)):
            raise ValueError(f"pose_part_weights: {len(POSE) - 2} weights >= 0 ({', '.join(POSE[2:])}), "
                             f"got {pose_part_weights!r}.")
        super().__init__()
        check_latent_layout(latent_channels, latent_size)
        if latent_channels % latent_size or volume != 2 * latent_size or image_size % 16:
            raise ValueError("LiftingEncoder needs latent_channels a multiple of latent_size, volume = 2 * latent_size "
                             f"and image_size a multiple of 16; got {latent_channels}, {latent_size}, {volume}, {image_size}.")
        if view_order not in VIEW_ORDERS or (view_order == "turntable" and azimuth_bins <= 0):
            raise ValueError(f"view_order must be one of {VIEW_ORDERS} (turntable needs azimuth_bins > 0); got {view_order!r}.")
        w = width
        self.view_net = nn.Sequential(  # (3, S, S) -> (2w, S/4, S/4); no full-resolution stage (CPU memory traffic)
            nn.Conv2d(3, w, 4, stride=2, padding=1), nn.GroupNorm(min(8, w), w), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), ResBlock(2 * w))
        self.to_features = nn.Conv2d(2 * w, features, 1)
        if pose_width > 0:  # (B, V, 3, S, S) -> (B, V, 128) -> 7 per view
            self.pose_head = nn.Sequential(PoseNet(image_size, pose_width, 128, pose_layers), nn.Linear(128, len(POSE)))
        else:  # (2w, S/4, S/4) -> 7, on the lifted features' trunk
            self.pose_head = nn.Sequential(
                nn.GroupNorm(8, 2 * w), nn.SiLU(), nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.SiLU(),
                nn.Conv2d(4 * w, 4 * w, 4, stride=2, padding=1), nn.SiLU(), nn.Flatten(),
                nn.Linear(4 * w * (image_size // 16) ** 2, 128), nn.SiLU(), nn.Linear(128, len(POSE)))
        # the azimuth as classes: one view often fits several (a chair's front and back, a box's four sides), and
        # a regressed sine and cosine average them into a direction that fits none (median error 69 degrees)
        self.azimuth_head = nn.Linear(128, azimuth_bins) if azimuth_bins > 0 else None
        if azimuth_bins > 0:
            self.register_buffer("bin_angles", torch.arange(azimuth_bins) * (2 * math.pi / azimuth_bins),
                                 persistent=False)
        c3, cin = latent_channels // latent_size, 8 * (2 * features + 3)
        self.volume_net = nn.Sequential(  # (8 (2F + 3), V/2, V/2, V/2) after space-to-depth -> (c3, V/2, V/2, V/2)
            nn.Conv3d(cin, volume_width, 1), ResBlock(volume_width, dims=3), ResBlock(volume_width, dims=3),
            nn.GroupNorm(8, volume_width), nn.SiLU(), nn.Conv3d(volume_width, c3, 1))
        self.register_buffer("cube", _cube(volume), persistent=False)  # (V^3, 3)
        self.last_pose: torch.Tensor | None = None  # (B, V, 7) estimated by the last call, detached
        self._pose_to_score: torch.Tensor | None = None

    def forward(self, views) -> torch.Tensor:
        true_pose = turntable = None
        if isinstance(views, dict):
            views, true_pose, turntable = views["views"], views.get("pose"), views.get("turntable")
        B, V = views.shape[:2]
        maps = self.view_net(views.flatten(0, 1))  # (B*V, 2w, S/4, S/4)
        pose, scored, logits = self.estimate_pose(views, turntable, maps)
        # pose_loss takes them (and graphs); the azimuth is scored unconfined, as views in any order need it
        self._pose_to_score = (pose, scored) if true_pose is not None else None
        features = self.to_features(maps)  # (B*V, F, h, h)
        rays = pose.detach()
        teach = torch.zeros(B, dtype=torch.bool, device=views.device)
        if true_pose is not None and not self.training:  # an oracle for benchmarks: the true cameras' rays
            rays, logits = true_pose.to(pose.dtype), None
        elif true_pose is not None and self.config.teacher_share > 0:
            teach = torch.rand(B, device=views.device) < self.config.teacher_share
            if logits is None:
                rays = torch.where(teach[:, None, None], true_pose.to(pose.dtype), rays)
        sampled = self._lift(features, rays, logits)
        if logits is not None and teach.any():  # the taught samples along their true cameras alone
            taught = self._lift(features, true_pose.to(pose.dtype))
            sampled = torch.where(teach[:, None, None, None, None, None], taught, sampled)
        g = self.config.volume
        keep = torch.ones(B, V, device=views.device, dtype=torch.bool)
        if self.training and self.config.view_dropout > 0 and V > 1:
            keep = torch.rand(B, V, device=views.device) >= self.config.view_dropout
            keep[torch.arange(B), torch.randint(V, (B,), device=views.device)] = True
        k = keep[:, :, None, None, None, None]
        mean = (sampled * k).sum(1) / k.sum(1).clamp_min(1)
        peak = sampled.masked_fill(~k, float("-inf")).amax(1)
        where = self.cube.T.reshape(1, 3, g, g, g).expand(B, -1, -1, -1, -1).to(mean.dtype)
        volume = self.volume_net(_space_to_depth(torch.cat([mean, peak, where], dim=1)))  # (B, c3, g/2, g/2, g/2)
        return standardize_latent(_fold(volume), self.config.sigma_data)

    def estimate_pose(self, views: torch.Tensor, turntable: torch.Tensor | None = None, maps: torch.Tensor | None = None):
        """The cameras of views (B, V, 3, S, S) -> (pose (B, V, 7), unconfined azimuth logits (B, V, bins) or
        None, the logits confined to the turntable sectors or None). ``maps``: the views' trunk features
        (computed here when the pose head reads them and they are not given). Sets ``last_pose``."""
        B, V = views.shape[:2]
        turntable = self._turntable_flags(turntable, B, views.device)
        if self.config.pose_width > 0:
            hidden = self.pose_head[0](views, turntable).flatten(0, 1)  # (B*V, 128)
        else:
            maps = self.view_net(views.flatten(0, 1)) if maps is None else maps
            hidden = self.pose_head[:-1](maps)  # (B*V, 128)
        pose = (self.pose_head[-1](hidden) + self._pose_prior(hidden)).reshape(B, V, len(POSE))
        logits = scored = None
        if self.azimuth_head is not None:
            scored = self.azimuth_head(hidden).float().reshape(B, V, -1)
            logits = self._confine(scored, turntable)
            azimuth = self._decode_azimuth(logits)
            pose = torch.cat([azimuth.sin()[..., None].to(pose.dtype), azimuth.cos()[..., None].to(pose.dtype),
                              pose[..., 2:]], dim=-1)
        self.last_pose = pose.detach()
        return pose, scored, logits

    def _lift(self, features: torch.Tensor, pose: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
        """Per-view features (B*V, F, h, h) sampled at every cell along cameras ``pose`` (B, V, 7) ->
        (B, V, F, g, g, g). Given azimuth ``logits`` (B, V, bins), each view is lifted along its
        ``azimuth_hypotheses`` likeliest bins and the results are weighted by their renormalised
        probabilities: the weights carry the shape loss's gradient to the azimuth head, and a view
        that fits two azimuths puts its silhouette along both."""
        B, V = pose.shape[:2]
        g = self.config.volume
        if logits is None:
            grid = project_to_frame(self.cube, pose.flatten(0, 1))  # (B*V, g^3, 2)
            sampled = F.grid_sample(features, grid[:, None], mode="bilinear", padding_mode="zeros", align_corners=False)
            return sampled.reshape(B, V, -1, g, g, g)
        K = min(self.config.azimuth_hypotheses, logits.shape[-1])
        top, idx = logits.topk(K, dim=-1)  # (B, V, K)
        weight = top.softmax(-1).to(features.dtype)
        angle = self.bin_angles[idx]
        hyp = pose[:, :, None].expand(-1, -1, K, -1)
        hyp = torch.cat([angle.sin()[..., None].to(pose.dtype), angle.cos()[..., None].to(pose.dtype), hyp[..., 2:]], -1)
        grid = project_to_frame(self.cube, hyp.reshape(B * V, K, -1))  # (B*V, K, g^3, 2)
        sampled = F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (B*V, F, K, g^3)
        sampled = (sampled * weight.reshape(B * V, 1, K, 1)).sum(2)
        return sampled.reshape(B, V, -1, g, g, g)

    def _turntable_flags(self, turntable, batch: int, device) -> torch.Tensor:
        """(batch,) bool: which samples are in turntable order (``turntable`` as given, one flag or one per
        sample; None: the config's ``view_order`` for all)."""
        if turntable is None:
            return torch.full((batch,), self.config.view_order == "turntable", device=device)
        return torch.as_tensor(turntable, dtype=torch.bool, device=device).reshape(-1).expand(batch)

    def _confine(self, logits: torch.Tensor, turntable: torch.Tensor) -> torch.Tensor:
        """Azimuth logits (B, V, bins) with the bins outside each view's turntable sector ruled out for
        the samples in turntable order (``turntable`` (B,) bool, ``_turntable_flags``)."""
        if not turntable.any():
            return logits
        outside = ~turntable_sectors(logits.shape[1], logits.shape[2]).to(logits.device)  # (V, bins)
        return logits.masked_fill(turntable[:, None, None] & outside[None], -1e4)

    def _decode_azimuth(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., bins) logits -> (...) azimuth in radians: the likeliest bin, refined by the circular mean
        of it and its two neighbours weighted by their probabilities."""
        n = logits.shape[-1]
        p = logits.softmax(-1)
        window = (p.argmax(-1, keepdim=True) + torch.arange(-1, 2, device=p.device)) % n
        w, angle = p.gather(-1, window), self.bin_angles[window]
        return torch.atan2((w * angle.sin()).sum(-1), (w * angle.cos()).sum(-1))

    @staticmethod
    def _pose_prior(like: torch.Tensor) -> torch.Tensor:
        """Where the head's outputs start (it learns offsets): facing the object, 25 degrees up, the
        fixed studio's 40-degree lens two units away, the origin at the frame's centre."""
        return torch.tensor([0.0, 1.0, 0.44, 0.4, 0.5, 0.0, 0.0], device=like.device, dtype=like.dtype)

    def pose_loss(self, true_pose: torch.Tensor, regression_weight: float | None = None) -> torch.Tensor:
        """The error (``camera_loss``) of the cameras (B, V, 7) estimated by the last call that was given true
        ones (``{"views", "pose"}``); ``regression_weight`` None: the config's ``pose_regression_weight``.
        Taken once: the module keeps no graph afterwards (EMA copies it)."""
        scored, self._pose_to_score = self._pose_to_score, None
        if scored is None:
            raise RuntimeError("pose_loss needs a forward call given {'views': ..., 'pose': ...} first.")
        weight = self.config.pose_regression_weight if regression_weight is None else regression_weight
        return self.camera_loss(*scored, true_pose, weight)

    def camera_loss(self, pose: torch.Tensor, logits: torch.Tensor | None, true_pose: torch.Tensor,
                    regression_weight: float = 1.0) -> torch.Tensor:
        """Estimated cameras ``pose`` (B, V, 7) and unconfined azimuth ``logits`` (``estimate_pose``) against the
        true ones: mean squared error of the seven numbers, or with ``azimuth_bins`` of the five besides the
        azimuth plus a quarter of the azimuth's cross-entropy against the true angle spread over neighbouring
        bins (a Gaussian of one bin's width). ``regression_weight`` scales the squared errors (the camera
        network trained alone weighs them up: ``lddbm.tasks.multiview3d.pose``), each of the five besides
        the azimuth also by its ``pose_part_weights``."""
        true_pose = true_pose.float()
        squared = (pose.float() - true_pose).square()
        if self.config.pose_part_weights is not None:
            squared = torch.cat([squared[..., :2], squared[..., 2:] * squared.new_tensor(self.config.pose_part_weights)], -1)
        if logits is None:
            return regression_weight * squared.mean()
        n = logits.shape[-1]
        true_angle = torch.atan2(true_pose[..., 0], true_pose[..., 1])
        offset = (true_angle[..., None] - self.bin_angles) / (2 * math.pi / n)  # in bins
        offset = torch.remainder(offset + n / 2, n) - n / 2
        target = torch.softmax(-0.5 * offset.square(), dim=-1)
        cross_entropy = -(target * logits.log_softmax(-1)).sum(-1).mean()
        return regression_weight * squared[..., 2:].mean() + 0.25 * cross_entropy
