"""The visual hull: a training-free reference for views -> 3D that is *given the cameras*.

A voxel is kept when its centre projects inside the object's silhouette in every view (shape from
silhouettes). The models are told no cameras; the hull needs each view's exact camera
(azimuth, elevation, distance, field of view as stored by the data builder) and mask, so it is a
reference for what the silhouettes alone determine, not a competitor on equal terms.

Cameras follow ``lddbm.data.render``: y up, the camera at ``camera_position(azimuth, elevation,
distance)`` looking at the origin (OpenGL: down its -z axis), square images, vertical field of view.
"""

from __future__ import annotations

import numpy as np

from ...data.render import camera_position, look_at


def voxel_centres(grid: int) -> np.ndarray:
    """(G^3, 3) centres of the [x, y, z]-indexed grid spanning [-0.5, 0.5]^3."""
    c = (np.arange(grid) + 0.5) / grid - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1).reshape(-1, 3)


def project(points: np.ndarray, camera, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (row, col) of world points (N, 3) in a size x size image from ``camera`` =
    (azimuth, elevation, distance, fov_deg); rows grow downwards."""
    azimuth, elevation, distance, fov = (float(v) for v in camera[:4])
    pose = look_at(camera_position(azimuth, elevation, distance))  # camera-to-world
    world_to_camera = np.linalg.inv(pose)
    p = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]  # (N, 3) in camera space
    depth = -p[:, 2]
    f = 1.0 / np.tan(np.radians(fov) / 2)
    x_ndc, y_ndc = f * p[:, 0] / depth, f * p[:, 1] / depth
    return (1 - y_ndc) / 2 * size, (x_ndc + 1) / 2 * size


def visual_hull(masks: np.ndarray, cameras: np.ndarray, grid: int = 32) -> np.ndarray:
    """(grid^3) bool occupancy, indexed [x, y, z], from (V, S, S) silhouettes and their (V, 4) cameras."""
    points = voxel_centres(grid)
    keep = np.ones(len(points), dtype=bool)
    size = masks.shape[1]
    for mask, camera in zip(masks, cameras):
        rows, cols = project(points, camera, size)
        r, c = np.floor(rows).astype(int), np.floor(cols).astype(int)
        inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
        hit = np.zeros(len(points), dtype=bool)
        hit[inside] = mask[r[inside], c[inside]]
        keep &= hit  # outside the frame counts as outside the silhouette
    return keep.reshape(grid, grid, grid)
