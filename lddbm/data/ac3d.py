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
class AcObject:
    """One OBJECT. Its surfaces are stored flat: surface k has flags[k], mat[k] and the refs
    ref_index[offset[k]:offset[k] + count[k]] with texture coordinates ref_uv (same rows)."""

    kind: str
    name: str = ""
    texture: str | None = None
    texrep: tuple[float, float] = (1.0, 1.0)
    texoff: tuple[float, float] = (0.0, 0.0)
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))
    loc: np.ndarray = field(default_factory=lambda: np.zeros(3))
    hidden: bool = False
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    flags: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    mat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    count: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ref_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ref_uv: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    kids: list["AcObject"] = field(default_factory=list)

    @property
    def offset(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.count)[:-1]]).astype(np.int64) if len(self.count) else self.count


@dataclass
class AcFile:
    materials: list[AcMaterial]
    world: AcObject
    version: str = ""


# ---- parsing ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _Lines:
    """The file's lines with a cursor; every read advances, so the parser cannot loop forever.
    Blank lines and '#' comment lines are skipped."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.i = 0

    def eof(self) -> bool:
        return self.i >= len(self.lines)

    def next(self, what: str | None) -> str | None:
        """The next line; at the end of the file None when ``what`` is None, else ValueError."""
        lines = self.lines
        while self.i < len(lines):
            line = lines[self.i].strip()
            self.i += 1
            if line and line[0] != "#":
                return line
        if what is None:
            return None
        raise ValueError(f"truncated file: end reached while reading {what}")

    def block(self, n: int, what: str) -> list[str]:
        """The next n lines (fast path: a slice when it holds no blank or comment line)."""
        chunk = [line.strip() for line in self.lines[self.i:self.i + n]]
        if len(chunk) == n and all(line and line[0] != "#" for line in chunk):
            self.i += n
            return chunk
        out = []
        while len(out) < n:
            if self.i >= len(self.lines):
                raise ValueError(f"truncated file: {len(out)} of {n} {what} lines")
            line = self.lines[self.i].strip()
            self.i += 1
            if line and line[0] != "#":
                out.append(line)
        return out


def _number(token: str) -> float:
    try:
        return float(token)
    except ValueError:
        m = _NUMBER.match(token)  # e.g. '0.000000A' in a hand-edited file
        if not m:
            raise
        return float(m.group(0))


def _floats(tokens, count: int, what: str, line_no: int) -> list[float]:
    if len(tokens) < count:
        raise ValueError(f"line {line_no}: {what} needs {count} numbers")
    try:
        return [_number(t) for t in tokens[:count]]
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
    rest = _QUOTED.sub(" ", line)
    m = _RGB.search(rest)
    try:
        if m:
            rgb = tuple(float(v) for v in m.groups())
        else:  # e.g. 'MATERIAL "x" png 0 1 0 amb ...' (a broken exporter): the word's three numbers
            words = rest.split()
            if len(words) < 5:
                raise ValueError
            rgb = tuple(_number(v) for v in words[2:5])
        t = _TRANS.search(rest)
        trans = float(t.group(1)) if t else 0.0
    except ValueError:
        raise ValueError(f"line {line_no}: MATERIAL without a readable rgb colour") from None
    return AcMaterial(names[0] if names else "", rgb, trans)


def _number_array(lines: list[str], min_width: int, what: str, start: int) -> np.ndarray:
    """n lines of numbers as an (n, k) array, k the smallest token count (extra columns ignored)."""
    if not lines:
        return np.zeros((0, min_width))
    tokens = " ".join(lines).split()
    width = len(lines[0].split())
    try:
        if width >= min_width and len(tokens) == width * len(lines):
            try:
                return np.array(tokens, dtype=float).reshape(len(lines), width)
            except ValueError:
                pass
        parts = [line.split() for line in lines]
        width = min(len(p) for p in parts)
        if width < min_width:
            raise ValueError(f"near line {start}: {what} needs {min_width} numbers a line")
        return np.array([[_number(t) for t in p[:width]] for p in parts], dtype=float)
    except ValueError as err:
        if "needs" in str(err):
            raise
        raise ValueError(f"near line {start}: bad number in {what}") from None


def _surfaces(src: _Lines, count: int, obj: "AcObject") -> None:
    flags, mats, counts, ref_lines = [], [], [], []
    for _ in range(count):
        tokens = src.next("SURF").split()
        if tokens[0] != "SURF" or len(tokens) < 2:
            raise ValueError(f"line {src.i}: expected SURF, got {tokens[0][:20]!r}")
        flag = _int(tokens[1], "SURF", src.i)
        mat = 0
        refs = None
        while refs is None:  # 'mat' then 'refs' ('mat' is missing in some exporters' files)
            tokens = src.next("refs").split()
            if tokens[0] == "mat" and len(tokens) > 1:
                mat = _int(tokens[1], "mat", src.i)
            elif tokens[0] == "refs" and len(tokens) > 1:
                refs = _int(tokens[1], "refs", src.i)
            else:
                raise ValueError(f"line {src.i}: expected mat or refs, got {tokens[0][:20]!r}")
        ref_lines += src.block(refs, "refs")
        flags.append(flag)
        mats.append(mat)
        counts.append(refs)
    rows = _number_array(ref_lines, 1, "refs", src.i)
    index = rows[:, 0].astype(np.int64)
    uv = rows[:, 1:3] if rows.shape[1] >= 3 else np.zeros((len(rows), 2))
    obj.flags = np.concatenate([obj.flags, np.array(flags, dtype=np.int64)])
    obj.mat = np.concatenate([obj.mat, np.array(mats, dtype=np.int64)])
    obj.count = np.concatenate([obj.count, np.array(counts, dtype=np.int64)])
    obj.ref_index = np.concatenate([obj.ref_index, index])
    obj.ref_uv = np.concatenate([obj.ref_uv, uv])


def _object(src: _Lines, kind: str, depth: int, materials: list) -> AcObject:
    if depth > MAX_DEPTH:
        raise ValueError(f"objects nested deeper than {MAX_DEPTH}")
    obj = AcObject(kind=kind)
    while True:
        line = src.next(None)
        if line is None:  # a last object without its 'kids 0' line
            return obj
        tokens = line.split()
        key = tokens[0]
        n = src.i
        if key == "kids":
            count = _int(tokens[1] if len(tokens) > 1 else "", "kids", n)
            for _ in range(count):
                line = src.next(None)
                if line is None:  # fewer kids than announced (seen in FlightGear files): keep what there is
                    break
                kid = line.split()
                if kid[0] != "OBJECT":
                    raise ValueError(f"line {src.i}: expected OBJECT, got {kid[0][:20]!r}")
                obj.kids.append(_object(src, kid[1] if len(kid) > 1 else "poly", depth + 1, materials))
            return obj  # 'kids' always ends an object
        if key == "numvert":
            count = _int(tokens[1] if len(tokens) > 1 else "", "numvert", n)
            if count:
                obj.vertices = _number_array(src.block(count, "vertex"), 3, "vertices", n + 1)[:, :3]
        elif key == "numsurf":
            _surfaces(src, _int(tokens[1] if len(tokens) > 1 else "", "numsurf", n), obj)
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
        elif key == "MATERIAL":  # misplaced, but readers accept it
            materials.append(_material(line, n))
        elif key in ("OBJECT", "SURF"):
            raise ValueError(f"line {n}: {key} inside an object before its 'kids' line")
        # url, crease, subdiv, locked, folded and unknown tokens: nothing to do


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
    while True:
        line = src.next(None)
        if line is None:
            break
        key = line.split()[0]
        if key == "MATERIAL":
            materials.append(_material(line, src.i))
        elif key == "MAT":  # AC3Dc block form
            body = [line]
            while True:
                inner = src.next("MAT")
                if inner.startswith("ENDMAT"):
                    break
                body.append(inner)
            materials.append(_material(" ".join(body), src.i))
        elif key == "OBJECT":
            tokens = line.split()
            kids.append(_object(src, tokens[1] if len(tokens) > 1 else "world", 1, materials))
        else:
            raise ValueError(f"line {src.i}: unexpected {key[:20]!r} at top level")
    if not kids:
        raise ValueError("no OBJECT in file")
    world = kids[0] if len(kids) == 1 else AcObject(kind="world", kids=kids)
    return AcFile(materials, world, header)


# ---- geometry -----------------------------------------------------------------------------------


@dataclass
class _Triangles:
    """World-space triangles of one object: corners (t, 3, 3), uv (t, 3, 2), mat (t,)."""

    corners: np.ndarray
    uv: np.ndarray
    mat: np.ndarray
    texture: str | None


def _ranges(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given lengths: each element's group and its position inside the group."""
    group = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    return group, np.arange(int(lengths.sum())) - np.repeat(starts, lengths)


def surface_triangles(obj: AcObject) -> tuple[np.ndarray, np.ndarray]:
    """(t, 3) rows into the object's refs, and each triangle's surface. Polygons are fan
    triangulated, triangle strips (type 4) unrolled with alternating winding, lines (types 1 and 2)
    and degenerate triangles dropped."""
    kind = obj.flags & 0x0F
    count = obj.count
    offset = obj.offset
    strip = kind == 4
    n_tri = np.where((kind == 1) | (kind == 2), 0, np.maximum(count - 2, 0))
    surf, i = _ranges(n_tri)
    base = offset[surf]
    is_strip = strip[surf]
    first = np.where(is_strip, base + i, base)
    tri = np.stack([first, base + i + 1, base + i + 2], axis=1)
    swap = is_strip & (i % 2 == 1)
    tri[swap] = tri[swap][:, [1, 0, 2]]
    idx = obj.ref_index[tri] if len(tri) else np.zeros((0, 3), dtype=np.int64)
    keep = (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return tri[keep], surf[keep]


def _world_objects(ac: AcFile, include_hidden: bool = True, exclude=None):
    """(object, R, t) for every object, R and t mapping its vertices into the file's frame.
    ``exclude``: a compiled regular expression; objects whose name or texture it finds are left out
    with their kids."""
    stack = [(ac.world, np.eye(3), np.zeros(3))]
    while stack:
        obj, parent_r, parent_t = stack.pop()
        if obj.hidden and not include_hidden:
            continue
        named = exclude is not None and any(text and exclude.search(text) for text in (obj.name, obj.texture))
        if named:
            continue
        r = parent_r @ obj.rot
        t = parent_r @ obj.loc + parent_t
        yield obj, r, t
        stack.extend((kid, r, t) for kid in reversed(obj.kids))


def triangles(ac: AcFile, include_hidden: bool = True, double_sided: bool = True, exclude=None) -> list[_Triangles]:
    """Every object's triangles in the file's frame (rot / loc applied through the kids tree)."""
    out: list[_Triangles] = []
    for obj, r, t in _world_objects(ac, include_hidden, exclude):
        if not len(obj.count) or not len(obj.vertices):
            continue
        tri, surf = surface_triangles(obj)
        if not len(tri):
            continue
        idx = obj.ref_index[tri]
        if idx.max() >= len(obj.vertices) or idx.min() < 0:
            bad = int(idx.max()) if idx.max() >= len(obj.vertices) else int(idx.min())
            raise ValueError(f"object {obj.name[:40]!r}: vertex index {bad} outside numvert {len(obj.vertices)}")
        uv = obj.ref_uv[tri]
        mat = obj.mat[surf]
        if double_sided:
            two = (obj.flags[surf] & 0x20) != 0
            if two.any():
                idx = np.concatenate([idx, idx[two][:, ::-1]])
                uv = np.concatenate([uv, uv[two][:, ::-1]])
                mat = np.concatenate([mat, mat[two]])
        verts = obj.vertices @ r.T + t
        uv = uv * np.asarray(obj.texrep) + np.asarray(obj.texoff)
        out.append(_Triangles(verts[idx], uv, mat, obj.texture))
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
            include_hidden: bool = True, double_sided: bool = True, exclude=None):
    """An AC3D / ACC file as a trimesh.Scene (file coordinates, materials and textures).

    ``texture_dirs``: more folders to look for texture images in; ``max_texture``: shrink larger
    images to this many pixels on their long side; ``exclude``: a regular expression (string or
    compiled; a string ignores case) on object names and texture file names: matching objects are
    left out with their kids.
    ValueError for a malformed file; the scene is empty when the file has no polygons.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as err:
        raise ValueError(f"cannot read {path.name}: {err.strerror or err}") from None
    ac = parse_ac(text)
    return scene_from_ac(ac, path.parent, textures=textures, texture_dirs=texture_dirs, max_texture=max_texture,
                         include_hidden=include_hidden, double_sided=double_sided, exclude=exclude)


def scene_from_ac(ac: AcFile, base: Path = Path("."), textures: bool = True, texture_dirs=(),
                  max_texture: int | None = None, include_hidden: bool = True, double_sided: bool = True,
                  exclude=None):
    """A parsed file as a trimesh.Scene (see load_ac)."""
    import trimesh
    from trimesh.visual import ColorVisuals, TextureVisuals
    from trimesh.visual.material import SimpleMaterial

    materials = ac.materials or [AcMaterial()]
    palette = np.array([[*m.rgb, 1.0 - m.trans] for m in materials], dtype=float)
    palette = np.clip(np.nan_to_num(palette, nan=0.8), 0.0, 1.0)
    if isinstance(exclude, str):
        exclude = re.compile(exclude, re.I)
    parts = triangles(ac, include_hidden=include_hidden, double_sided=double_sided, exclude=exclude)

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


def geometry_digest(ac: AcFile, exclude=None) -> dict:
    """A material-independent summary for finding duplicates and unusable models: triangle count,
    extents, robust extents (0.5th to 99.5th percentile of the vertices: much smaller than the
    extents when a few stray vertices lie far away), where the highest points of the mid planes lie
    ("top": the x offset of the highest vertices with z near the centre, and the z offset of those
    with x near the centre, in box sizes: an aircraft's fin, in its plane of symmetry, marks its
    tail) and a hash of all vertex positions (file frame, in file order) scaled into the unit cube,
    so that recoloured liveries and uniformly scaled copies of one mesh share a hash."""
    import hashlib

    if isinstance(exclude, str):
        exclude = re.compile(exclude, re.I)
    chunks, n_tri = [], 0
    for obj, r, t in _world_objects(ac, exclude=exclude):
        if len(obj.vertices) and len(obj.count):
            chunks.append(obj.vertices @ r.T + t)
            polygons = ~np.isin(obj.flags & 0x0F, (1, 2))
            n_tri += int(np.maximum(obj.count - 2, 0)[polygons].sum())
    points = np.concatenate(chunks) if chunks else np.zeros((0, 3))
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points) or not n_tri:
        return {"triangles": 0, "extents": [0.0, 0.0, 0.0], "robust": [0.0, 0.0, 0.0], "hash": ""}
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = float(max((hi - lo).max(), 1e-12))
    unit = np.round((points - (lo + hi) / 2) / size * 1000).astype(np.int32)
    robust = np.percentile(points, 99.5, axis=0) - np.percentile(points, 0.5, axis=0)
    centre, extent = (lo + hi) / 2, np.maximum(hi - lo, 1e-12)
    top = []
    for along, across in ((0, 2), (2, 0)):  # the highest points in the mid plane across each axis
        near = points[np.abs(points[:, across] - centre[across]) <= 0.04 * extent[across]]
        if not len(near):
            top.append(0.0)
            continue
        high = near[near[:, 1] >= near[:, 1].max() - 0.01 * extent[1]]
        top.append(round(float((high[:, along].mean() - centre[along]) / extent[along]), 3))
    return {
        "triangles": n_tri,
        "extents": [round(float(v), 4) for v in hi - lo],
        "robust": [round(float(v), 4) for v in robust],
        "top": top,
        "hash": hashlib.sha1(unit.tobytes()).hexdigest()[:16],
    }
