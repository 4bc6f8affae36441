"""Mesh helpers every 3D source and the builder share: what has no triangles, and solid voxels."""

from __future__ import annotations

import numpy as np

__all__ = ["GRID", "NoGeometry", "enclosed", "geometry_only", "solid_voxels", "surfaces_only"]

GRID = 32


class NoGeometry(ValueError):
    """The model has no triangles to voxelise or render (e.g. a light source's invisible model)."""

    def __init__(self, message: str = "no geometry"):
        super().__init__(message)


def surfaces_only(scene):
    """The scene without what has no triangles (point clouds, lines, empty meshes); NoGeometry if nothing is left."""
    faceless = [name for name, geometry in scene.geometry.items() if len(getattr(geometry, "faces", ())) == 0]
    if faceless:
        scene.delete_geometry(faceless)
    if not scene.geometry:
        raise NoGeometry()
    return scene


def geometry_only(scene):
    """The scene's triangles in world coordinates as one Trimesh without materials.

    ``Scene.to_mesh()`` would also merge the textures into one atlas image, which for models with
    many large textures took gigabytes; voxels need only the triangles."""
    import trimesh

    from .render import concatenate_parts, placed_parts

    parts = [(v, np.asarray(geometry.faces), v) for geometry, v in placed_parts(scene)]
    if not parts:
        raise NoGeometry()
    vertices, faces, _ = concatenate_parts(parts)
    return trimesh.Trimesh(vertices, faces, process=False)


def solid_voxels(scene, grid: int = GRID, points_per_voxel_face: int = 16, seed: int = 0) -> np.ndarray:
    """Solid occupancy (grid^3 bool, [x, y, z]) of a scene fit in [-0.5, 0.5]^3.

    Surface voxels come from dense area-weighted surface samples; the interior is then filled
    (scipy's binary_fill_holes), so closed shapes are solid as in ShapeNetVox32.
    """
    import trimesh
    from scipy import ndimage

    mesh = geometry_only(scene)
    if len(mesh.faces) == 0:  # surface sampling would fail with an IndexError
        raise NoGeometry()
    area_in_voxel_faces = mesh.area * grid**2
    count = int(min(max(area_in_voxel_faces * points_per_voxel_face, 20_000), 2_000_000))
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    points = np.concatenate([points, mesh.vertices])
    idx = np.clip(np.floor((points + 0.5) * grid).astype(int), 0, grid - 1)
    occ = np.zeros((grid,) * 3, dtype=bool)
    occ[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return ndimage.binary_fill_holes(occ) | enclosed(occ, min_sides=5)


def enclosed(surface: np.ndarray, min_sides: int = 5) -> np.ndarray:
    """Voxels with surface on at least ``min_sides`` of the six axis directions.

    Catalogue models are often open (no bottom under an armchair), which defeats an exact hole fill;
    five of six sides fills those while leaving the space beside and between parts empty.
    """
    sides = np.zeros(surface.shape, dtype=np.int8)
    for axis in range(3):
        before = np.logical_or.accumulate(surface, axis=axis)
        after = np.flip(np.logical_or.accumulate(np.flip(surface, axis), axis=axis), axis)
        sides += before.astype(np.int8) + after.astype(np.int8)
    return surface | (sides >= min_sides)
