"""0 A.D.'s ``public`` mod read for ``zeroad``: PMD meshes, actors resolved into parts, parts into a scene.

Actor resolution follows the engine (``CObjectBase``): the highest quality level; in each
``<group>`` the first variant with a non-zero frequency (else the first), merged in group order
with its ``art/variants`` file (later mesh / textures / props override; an empty prop actor
removes one); variants outside the "high" quality range dropped; props at the mesh's prop points
(``root`` is the origin; a point on a bone is placed at the bone's rest pose), recursively;
props that only show in some states (``projectile``, ``garrisoned``, ``loaded-*``) are left out.

Frames: PMD vertices are in the game's frame: y up, the object's front (a unit's face, a temple's
door, a ship's bow) facing -z, and mirrored (the COLLADA converter swaps Z_UP's y and z, so a
soldier's right hand is at -x and the triangles wind clockwise). Mirroring z gives the data set's
right-handed frame, y up and front +z, with counter-clockwise triangles (checked on renders: faces
and doors at azimuth 0, spears in right hands, textures not mirrored). UVs are used as stored.

Materials: ``baseTex`` only. Its alpha is transparency for the ``basic_trans*`` / ``*wind*``
materials (leaves, cloth: kept, and drawn two-sided) and a player-colour mask for ``player_*``
(dropped: opaque RGB). A texture that PIL cannot read falls back to grey.
"""

from __future__ import annotations

import logging
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAX_QUALITY = 255
QUALITY_NAMES = {"low": 0, "medium": 100, "high": 200}
HIDDEN_ATTACHPOINTS = ("projectile", "garrisoned")  # plus "loaded-*": shown only in some states
MAX_PROP_DEPTH = 6


# ---- PMD ------------------------------------------------------------------------------------------


@dataclass
class Pmd:
    positions: np.ndarray  # (N, 3) float32, game frame
    normals: np.ndarray  # (N, 3)
    uv: np.ndarray  # (N, 2), the first UV set
    faces: np.ndarray  # (M, 3) int64
    bones: np.ndarray  # (B, 7): translation xyz, quaternion xyzw (rest pose)
    props: dict = field(default_factory=dict)  # name -> (translation (3,), quaternion xyzw (4,), bone or 255)


def parse_pmd(data: bytes) -> Pmd:
    """Read a PMD (versions 1-4; 0 A.D.'s binary mesh format, little-endian). ValueError if malformed."""
    if len(data) < 16 or data[:4] != b"PSMD":
        raise ValueError("not a PMD file")
    version = struct.unpack_from("<I", data, 4)[0]
    if version not in (1, 2, 3, 4):
        raise ValueError(f"unsupported PMD version {version}")
    try:
        off = 12
        (n_vert,) = struct.unpack_from("<I", data, off)
        off += 4
        n_uv = 1
        if version >= 4:
            (n_uv,) = struct.unpack_from("<I", data, off)
            off += 4
        if n_uv > 16:
            raise ValueError(f"implausible UV set count {n_uv}")
        fields = [("pos", "<f4", 3), ("nrm", "<f4", 3)] + ([("uv", "<f4", (n_uv, 2))] if n_uv else [])
        vdtype = np.dtype(fields + [("bones", "u1", 4), ("weights", "<f4", 4)])
        verts = np.frombuffer(data, vdtype, n_vert, off)
        off += vdtype.itemsize * n_vert
        (n_face,) = struct.unpack_from("<I", data, off)
        off += 4
        faces = np.frombuffer(data, "<u2", 3 * n_face, off).reshape(-1, 3).astype(np.int64)
        off += 6 * n_face
        (n_bone,) = struct.unpack_from("<I", data, off)
        off += 4
        bones = np.frombuffer(data, "<f4", 7 * n_bone, off).reshape(-1, 7).astype(np.float64)
        off += 28 * n_bone
        props = {}
        if version >= 2 and off + 4 <= len(data):
            (n_prop,) = struct.unpack_from("<I", data, off)
            off += 4
            for _ in range(n_prop):
                (n_name,) = struct.unpack_from("<I", data, off)
                off += 4
                name = data[off:off + n_name].decode("ascii", "replace")
                off += n_name
                values = struct.unpack_from("<7f", data, off)
                off += 28
                bone = data[off]
                off += 1
                props[name] = (np.array(values[:3]), np.array(values[3:]), int(bone))
    except (struct.error, ValueError, IndexError) as err:
        raise ValueError(f"truncated PMD ({err})") from err
    if n_face and faces.max() >= n_vert:
        raise ValueError("PMD face index out of range")
    uv = verts["uv"][:, 0, :].astype(np.float64) if n_uv else np.zeros((n_vert, 2))
    return Pmd(verts["pos"].astype(np.float64), verts["nrm"].astype(np.float64), uv, faces, bones, props)


def quaternion_matrix(q) -> np.ndarray:
    """3x3 rotation of the unit quaternion (x, y, z, w)."""
    x, y, z, w = np.asarray(q, dtype=float) / max(np.linalg.norm(q), 1e-12)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rigid(translation, quaternion) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quaternion_matrix(quaternion)
    m[:3, 3] = translation
    return m


def prop_point_matrix(pmd: Pmd, name: str) -> np.ndarray | None:
    """Model-space 4x4 of prop point ``name`` (bone rest pose x point), None if the mesh lacks it.
    ``root`` defaults to the origin, as in the engine."""
    if name not in pmd.props:
        return np.eye(4) if name == "root" else None
    translation, quaternion, bone = pmd.props[name]
    point = rigid(translation, quaternion)
    if bone != 255 and bone < len(pmd.bones):
        point = rigid(pmd.bones[bone, :3], pmd.bones[bone, 3:]) @ point
    return point


# ---- actors ---------------------------------------------------------------------------------------


class Archive:
    """Files of the public mod, read from a folder (extracted) by their path in the mod ('art/...')."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._pmd: dict[str, Pmd | None] = {}

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def pmd(self, name: str) -> Pmd | None:
        if name not in self._pmd:
            data = self.read(name)
            try:
                self._pmd[name] = parse_pmd(data) if data is not None else None
            except ValueError as err:
                logger.info("%s: %s", name, err)
                self._pmd[name] = None
        return self._pmd[name]


def mesh_path(archive: Archive, mesh: str) -> str | None:
    """'structural/x.dae' -> 'art/meshes/structural/x.dae.cached.pmd' (or the .pmd as named)."""
    for candidate in (f"art/meshes/{mesh}.cached.pmd", f"art/meshes/{mesh}",
                      f"art/meshes/{mesh.rsplit('.', 1)[0]}.pmd"):
        if candidate.endswith(".pmd") and archive.exists(candidate):
            return candidate
    return None


def texture_path(archive: Archive | None, texture: str) -> str:
    """'skeletal/x.png' -> 'art/textures/skins/skeletal/x.png.cached.dds' (the release's converted cache)."""
    cached = f"art/textures/skins/{texture}.cached.dds"
    plain = f"art/textures/skins/{texture}"
    if archive is not None and not archive.exists(cached) and archive.exists(plain):
        return plain
    return cached


def parse_xml(data: bytes) -> ET.Element:
    return ET.fromstring(data.lstrip(b"\xef\xbb\xbf").lstrip())


def quality(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if value in QUALITY_NAMES:
        return QUALITY_NAMES[value]
    try:
        return int(value)
    except ValueError:
        return default


def actor_root(root: ET.Element, archive: Archive, depth: int = 0) -> ET.Element | None:
    """The <actor> element used at the highest quality level (``<qualitylevels>`` resolved)."""
    if root.tag == "actor":
        return root
    if root.tag != "qualitylevels" or depth > 3:
        return None
    levels = [(quality(a.get("quality"), MAX_QUALITY), i, a) for i, a in enumerate(root.findall("actor"))]
    if not levels:
        return None
    _, _, best = max(levels, key=lambda t: (t[0], t[1]))
    if best.get("file"):
        data = archive.read("art/actors/" + best.get("file"))
        return actor_root(parse_xml(data), archive, depth + 1) if data is not None else None
    inline = root.find("inline")
    return inline


def in_quality(variant: ET.Element, q: int = MAX_QUALITY) -> bool:
    return quality(variant.get("minquality"), 0) <= q and (variant.get("maxquality") is None
                                                           or q < quality(variant.get("maxquality"), MAX_QUALITY + 1))


def choose_variant(group: ET.Element) -> ET.Element | None:
    """The variant the game shows by default: the first with a non-zero frequency, else the first."""
    variants = [v for v in group.findall("variant") if in_quality(v)]
    for v in variants:
        try:
            if float(v.get("frequency", "0")) > 0:
                return v
        except ValueError:
            pass
    return variants[0] if variants else None


@dataclass
class Variation:
    mesh: str = ""
    textures: dict = field(default_factory=dict)
    props: dict = field(default_factory=dict)  # attachpoint -> [actor, ...]
    decal: bool = False


def read_variant(variant: ET.Element, archive: Archive, depth: int = 0) -> Variation:
    """One variant's own content: its ``file`` (art/variants/...) first, then what it says inline."""
    own = Variation()
    if variant.get("file") and depth < 3:
        data = archive.read("art/variants/" + variant.get("file"))
        if data is not None:
            try:
                own = read_variant(parse_xml(data), archive, depth + 1)
            except ET.ParseError:
                pass
    mesh = variant.findtext("mesh")
    if mesh and mesh.strip():
        own.mesh = mesh.strip()
    for tex in variant.iter("texture"):
        if tex.get("name") and tex.get("file") is not None:
            own.textures[tex.get("name")] = tex.get("file")
    for prop in variant.iter("prop"):
        point = prop.get("attachpoint", "")
        if point:
            own.props.setdefault(point, []).append(prop.get("actor", ""))
    if variant.find("decal") is not None:
        own.decal = True
    return own


def variation_of(actor: ET.Element, archive: Archive) -> Variation:
    """Merge the chosen variants in group order, as the engine does: a later mesh / texture replaces an
    earlier one; a later variant naming a prop point replaces all props there (an empty actor clears it)."""
    variation = Variation()
    for group in actor.findall("group"):
        variant = choose_variant(group)
        if variant is None:
            continue
        own = read_variant(variant, archive)
        variation.mesh = own.mesh or variation.mesh
        variation.textures.update(own.textures)
        for point, actors in own.props.items():
            variation.props[point] = [a for a in actors if a]
        variation.decal = variation.decal or own.decal
    return variation


def transparent_material(material: str) -> bool:
    """Whether baseTex's alpha is transparency (basic_trans*, *wind*, waterfall) rather than a player-colour mask."""
    m = material.lower()
    return m.startswith(("basic_trans", "trans_")) or "wind" in m or m.startswith("waterfall")


def resolve_actor(name: str, archive: Archive, transform: np.ndarray | None = None, depth: int = 0,
                  seen: tuple = ()) -> list[dict]:
    """Parts of actor ``name`` ('props/x.xml', relative to art/actors): dicts with ``mesh`` (archive
    path), ``texture`` (archive path or None), ``alpha`` (texture alpha is transparency) and ``matrix``
    (16 floats, row-major, game frame)."""
    transform = np.eye(4) if transform is None else transform
    if depth > MAX_PROP_DEPTH or name in seen:
        return []
    data = archive.read("art/actors/" + name)
    if data is None:
        return []
    try:
        actor = actor_root(parse_xml(data), archive)
    except ET.ParseError:
        return []
    if actor is None:
        return []
    variation = variation_of(actor, archive)
    parts: list[dict] = []
    pmd = None
    if variation.mesh and not variation.decal:
        path = mesh_path(archive, variation.mesh)
        pmd = archive.pmd(path) if path else None
        if pmd is not None and len(pmd.faces):
            texture = variation.textures.get("baseTex")
            material = (actor.findtext("material") or "").strip()
            parts.append({"mesh": path, "texture": texture_path(archive, texture) if texture else None,
                          "alpha": transparent_material(material),
                          "matrix": [round(float(v), 6) for v in transform.reshape(-1)]})
    for point, props in sorted(variation.props.items()):
        if point in HIDDEN_ATTACHPOINTS or point.startswith("loaded-"):
            continue
        local = prop_point_matrix(pmd, point) if pmd is not None else (np.eye(4) if point == "root" else None)
        if local is None:  # the engine also drops a prop whose point the mesh lacks
            continue
        for prop in props:
            parts += resolve_actor(prop, archive, transform @ local, depth + 1, seen + (name,))
    return parts


# ---- loading --------------------------------------------------------------------------------------

GAME_TO_WORLD = np.diag([1.0, 1.0, -1.0, 1.0])  # mirror z: the game's left-handed frame -> right-handed


def load_texture(path: Path, alpha: bool):
    """A PIL image (RGBA if ``alpha`` and the image has transparency, else RGB), None if unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if alpha and image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                if image.getextrema()[3][0] < 255:
                    return image
            return image.convert("RGB")
    except Exception as err:  # any unreadable texture: the part gets a plain colour
        logger.info("%s: texture not read (%s)", path, err)
        return None


def parts_scene(parts: list[dict], root: Path):
    """trimesh.Scene of resolved parts, in the data set's frame (y up, front +z, right-handed)."""
    import trimesh
    from trimesh.visual import ColorVisuals, TextureVisuals
    from trimesh.visual.material import SimpleMaterial

    archive = Archive(root)
    scene = trimesh.Scene()
    images: dict = {}
    for i, part in enumerate(parts):
        pmd = archive.pmd(part["mesh"])
        if pmd is None or not len(pmd.faces):
            continue
        m = GAME_TO_WORLD @ np.asarray(part["matrix"], dtype=float).reshape(4, 4)
        vertices = pmd.positions @ m[:3, :3].T + m[:3, 3]
        faces = pmd.faces
        if np.linalg.det(m[:3, :3]) > 0:  # PMD triangles are clockwise in the game frame; a mirror makes them CCW
            faces = faces[:, ::-1]
        uv = pmd.uv  # as trimesh takes them (checked on renders: flipping v scrambles the skins)
        if part.get("alpha"):  # leaves and cloth are seen from both sides
            faces = np.concatenate([faces, faces[:, ::-1]])
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        texture = part.get("texture")
        key = (texture, bool(part.get("alpha")))
        if texture and key not in images:
            images[key] = load_texture(root / texture, bool(part.get("alpha")))
        image = images.get(key) if texture else None
        if image is not None:
            mesh.visual = TextureVisuals(uv=uv, material=SimpleMaterial(image=image, diffuse=[255, 255, 255, 255]))
        else:
            mesh.visual = ColorVisuals(mesh, vertex_colors=np.tile([150, 150, 150, 255], (len(vertices), 1)))
        scene.add_geometry(mesh, geom_name=f"part{i}")
    return scene
