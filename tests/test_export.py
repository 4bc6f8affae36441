import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import trimesh

from lddbm.export import export_mesh, plotly_figure, plotly_voxels_figure, voxels_to_mesh


def box(size: int, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    """A (size, size, size) bool grid indexed [x, y, z], occupied on [lo, hi) along each axis."""
    grid = np.zeros((size, size, size), dtype=bool)
    grid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
    return grid


CUBE = box(8, (2, 2, 2), (6, 6, 6))  # the middle half of the grid: world [-0.25, 0.25]^3


def test_solid_cube_gives_a_closed_outward_mesh_with_the_cube_extent():
    mesh = voxels_to_mesh(CUBE)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert np.allclose(mesh.bounds, [[-0.25] * 3, [0.25] * 3])
    assert 0 < mesh.volume <= 0.5**3  # positive: outward normals; marching cubes bevels the edges
    outward = ((mesh.triangles_center - mesh.bounds.mean(axis=0)) * mesh.face_normals).sum(axis=1)
    assert (outward > 0).all()  # the mesh is convex: every normal points away from its centre


def test_up_axis_convention_y_index_maps_to_world_y():
    mesh = voxels_to_mesh(box(8, (3, 6, 3), (5, 8, 5)))  # a block at the top (high y index)
    assert np.allclose(mesh.bounds, [[-0.125, 0.25, -0.125], [0.125, 0.5, 0.125]])
    mesh = voxels_to_mesh(box(8, (6, 0, 0), (8, 2, 8)))  # at high x, low y, spanning z
    assert np.allclose(mesh.bounds, [[0.25, -0.5, -0.5], [0.5, -0.25, 0.5]])


def test_full_non_cubic_tensor_grid_spans_the_world_cube():
    mesh = voxels_to_mesh(torch.ones(4, 8, 2, dtype=torch.bool))
    assert mesh.is_watertight and mesh.volume > 0
    assert np.allclose(mesh.bounds, [[-0.5] * 3, [0.5] * 3])


def test_values_are_sampled_at_vertices_and_coloured():
    mesh = voxels_to_mesh(CUBE, values=np.full(CUBE.shape, 0.7, dtype=np.float32))
    assert np.allclose(mesh.vertex_attributes["value"], 0.7)
    colors = mesh.visual.vertex_colors
    assert colors.shape == (len(mesh.vertices), 4) and (colors == colors[0]).all()

    ramp = np.broadcast_to(np.linspace(0, 1, 8)[None, :, None], CUBE.shape)  # grows with y
    mesh = voxels_to_mesh(CUBE, values=ramp)
    value, y = mesh.vertex_attributes["value"], mesh.vertices[:, 1]
    assert value[y > 0.2].min() > value[y < -0.2].max()
    with pytest.raises(ValueError, match="must match"):
        voxels_to_mesh(CUBE, values=np.zeros((4, 4, 4)))


def test_smoothing_stays_closed_and_within_half_a_voxel():
    raw, smooth = voxels_to_mesh(CUBE), voxels_to_mesh(CUBE, smooth=10)
    assert smooth.is_watertight and smooth.volume > 0
    assert np.abs(smooth.vertices - raw.vertices).max() <= 0.5 / 8 + 1e-9
    assert not np.allclose(smooth.vertices, raw.vertices)


@pytest.mark.parametrize("threshold", [0.5, 0.9])
def test_empty_grid_raises_a_clear_error(threshold):
    grid = np.full((6, 6, 6), 0.3 if threshold == 0.5 else 0.8)
    with pytest.raises(ValueError, match="is empty: lower the occupancy threshold"):
        voxels_to_mesh(grid, threshold=threshold)


@pytest.mark.parametrize("suffix", [".glb", ".obj", ".stl"])
def test_export_round_trips(tmp_path, suffix):
    mesh = voxels_to_mesh(CUBE, values=np.random.default_rng(0).random(CUBE.shape))
    path = export_mesh(mesh, tmp_path / f"cube{suffix}")
    assert path.is_file() and path.stat().st_size > 0
    loaded = trimesh.load(path, force="mesh")
    assert len(loaded.faces) == len(mesh.faces)
    assert np.allclose(loaded.bounds, mesh.bounds, atol=1e-6)  # no axis swap on the way (GLB is y-up too)
    assert loaded.volume == pytest.approx(mesh.volume, rel=1e-5)


def test_export_rejects_unknown_suffixes(tmp_path):
    with pytest.raises(ValueError, match=r"\.glb, \.obj, \.stl"):
        export_mesh(voxels_to_mesh(CUBE), tmp_path / "cube.ply")


def test_plotly_figure_is_one_y_up_mesh():
    mesh = voxels_to_mesh(CUBE)
    fig = plotly_figure(mesh, title="cube")
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    trace = fig.data[0]
    assert trace.type == "mesh3d" and len(trace.x) == len(mesh.vertices) and len(trace.i) == len(mesh.faces)
    assert trace.intensity is None and trace.color is not None
    up = fig.layout.scene.camera.up
    assert (up.x, up.y, up.z) == (0, 1, 0)
    assert fig.layout.scene.xaxis.visible is False


def test_plotly_figure_carries_vertex_values():
    values = np.linspace(0, 1, 8)[:, None, None] * np.ones(CUBE.shape)
    fig = plotly_voxels_figure(torch.from_numpy(CUBE), values=values, title="agreement")
    trace = fig.data[0]
    assert trace.intensity is not None and len(trace.intensity) == len(trace.x)
    assert trace.colorbar is not None
    mesh = voxels_to_mesh(CUBE)
    fig = plotly_figure(mesh, values=np.zeros(len(mesh.vertices)))
    assert np.allclose(fig.data[0].intensity, 0)
    with pytest.raises(ValueError, match="one per vertex"):
        plotly_figure(mesh, values=np.zeros(3))
