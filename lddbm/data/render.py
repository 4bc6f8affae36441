"""Off-screen rendering of textured meshes for the multi-view data sets (optional dependency).

Uses pyrender on OSMesa (CPU): ``pip install -e ".[render]"`` (pyrender2, PyOpenGL 3.1.9, networkx 3)
and Debian's ``libosmesa6``. pyrender2 is pyrender 0.1.45 without its pins: pyrender itself pins
PyOpenGL 3.1.0, whose OSMesa path is broken, and its older releases (which pip falls back to) pin
networkx 2.2, which fails to import on Python 3.9+.

World convention: y up, the object's front faces +z; azimuth 0 looks at the front, azimuth 90
looks from +x. Cameras look at the origin from ``distance`` with vertical field of view ``fov``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import LDDBMError

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")  # must precede the first OpenGL import

INSTALL_HINT = (
    "Rendering needs the optional extras: pip install pyrender2 PyOpenGL==3.1.9 \"networkx>=3\" (in a checkout: "
    "pip install -e \".[render]\"), and the OSMesa library (Debian/Ubuntu: apt-get install libosmesa6)."
)


class RenderingUnavailable(LDDBMError, RuntimeError):
    """Nothing can be rendered on this machine: pyrender or an off-screen OpenGL context is missing.

    The message names the underlying error, then says what to install.
    """


def import_pyrender():
    """The pyrender module, or RenderingUnavailable naming why it could not be imported.

    Any exception counts, not just ImportError: an installed pyrender can fail on import in other
    ways (an old networkx on a new Python, an OpenGL library that will not load).
    """
    try:
        import pyrender
    except Exception as err:
        raise RenderingUnavailable(f"{import_failure(err)} {INSTALL_HINT}") from err
    return pyrender


def import_failure(err: BaseException) -> str:
    """One sentence on why ``import pyrender`` failed: not installed, or the real error."""
    if isinstance(err, ModuleNotFoundError) and err.name == "pyrender":
        return "pyrender is not installed."
    return f"import pyrender failed: {describe(err)}."


def describe(err: BaseException) -> str:
    """'ExceptionType: message' (no final full stop), for messages that must show the real error."""
    text = str(err).strip().rstrip(".")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def camera_position(azimuth_deg: float, elevation_deg: float, distance: float) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return distance * np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])


def look_at(eye: np.ndarray, target: np.ndarray | None = None, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Camera-to-world pose (OpenGL: the camera looks down its -z axis)."""
    target = np.zeros(3) if target is None else target
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=float))
    right = right / np.linalg.norm(right)
    true_up = np.cross(right, forward)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, -forward, eye
    return pose


@dataclass(frozen=True)
class View:
    """One render's camera and lights. The defaults are the fixed studio every data set used before
    randomised studios: a 40 degree lens, a headlight (the key light at the camera) and a top light."""

    azimuth: float  # degrees; 0 looks at the front (+z), 90 from +x
    elevation: float  # degrees above the horizon
    distance: float  # from the origin, for an object fit in [-0.5, 0.5]^3
    fov: float = 40.0  # vertical field of view, degrees
    key_direction: tuple[float, float] | None = None  # (azimuth, elevation) the key light shines from; None: the camera's
    key_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    key_intensity: float = 2.5
    fill_intensity: float = 1.5  # the top light
    ambient: float = 0.3


def placed_parts(scene):
    """(geometry, its vertices in world coordinates (N, 3) float64) for every part of ``scene`` that
    has triangles, with each scene-graph node's transform applied."""
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geometry = scene.geometry[name]
        if len(getattr(geometry, "faces", ())) == 0:
            continue
        yield geometry, np.asarray(geometry.vertices, dtype=np.float64) @ transform[:3, :3].T + transform[:3, 3]


def prepare_for_render(scene, max_texture: int = 256):
    """A copy of ``scene`` that renders the same at our resolutions with far less memory.

    pyrender uploads one texture per primitive: a model of 300 parts sharing one 1024x512 texture
    took 6-23 GB. So textures are downscaled to ``max_texture`` pixels (the renders are 128 px) once
    per distinct image, textured parts that share an image are merged into one mesh, and the parts
    without a texture into one vertex-coloured mesh."""
    import trimesh
    from PIL import Image

    resized: dict[int, object] = {}
    groups: dict[int, list] = {}
    coloured: list = []  # parts without a usable texture: merged into one vertex-coloured mesh
    out = trimesh.Scene()
    for geometry, v in placed_parts(scene):
        visual = getattr(geometry, "visual", None)
        material = getattr(visual, "material", None)
        image = getattr(material, "image", None) if material is not None else None
        if image is None:
            image = getattr(material, "baseColorTexture", None) if material is not None else None
        uv = getattr(visual, "uv", None)
        if getattr(visual, "kind", None) != "texture" or uv is None or image is None:
            coloured.append((v, np.asarray(geometry.faces), np.asarray(vertex_colours(geometry))))
            continue
        key = id(image)  # parts often carry their own material object around one shared image
        if key not in resized:
            small = image.copy()
            if max(small.size) > max_texture:
                small.thumbnail((max_texture, max_texture), Image.BILINEAR)
            m = material.copy()
            if hasattr(m, "image"):
                m.image = small
            else:
                m.baseColorTexture = small
            resized[key] = m
        groups.setdefault(key, []).append((v, np.asarray(geometry.faces), np.asarray(uv)))
    for key, parts in groups.items():
        v, f, uv = concatenate_parts(parts)
        visual = trimesh.visual.TextureVisuals(uv=uv, material=resized[key])
        out.add_geometry(trimesh.Trimesh(v, f, visual=visual, process=False))
    if coloured:
        v, f, colours = concatenate_parts(coloured)
        out.add_geometry(trimesh.Trimesh(v, f, vertex_colors=colours, process=False))
    return out


def vertex_colours(geometry) -> np.ndarray:
    """(N, 4) uint8 colours of a part without a usable texture: its own colours, else its material's
    main colour (trimesh's ``to_color`` gives plain grey for a material without an image)."""
    import trimesh

    visual = geometry.visual
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind is not None:
        return np.asarray(visual.vertex_colors)
    material = getattr(visual, "material", None)
    colour = getattr(material, "main_color", None) if material is not None else None
    colour = np.asarray(colour if colour is not None else (102, 102, 102, 255), dtype=np.uint8)
    return np.tile(colour, (len(geometry.vertices), 1))


def concatenate_parts(parts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[(vertices, faces, per-vertex values)] -> one (vertices, faces, values) with faces re-indexed."""
    offsets = np.cumsum([0] + [len(v) for v, _, _ in parts[:-1]])
    return (np.concatenate([v for v, _, _ in parts]), np.concatenate([f + o for (_, f, _), o in zip(parts, offsets)]),
            np.concatenate([x for _, _, x in parts]))


class Renderer:
    """Renders a trimesh.Scene from given views; one per process (OSMesa contexts are per process)."""

    def __init__(self, image_size: int = 128, fov_deg: float = 40.0, background: float = 0.96):
        pyrender = import_pyrender()
        self._pyrender = pyrender
        self.image_size, self.fov_deg, self.background = image_size, fov_deg, background
        try:
            self._renderer = pyrender.OffscreenRenderer(image_size, image_size)
        except Exception as err:  # pragma: no cover - depends on the machine
            raise RenderingUnavailable(
                f"Could not create an off-screen OpenGL context: {describe(err)}. {INSTALL_HINT}") from err

    def render(self, scene_mesh, cameras) -> tuple[np.ndarray, np.ndarray]:
        """cameras: ``View``s, or (azimuth, elevation, distance) tuples (the fixed studio with this
        renderer's field of view) -> uint8 images (V, S, S, 3) and exact object masks (V, S, S) bool
        (where the depth buffer was written)."""
        pr = self._pyrender
        views = [c if isinstance(c, View) else View(*map(float, c[:3]), fov=self.fov_deg) for c in cameras]
        scene = pr.Scene.from_trimesh_scene(scene_mesh, bg_color=[self.background] * 3 + [1.0], ambient_light=[0.3] * 3)
        camera_node = scene.add(pr.PerspectiveCamera(yfov=np.radians(views[0].fov), aspectRatio=1.0), pose=np.eye(4))
        key_light = pr.DirectionalLight(color=np.ones(3), intensity=2.5)
        key_node = scene.add(key_light, pose=np.eye(4))
        fill_light = pr.DirectionalLight(color=np.ones(3), intensity=1.5)
        scene.add(fill_light, pose=look_at(np.array([0.3, 2.0, 0.5])))
        images, masks = [], []
        for view in views:
            camera_node.camera.yfov = np.radians(view.fov)
            pose = look_at(camera_position(view.azimuth, view.elevation, view.distance))
            scene.set_pose(camera_node, pose)
            key_pose = pose if view.key_direction is None else look_at(camera_position(*view.key_direction, 2.0))
            scene.set_pose(key_node, key_pose)
            key_light.color, key_light.intensity = np.asarray(view.key_color, dtype=float), view.key_intensity
            fill_light.intensity = view.fill_intensity
            scene.ambient_light = np.full(3, view.ambient)
            color, depth = self._renderer.render(scene)
            images.append(color[..., :3])
            masks.append(depth > 0)
        return np.stack(images), np.stack(masks)

    def close(self) -> None:
        self._renderer.delete()
