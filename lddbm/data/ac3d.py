"""A reader for AC3D ``.ac`` files (and TORCS / Speed Dreams ``.acc``), returning a trimesh.Scene.

Hand-written: trimesh has no AC3D loader, and PyPI has no maintained library that reads the
format, so this module parses the text itself (the format is documented at ac3d.org; the
``.acc`` extensions follow TORCS' ``accc`` tool).

What is read:

- ``MATERIAL "name" rgb r g b ... trans t`` lines (and the AC3Dc ``MAT ... ENDMAT`` blocks): the
  ``rgb`` colour and ``trans``parency become vertex colours (alpha = 1 - trans);
- ``OBJECT world|poly|group|light`` with ``kids``: a tree. Each object's ``rot`` (3x3, the values
  row by row of R in p' = R p, as OSG's and plib's readers take them) and ``loc`` place its vertices
  and all its kids in its parent's frame;
- ``numvert`` (x y z, or x y z nx ny nz as in ``.acc``; normals are ignored), ``numsurf`` with
  ``SURF`` flags: type 0 polygon (fan triangulated), 4 triangle strip (``.acc``), 1 / 2 closed /
  open line (skipped); 0x20 two-sided (the reversed triangles are added so that back-face culling
  shows both sides);
- ``refs`` with texture coordinates (the first UV set; ``.acc`` has up to four, one per texture
  layer), ``texture`` (the first one of an object: ``.acc`` objects list base / tiled / skids /
  shad layers), ``texrep`` / ``texoff`` (uv' = uv * texrep + texoff);
- ``name``, ``data`` (N characters, possibly over several lines), ``url``, ``crease``, ``subdiv``,
  ``hidden``, ``locked``, ``folded`` are read and ignored (hidden objects are kept: FlightGear
  draws them).

Textures: when the image is found (next to the model, or in ``texture_dirs``; ``.rgb`` / ``.png``
/ ``.dds`` alternatives are tried) and PIL reads it, that geometry gets ``TextureVisuals``;
otherwise its material colour. Geometry is merged into one mesh per texture (plus one with vertex
colours for everything untextured), in world coordinates, with one vertex per triangle corner
(flat shading, exact per-corner UVs).

A malformed file raises ValueError with a one-line reason; every loop advances through the file,
so nothing can hang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_DEPTH = 200
TEXTURE_SUFFIXES = (".png", ".rgb", ".rgba", ".sgi", ".bw", ".dds", ".jpg", ".jpeg", ".bmp", ".tga")

_RGB = re.compile(r"\brgb\s+(\S+)\s+(\S+)\s+(\S+)")
_TRANS = re.compile(r"\btrans\s+(\S+)")
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass
class AcMaterial:
    name: str = ""
    rgb: tuple[float, float, float] = (0.8, 0.8, 0.8)
    trans: float = 0.0


@dataclass
class AcSurface:
    flags: int
    mat: int
    refs: np.ndarray  # (n,) int vertex indices
    uv: np.ndarray  # (n, 2) float

    @property
    def kind(self) -> int:
        return self.flags & 0x0F


@dataclass
class AcObject:
    kind: str
    name: str = ""
    texture: str | None = None
    texrep: tuple[float, float] = (1.0, 1.0)
    texoff: tuple[float, float] = (0.0, 0.0)
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))
    loc: np.ndarray = field(default_factory=lambda: np.zeros(3))
    hidden: bool = False
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    surfaces: list[AcSurface] = field(default_factory=list)
    kids: list["AcObject"] = field(default_factory=list)


@dataclass
class AcFile:
    materials: list[AcMaterial]
    world: AcObject
    version: str = ""


# ---- parsing ------------------------------------------------------------------------------------


class _Lines:
    """The file's lines with a cursor; every read advances, so the parser cannot loop forever."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.i = 0

    def eof(self) -> bool:
        return self.i >= len(self.lines)

    def next(self, what: str) -> str:
        while self.i < len(self.lines):
            line = self.lines[self.i].strip()
            self.i += 1
            if line:
                return line
        raise ValueError(f"truncated file: end reached while reading {what}")

    def block(self, n: int, what: str) -> list[str]:
        """The next n non-empty lines."""
        out = []
        while len(out) < n:
            if self.i >= len(self.lines):
                raise ValueError(f"truncated file: {len(out)} of {n} {what} lines")
            line = self.lines[self.i].strip()
            self.i += 1
            if line:
                out.append(line)
        return out


def _floats(tokens, count: int, what: str, line_no: int) -> list[float]:
    if len(tokens) < count:
        raise ValueError(f"line {line_no}: {what} needs {count} numbers")
    try:
        return [float(t) for t in tokens[:count]]
    except ValueError:
        raise ValueError(f"line {line_no}: bad number in {what}") from None


def _int(token: str, what: str, line_no: int) -> int:
    try:
        value = int(token, 0) if token.lower().startswith("0x") else int(token)
    except ValueError:
        try:
            value = int(float(token))
        except ValueError:
            raise ValueError(f"line {line_no}: bad integer {token[:20]!r} in {what}") from None
    if value < 0:
        raise ValueError(f"line {line_no}: negative {what}")
    return value


def _material(line: str, line_no: int) -> AcMaterial:
    names = _QUOTED.findall(line)
    m = _RGB.search(line)
    if not m:
        raise ValueError(f"line {line_no}: MATERIAL without rgb")
    try:
        rgb = tuple(float(v) for v in m.groups())
        t = _TRANS.search(line)
        trans = float(t.group(1)) if t else 0.0
    except ValueError:
        raise ValueError(f"line {line_no}: bad number in MATERIAL") from None
    return AcMaterial(names[0] if names else "", rgb, trans)


def _number_block(lines: list[str], per_line_min: int, what: str, start: int) -> np.ndarray:
    """Parse n lines of numbers into an (n, k) array (k = the common token count, else per line)."""
    parts = [line.split() for line in lines]
    widths = {len(p) for p in parts}
    try:
        if len(widths) == 1:
            width = widths.pop()
            if width < per_line_min:
                raise ValueError(f"line {start}: {what} needs {per_line_min} numbers")
            return np.array(" ".join(lines).split(), dtype=float).reshape(len(lines), width)
        width = min(widths)
        if width < per_line_min:
            raise ValueError(f"line {start}: {what} needs {per_line_min} numbers")
        return np.array([p[:width] for p in parts], dtype=float)
    except ValueError as err:
        if "needs" in str(err):
            raise
        raise ValueError(f"near line {start}: bad number in {what}") from None


def _surfaces(src: _Lines, count: int) -> list[AcSurface]:
    out = []
    for _ in range(count):
        line = src.next("SURF")
        tokens = line.split()
        if tokens[0] != "SURF" or len(tokens) < 2:
            raise ValueError(f"line {src.i}: expected SURF, got {tokens[0][:20]!r}")
        flags = _int(tokens[1], "SURF", src.i)
        mat = 0
        refs_count = None
        while refs_count is None:  # 'mat' and 'refs' (mat is optional in some exporters)
            tokens = src.next("refs").split()
            if tokens[0] == "mat" and len(tokens) > 1:
                mat = _int(tokens[1], "mat", src.i)
            elif tokens[0] == "refs" and len(tokens) > 1:
                refs_count = _int(tokens[1], "refs", src.i)
            else:
                raise ValueError(f"line {src.i}: expected mat or refs, got {tokens[0][:20]!r}")
        start = src.i + 1
        rows = _number_block(src.block(refs_count, "refs"), 1, "refs", start) if refs_count else np.zeros((0, 3))
        idx = rows[:, 0].astype(np.int64)
        uv = rows[:, 1:3] if rows.shape[1] >= 3 else np.zeros((len(rows), 2))
        out.append(AcSurface(flags, mat, idx, uv))
    return out


def _object(src: _Lines, kind: str, depth: int) -> AcObject:
    if depth > MAX_DEPTH:
        raise ValueError(f"objects nested deeper than {MAX_DEPTH}")
    obj = AcObject(kind=kind)
    while True:
        line = src.next(f"OBJECT {kind}")
        tokens = line.split()
        key = tokens[0]
        n = src.i
        if key == "kids":
            count = _int(tokens[1] if len(tokens) > 1 else "", "kids", n)
            for _ in range(count):
                line = src.next("kid OBJECT")
                kid = line.split()
                if kid[0] != "OBJECT":
                    raise ValueError(f"line {src.i}: expected OBJECT, got {kid[0][:20]!r}")
                obj.kids.append(_object(src, kid[1] if len(kid) > 1 else "poly", depth + 1))
            return obj  # 'kids' always ends an object
        if key == "numvert":
            count = _int(tokens[1] if len(tokens) > 1 else "", "numvert", n)
            if count:
                rows = _number_block(src.block(count, "vertex"), 3, "vertices", n + 1)
                obj.vertices = rows[:, :3]
        elif key == "numsurf":
            obj.surfaces.extend(_surfaces(src, _int(tokens[1] if len(tokens) > 1 else "", "numsurf", n)))
        elif key == "name":
            names = _QUOTED.findall(line)
            obj.name = names[0] if names else " ".join(tokens[1:])
        elif key == "texture":
            if obj.texture is None:  # .acc lists up to four layers: the first is the base
                names = _QUOTED.findall(line)
                obj.texture = names[0] if names else (tokens[1] if len(tokens) > 1 else None)
        elif key == "texrep":
            obj.texrep = tuple(_floats(tokens[1:], 2, "texrep", n))
        elif key == "texoff":
            obj.texoff = tuple(_floats(tokens[1:], 2, "texoff", n))
        elif key == "rot":
            obj.rot = np.array(_floats(tokens[1:], 9, "rot", n)).reshape(3, 3)
        elif key == "loc":
            obj.loc = np.array(_floats(tokens[1:], 3, "loc", n))
        elif key == "data":
            size = _int(tokens[1] if len(tokens) > 1 else "0", "data", n)
            read = 0
            while read < size and not src.eof():  # the data may span lines
                read += len(src.lines[src.i]) + 1
                src.i += 1
        elif key == "hidden":
            obj.hidden = True
        elif key in ("url", "crease", "subdiv", "locked", "folded", "shader", "order"):
            pass
        elif key in ("OBJECT", "SURF", "MATERIAL"):
            raise ValueError(f"line {n}: {key} inside an object before its 'kids' line")
        # other unknown tokens: skipped (some exporters add their own)


def parse_ac(text: str) -> AcFile:
    """Parse AC3D text; ValueError (one line) when it is not a well-formed AC3D file."""
    src = _Lines(text)
    if src.eof():
        raise ValueError("empty file")
    header = src.lines[0].strip()
    if not header.startswith("AC3D"):
        raise ValueError(f"not an AC3D file (header {header[:20]!r})")
    src.i = 1
    materials: list[AcMaterial] = []
    kids: list[AcObject] = []
    while not src.eof():
        line = src.lines[src.i].strip()
        src.i += 1
        if not line:
            continue
        key = line.split()[0]
        if key == "MATERIAL":
            materials.append(_material(line, src.i))
        elif key == "MAT":  # AC3Dc block form
            names = _QUOTED.findall(line)
            body = [line]
            while True:
                inner = src.next("MAT")
                if inner.startswith("ENDMAT"):
                    break
                body.append(inner)
            materials.append(_material(" ".join(body), src.i))
            materials[-1].name = names[0] if names else ""
        elif key == "OBJECT":
            tokens = line.split()
            kids.append(_object(src, tokens[1] if len(tokens) > 1 else "world", 1))
        else:
            raise ValueError(f"line {src.i}: unexpected {key[:20]!r} at top level")
    if not kids:
        raise ValueError("no OBJECT in file")
    world = kids[0] if len(kids) == 1 else AcObject(kind="world", kids=kids)
    return AcFile(materials, world, header)


# ---- geometry -----------------------------------------------------------------------------------


@dataclass
class _Triangles:
    """World-space triangles of one object's surfaces: corners (t, 3, 3), uv (t, 3, 2), mat (t,)."""

    corners: np.ndarray
    uv: np.ndarray
    mat: np.ndarray
    texture: str | None


def _surface_triangles(surface: AcSurface) -> np.ndarray:
    """(k, 3) indices into the surface's refs; empty for lines and degenerate surfaces."""
    n = len(surface.refs)
    kind = surface.kind
    if kind in (1, 2) or n < 3:
        return np.zeros((0, 3), dtype=np.int64)
    if kind == 4:  # triangle strip, alternating winding
        i = np.arange(n - 2)
        tri = np.stack([i, i + 1, i + 2], axis=1)
        odd = (i % 2) == 1
        tri[odd] = tri[odd][:, [1, 0, 2]]
    else:  # polygon (0) and anything unknown: a fan
        i = np.arange(1, n - 1)
        tri = np.stack([np.zeros_like(i), i, i + 1], axis=1)
    idx = surface.refs[tri]
    keep = (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return tri[keep]


def triangles(ac: AcFile, include_hidden: bool = True, double_sided: bool = True) -> list[_Triangles]:
    """Every poly object's triangles in world coordinates (rot/loc applied through the kids tree)."""
    out: list[_Triangles] = []
    stack = [(ac.world, np.eye(3), np.zeros(3))]
    while stack:
        obj, parent_r, parent_t = stack.pop()
        r = parent_r @ obj.rot
        t = parent_r @ obj.loc + parent_t
        if obj.hidden and not include_hidden:
            continue
        for kid in obj.kids:
            stack.append((kid, r, t))
        if not obj.surfaces or not len(obj.vertices):
            continue
        verts = obj.vertices @ r.T + t
        corner_idx, corner_uv, mats = [], [], []
        nverts = len(verts)
        for surface in obj.surfaces:
            tri = _surface_triangles(surface)
            if not len(tri):
                continue
            idx = surface.refs[tri]
            if idx.max() >= nverts:
                raise ValueError(f"object {obj.name!r}: vertex index {int(idx.max())} >= numvert {nverts}")
            uv = surface.uv[tri]
            if double_sided and surface.flags & 0x20:
                idx = np.concatenate([idx, idx[:, ::-1]])
                uv = np.concatenate([uv, uv[:, ::-1]])
            corner_idx.append(idx)
            corner_uv.append(uv)
            mats.append(np.full(len(idx), surface.mat, dtype=np.int64))
        if not corner_idx:
            continue
        idx = np.concatenate(corner_idx)
        uv = np.concatenate(corner_uv) * np.asarray(obj.texrep) + np.asarray(obj.texoff)
        out.append(_Triangles(verts[idx], uv, np.concatenate(mats), obj.texture))
    return out


def _find_texture(name: str, base: Path, texture_dirs) -> Path | None:
    name = name.replace("\\", "/")
    rel = Path(name)
    candidates = []
    for folder in (base, *texture_dirs):
        folder = Path(folder)
        candidates += [folder / rel, folder / rel.name]
    for path in candidates:
        if path.is_file():
            return path
    for path in candidates:  # the same image under another suffix (FlightGear converts .rgb to .png)
        for suffix in TEXTURE_SUFFIXES:
            alt = path.with_suffix(suffix)
            if alt.is_file():
                return alt
    return None


def _open_image(path: Path, max_size: int | None):
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            image = im.convert("RGBA") if ("A" in im.mode or im.mode == "P" or "transparency" in im.info) else im.convert("RGB")
    except Exception:  # unreadable or unsupported image: fall back to material colours
        return None
    if max_size and max(image.size) > max_size:
        scale = max_size / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return image


def load_ac(path, textures: bool = True, texture_dirs=(), max_texture: int | None = None,
            include_hidden: bool = True, double_sided: bool = True):
    """An AC3D / ACC file as a trimesh.Scene (file coordinates, materials and textures).

    ValueError for a malformed file; trimesh's scene may be empty when the file has no polygons.
    """
    import trimesh

    path = Path(path)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as err:
        raise ValueError(f"cannot read {path.name}: {err.strerror or err}") from None
    ac = parse_ac(text)
    return scene_from_ac(ac, path.parent, textures=textures, texture_dirs=texture_dirs, max_texture=max_texture,
                         include_hidden=include_hidden, double_sided=double_sided)


def scene_from_ac(ac: AcFile, base: Path = Path("."), textures: bool = True, texture_dirs=(),
                  max_texture: int | None = None, include_hidden: bool = True, double_sided: bool = True):
    import trimesh
    from trimesh.visual import ColorVisuals, TextureVisuals
    from trimesh.visual.material import SimpleMaterial

    materials = ac.materials or [AcMaterial()]
    palette = np.array([[*m.rgb, 1.0 - m.trans] for m in materials], dtype=float)
    palette = np.clip(np.nan_to_num(palette, nan=0.8), 0.0, 1.0)
    parts = triangles(ac, include_hidden=include_hidden, double_sided=double_sided)

    images: dict[str, object] = {}
    plain_corners, plain_colors = [], []
    textured: dict[tuple[str, int], list] = {}
    for part in parts:
        mat = np.clip(part.mat, 0, len(palette) - 1)
        finite = np.isfinite(part.corners).all(axis=(1, 2))
        corners, uv, mat = part.corners[finite], part.uv[finite], mat[finite]
        if not len(corners):
            continue
        image = None
        if textures and part.texture:
            key = part.texture
            if key not in images:
                found = _find_texture(key, base, texture_dirs)
                images[key] = _open_image(found, max_texture) if found else None
            image = images[key]
        if image is None:
            plain_corners.append(corners)
            plain_colors.append(np.repeat(palette[mat], 3, axis=0))
        else:
            for m in np.unique(mat):
                sel = mat == m
                textured.setdefault((part.texture, int(m)), []).append((corners[sel], uv[sel]))

    scene = trimesh.Scene()
    if plain_corners:
        corners = np.concatenate(plain_corners)
        colors = np.concatenate(plain_colors)
        mesh = trimesh.Trimesh(vertices=corners.reshape(-1, 3), faces=np.arange(3 * len(corners)).reshape(-1, 3),
                               process=False)
        mesh.visual = ColorVisuals(mesh, vertex_colors=np.round(colors * 255).astype(np.uint8))
        scene.add_geometry(mesh, geom_name="ac-colours")
    for n, ((texture, m), chunks) in enumerate(sorted(textured.items(), key=lambda kv: (kv[0][0], kv[0][1]))):
        corners = np.concatenate([c for c, _ in chunks])
        uv = np.concatenate([u for _, u in chunks])
        mesh = trimesh.Trimesh(vertices=corners.reshape(-1, 3), faces=np.arange(3 * len(corners)).reshape(-1, 3),
                               process=False)
        diffuse = np.round(palette[m] * 255).astype(np.uint8)
        material = SimpleMaterial(image=images[texture], diffuse=diffuse)
        mesh.visual = TextureVisuals(uv=uv.reshape(-1, 2), material=material)
        scene.add_geometry(mesh, geom_name=f"ac-texture-{n}")
    return scene


def geometry_digest(ac: AcFile) -> dict:
    """A material-independent summary for finding duplicates: triangle count, extents and a hash
    of the vertex positions (world frame) scaled into the unit cube, so that recoloured liveries
    and uniformly scaled copies of one mesh share a digest."""
    import hashlib

    parts = triangles(ac, double_sided=False)
    if not parts:
        return {"triangles": 0, "extents": [0.0, 0.0, 0.0], "hash": ""}
    corners = np.concatenate([p.corners for p in parts]).reshape(-1, 3)
    corners = corners[np.isfinite(corners).all(axis=1)]
    if not len(corners):
        return {"triangles": 0, "extents": [0.0, 0.0, 0.0], "hash": ""}
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    size = float(max((hi - lo).max(), 1e-12))
    unit = np.round((corners - (lo + hi) / 2) / size * 1000).astype(np.int32)
    unique = np.unique(unit, axis=0)
    return {
        "triangles": int(len(corners) // 3),
        "extents": [float(v) for v in hi - lo],
        "hash": hashlib.sha1(unique.tobytes()).hexdigest()[:16],
    }
