"""Voxels -> mesh -> files and Plotly figures, for the web demo and the shape metrics.

Convention: a voxel grid is indexed [x, y, z] with x to the right, y up and z towards the viewer,
and the whole grid spans the cube [-0.5, 0.5]^3 in world coordinates (voxel (i, j, k) of a
(X, Y, Z) grid is centred at (-0.5 + (i + 0.5) / X, ...)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import torch
import trimesh
from scipy import ndimage
from skimage import measure

from .errors import ConfigError

EXPORT_FORMATS = (".glb", ".obj", ".stl")
MESH_COLOR = "#7f9cc9"  # a soft blue for meshes without per-vertex values


def _as_numpy(grid) -> np.ndarray:
    if isinstance(grid, torch.Tensor):
        grid = grid.detach().cpu()
        grid = grid.float() if grid.dtype == torch.bool else grid
        return grid.numpy()
    return np.asarray(grid)


def _colors(values: np.ndarray, colorscale="Viridis") -> np.ndarray:
    """Map values in [0, 1] to RGBA uint8 (N, 4) by linear interpolation of a Plotly colour scale."""
    scale = plotly.colors.get_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    stops = np.array([float(s) for s, _ in scale])
    rgb = np.array([plotly.colors.convert_colors_to_same_type(c, "tuple")[0][0] for _, c in scale])
    v = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
    channels = [np.interp(v, stops, rgb[:, c]) for c in range(3)]
    out = np.stack(channels + [np.ones_like(v)], axis=1)  # (N, 4)
    return np.round(out * 255).astype(np.uint8)


def voxels_to_mesh(occupancy, threshold: float = 0.5, values=None, smooth: int = 0) -> trimesh.Trimesh:
    """Marching cubes on an (X, Y, Z) grid (bool, {0, 1} or probabilities) at `threshold`.

    The grid is padded by one empty voxel so the surface is closed; the pad value is
    min(0, 2 * threshold - 1), the mirror of 1 about the threshold, so a voxel of value 1 next to
    the border gets its face exactly on the voxel boundary (0 for the usual threshold 0.5).
    Faces are wound counter-clockwise seen from outside (normals point out, volume > 0).

    values: optional float grid of the same shape (e.g. agreement across samples in [0, 1]),
    sampled trilinearly at the vertices into `mesh.vertex_attributes["value"]` and shown as
    Viridis vertex colours. smooth: Taubin smoothing iterations; every vertex is kept within
    half a voxel (per axis) of where marching cubes put it, and inside the grid's cube.
    """
    grid = _as_numpy(occupancy).astype(np.float32)
    if grid.ndim != 3:
        raise ValueError(f"occupancy must be a 3-d (X, Y, Z) grid, got shape {grid.shape}")
    if not (grid >= threshold).any():
        raise ValueError(f"the occupancy grid is empty: lower the occupancy threshold (no voxel reaches {threshold})")
    pad_value = min(0.0, 2 * threshold - 1)
    padded = np.pad(grid, 1, constant_values=pad_value)
    # "ascent": skimage's default winding faces inwards for data that is high inside.
    verts, faces, _, _ = measure.marching_cubes(padded, level=threshold, gradient_direction="ascent",
                                                allow_degenerate=False)
    shape = np.array(grid.shape, dtype=np.float64)
    world = (verts - 0.5) / shape - 0.5  # padded index p -> voxel index p - 1 -> world; (V, 3)
    mesh = trimesh.Trimesh(world, faces, process=False)

    if smooth > 0:
        trimesh.smoothing.filter_taubin(mesh, iterations=smooth)
        half_voxel = 0.5 / shape
        low, high = np.maximum(world - half_voxel, -0.5), np.minimum(world + half_voxel, 0.5)
        mesh.vertices = np.clip(mesh.vertices, low, high)

    if values is not None:
        values = _as_numpy(values).astype(np.float32)
        if values.shape != grid.shape:
            raise ValueError(f"values has shape {values.shape}, the occupancy grid {grid.shape}: they must match")
        # Sample at the unsmoothed vertices, in padded index coordinates; the pad repeats the border.
        vertex_values = ndimage.map_coordinates(np.pad(values, 1, mode="edge"), verts.T, order=1)
        mesh.vertex_attributes["value"] = vertex_values.astype(np.float32)
        mesh.visual.vertex_colors = _colors(vertex_values)
    return mesh


def check_mesh_path(path) -> Path:
    """``path`` as a Path when its suffix names a mesh format ``export_mesh`` writes; else a ConfigError."""
    path = Path(path)
    if path.suffix.lower() not in EXPORT_FORMATS:
        raise ConfigError(f"cannot export a mesh to '{path.name}': use one of the suffixes {', '.join(EXPORT_FORMATS)}")
    return path


def export_mesh(mesh: trimesh.Trimesh, path) -> Path:
    """Write `mesh` as GLB, OBJ or STL, chosen by the suffix of `path`; returns the path."""
    path = check_mesh_path(path)
    mesh.export(path, file_type=path.suffix.lower()[1:])
    return path


def _mesh_trace(mesh: trimesh.Trimesh, values=None, colorscale="Viridis", colorbar_title: str | None = None,
                shift: float = 0.0, name: str | None = None) -> go.Mesh3d:
    """A shaded Mesh3d of `mesh` moved by `shift` along x; coloured by per-vertex `values` in [0, 1]
    (default: mesh.vertex_attributes["value"]) with a labelled colour bar, otherwise one colour."""
    if values is None:
        values = mesh.vertex_attributes.get("value")
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    trace = dict(x=v[:, 0] + shift, y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2], flatshading=False,
                 lighting=dict(ambient=0.45, diffuse=0.8, specular=0.15, roughness=0.7, fresnel=0.1),
                 lightposition=dict(x=100, y=200, z=150), hoverinfo="skip", name=name or "mesh")
    if values is not None:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(values) != len(v):
            raise ValueError(f"got {len(values)} values for a mesh with {len(v)} vertices: give one per vertex")
        trace.update(intensity=values, intensitymode="vertex", colorscale=colorscale, cmin=0.0, cmax=1.0,
                     colorbar=dict(thickness=12, len=0.6, title=dict(text=colorbar_title or "", side="right")))
    else:
        trace.update(color=MESH_COLOR)
    return go.Mesh3d(**trace)


def _layout(fig: go.Figure, title: str | None, width: float = 1.0) -> go.Figure:
    """Hidden axes spanning the whole grid (the same scale for every shape), y up; `width` grids side by side."""
    half = 0.52 * width + 0.1 * (width - 1)
    axis = dict(visible=False, showbackground=False)
    fig.update_layout(
        title=dict(text=title, x=0.5) if title else None,
        scene=dict(xaxis=dict(axis, range=[-half, half]), yaxis=dict(axis, range=[-0.52, 0.52]),
                   zaxis=dict(axis, range=[-0.52, 0.52]), aspectmode="manual",
                   aspectratio=dict(x=half / 0.52, y=1, z=1),
                   camera=dict(up=dict(x=0, y=1, z=0), eye=dict(x=1.2 * width ** 0.5, y=0.9, z=1.5 * width ** 0.5))),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        margin=dict(l=0, r=0, b=0, t=40 if title else 0),
    )
    return fig


def plotly_figure(mesh: trimesh.Trimesh, title: str | None = None, values=None, colorscale="Viridis",
                  colorbar_title: str | None = None) -> go.Figure:
    """A shaded Mesh3d of `mesh`, y up. Coloured by `values` (one per vertex in [0, 1]; defaults to
    mesh.vertex_attributes["value"] when present) with a 0..1 colour bar, otherwise one colour."""
    return _layout(go.Figure(_mesh_trace(mesh, values, colorscale, colorbar_title, name=title)), title)


def plotly_side_by_side(meshes: list[tuple[str, trimesh.Trimesh]], title: str | None = None,
                        colorbar_title: str | None = None) -> go.Figure:
    """Several meshes in one 3D scene, left to right, labelled: they turn together when dragged
    (one camera), so a prediction and its ground truth are seen from the same side."""
    n = len(meshes)
    shifts = [(k - (n - 1) / 2) * 1.2 for k in range(n)]
    fig = go.Figure([_mesh_trace(m, colorbar_title=colorbar_title, shift=s, name=label) for (label, m), s in zip(meshes, shifts)])
    _layout(fig, title, width=n)
    fig.update_layout(scene_annotations=[dict(x=s, y=0.56, z=0, text=label, showarrow=False, font=dict(size=14))
                                         for (label, _), s in zip(meshes, shifts)])
    return fig


def plotly_voxels_figure(occupancy, threshold: float = 0.5, values=None, smooth: int = 0, **kw) -> go.Figure:
    """voxels_to_mesh + plotly_figure; `kw` goes to plotly_figure (title, colorscale)."""
    return plotly_figure(voxels_to_mesh(occupancy, threshold, values=values, smooth=smooth), **kw)
