"""The furniture data set: Sweet Home 3D catalogues -> (12+ rendered views, 32^3 solid voxels).

Source: Debian's ``sweethome3d-furniture`` (five catalogues, about 820 OBJ models, CC-BY 3.0 and
CC0), or the user's own ``.deb`` / ``.sh3f`` files. Each catalogue entry is loaded with trimesh,
turned upright with the catalogue's ``modelRotation``, sized to its catalogue width/height/depth
(as Sweet Home 3D does), centred, and scaled so its longest side spans the grid. Then:

- target: a 32^3 solid occupancy grid (interiors filled, as ShapeNetVox32), indexed [x, y, z]
  with y up and the front facing +z; the grid spans [-0.5, 0.5]^3;
- source: ``views`` renders (128x128 RGB, materials and textures, light background) at
  elevations 15-40 degrees and azimuths spread around the object with jitter, fixed field of view.

Layout written by ``build``::

    OUT/objects/<object_id>.npz   views (V,S,S,3) uint8, masks (V,S,S/8 packed bits: the object's exact
                                  silhouette), voxels (packed bits), cameras (V,3), meta
    OUT/split.json                {"train": [...], "val": [...], "test": [...]}
    OUT/index.json                per object: name, category, catalogue, creator, licence
    OUT/ATTRIBUTION.md            credits for the CC-BY models
    OUT/summary.json              counts (in_data_set: objects usable now, built this run or before;
                                  built; already_built; failed) and each failure's reason

Each object file is written atomically, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..images import to_unit
from .debian import fetch_debian_package, unpack_deb  # noqa: F401  (re-exported for older imports)
from .render import View
from .sources import SOURCES, ModelEntry, get_source

logger = logging.getLogger(__name__)

DEBIAN_PACKAGE = "sweethome3d-furniture"
SPLIT_FILE = Path(__file__).with_name("objects_split.json")  # the committed object-level split (all sources)
GRID = 32


# ---- catalogues ---------------------------------------------------------------------------------


CatalogEntry = ModelEntry  # the name this module used before there were other sources


def read_properties(text: str) -> dict[str, str]:
    """Parse a Java .properties file (continuations, \\uXXXX escapes, '=' or ':' separators)."""
    out: dict[str, str] = {}
    logical, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        logical.append(line)
    for line in logical:
        m = re.match(r"((?:[^=:\s\\]|\\.)+)\s*[=:\s]\s*(.*)", line)
        if not m:
            continue
        key, value = (re.sub(r"\\u([0-9a-fA-F]{4})", lambda u: chr(int(u.group(1), 16)), s) for s in m.groups())
        out[key.replace("\\", "")] = value.replace("\\n", "\n").replace("\\t", "\t").replace("\\:", ":").replace("\\=", "=").replace("\\\\", "\\")
    return out


def parse_catalog(sh3f: Path, extract_root: Path) -> list[ModelEntry]:
    """Extract one .sh3f (a zip) once and list its furniture (classes from the names: sources.sweethome3d)."""
    from .sources.sweethome3d import classify

    folder = extract_root / sh3f.stem
    marker = folder / ".extracted"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        with zipfile.ZipFile(sh3f) as zf:
            zf.extractall(folder)
        marker.touch()
    props_files = sorted(folder.glob("*FurnitureCatalog.properties"))
    if not props_files:
        raise ValueError(f"{sh3f} has no *FurnitureCatalog.properties: not a Sweet Home 3D furniture catalogue.")
    props = read_properties(props_files[0].read_text(encoding="iso-8859-1"))
    catalog = re.sub(r"[^a-z0-9]+", "-", sh3f.stem.lower()).strip("-")
    entries = []
    for key, model in props.items():
        m = re.fullmatch(r"model#(\d+)", key)
        if not m:
            continue
        n = m.group(1)
        raw_id = props.get(f"id#{n}", n)
        rotation = props.get(f"modelRotation#{n}")
        try:
            size = tuple(float(props[f"{k}#{n}"]) for k in ("width", "height", "depth"))
        except (KeyError, ValueError):
            logger.warning("%s: entry %s has no usable width/height/depth; skipped", sh3f.name, raw_id)
            continue
        name = props.get(f"name#{n}", raw_id)
        entries.append(ModelEntry(
            object_id=f"{catalog}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", raw_id.split("#")[-1]).strip("-"),
            name=name,
            category=classify(name),
            source="sweethome3d",
            model=str(folder / model.lstrip("/")),
            creator=props.get(f"creator#{n}", ""),
            license=props.get(f"license#{n}", props.get("license", "")),
            package="sweethome3d-furniture",
            rotation=[float(v) for v in rotation.split()] if rotation else None,
            size=size,  # type: ignore[arg-type]
            extra={"catalog": sh3f.stem, "room": props.get(f"category#{n}", "Miscellaneous")},
        ))
    return entries


def find_catalogs(source: Path, work: Path) -> list[Path]:
    """.sh3f catalogues from a .deb, a single .sh3f, or a folder holding either.

    A catalogue found twice (a folder holding a .deb and its unpacked files, such as a build's
    ``_sources``) is listed once: a copy would put the same objects in two splits."""
    if source.is_dir():
        found = sorted(source.rglob("*.sh3f"))
        for deb in sorted(source.rglob("*.deb")):
            found += find_catalogs(deb, work)
        unique: dict[str, Path] = {}
        for sh3f in found:
            unique.setdefault(hashlib.sha256(sh3f.read_bytes()).hexdigest(), sh3f)
        return list(unique.values())
    if source.suffix == ".sh3f":
        return [source]
    if source.suffix == ".deb":
        return sorted(unpack_deb(source, work).rglob("*.sh3f"))
    raise ValueError(f"{source}: expected a .deb, a .sh3f or a folder of them.")


# ---- geometry ------------------------------------------------------------------------------------


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


def load_normalized(entry: ModelEntry):
    """The entry's model as a trimesh.Scene, upright, sized like its catalogue (when it gives a size),
    centred and fit in [-0.5, 0.5]^3. Every source goes through here: the source loads the model
    turned y up, front +z (``Source.load``); the rest is the same for all.

    Raises NoGeometry for a model without triangles (an empty file, only vertices or lines).
    """
    scene = surfaces_only(get_source(entry.source).load(entry))
    transform = np.eye(4)
    if entry.rotation:
        transform[:3, :3] = np.asarray(entry.rotation, dtype=float).reshape(3, 3)  # row-major, p' = R p
    scene.apply_transform(transform)
    lo, hi = scene.bounds
    extent = np.maximum(hi - lo, 1e-9)
    stretch = np.ones(3)
    if entry.size is not None:  # Sweet Home 3D sizes each axis separately
        stretch = np.asarray(entry.size, dtype=float) / extent
        if not np.all(np.isfinite(stretch)) or np.any(np.asarray(entry.size) <= 0):
            stretch = np.ones(3)
    scale = np.eye(4)
    scale[:3, :3] = np.diag(stretch)
    centre = np.eye(4)
    centre[:3, 3] = -(lo + hi) / 2
    scene.apply_transform(scale @ centre)
    size = scene.extents.max()
    fit = np.eye(4)
    fit[:3, :3] *= (1 - 1e-4) / size
    scene.apply_transform(fit)
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


# ---- building -------------------------------------------------------------------------------------


@dataclass
class BuildOptions:
    views: int = 12
    image_size: int = 128
    grid: int = GRID
    studio: str = "fixed"  # "fixed": one lens, light and camera height range for all; "random": drawn per view
    fov: float = 40.0  # fixed studio: vertical field of view, degrees
    distance: float = 2.0  # fixed studio: camera distance for an object fit in the unit cube
    elevation: tuple[float, float] = (15.0, 40.0)  # fixed studio: camera heights, degrees
    azimuth_jitter: float = 12.0  # degrees, uniform +-
    random_fov: tuple[float, float] = (30.0, 70.0)  # random studio: lens range, degrees
    random_elevation: tuple[float, float] = (0.0, 60.0)  # random studio: camera heights, degrees
    seed: int = 0
    max_worker_memory_gb: float = 6.0  # per build worker; a model needing more is skipped (MemoryError)

    def __post_init__(self):
        if self.studio not in STUDIOS:
            raise ValueError(f"studio must be one of {', '.join(STUDIOS)} (got {self.studio!r}).")


STUDIOS = ("fixed", "random")


def stable_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:4], "little")


def cameras_for(object_id: str, opts: BuildOptions) -> np.ndarray:
    """(V, 3) azimuth, elevation (degrees) and distance: evenly spread azimuths with jitter."""
    rng = np.random.default_rng(stable_seed(object_id, opts.seed))
    base = np.arange(opts.views) * 360.0 / opts.views + rng.uniform(0, 360.0 / opts.views)
    azimuth = (base + rng.uniform(-opts.azimuth_jitter, opts.azimuth_jitter, opts.views)) % 360
    elevation = rng.uniform(*opts.elevation, opts.views)
    return np.stack([azimuth, elevation, np.full(opts.views, opts.distance)], axis=1).astype(np.float32)


def studio_views(object_id: str, opts: BuildOptions, radius: float = 0.5 * 3**0.5) -> list[View]:
    """The object's views: azimuths spread evenly with jitter (``cameras_for``), then per view either
    the fixed studio, or (``opts.studio == "random"``) a drawn lens (field of view, with the distance
    set so a sphere of ``radius`` around the object stays in frame), camera height, key light
    direction / colour / intensity, top light and ambient level. A pure function of (id, seed)."""
    cameras = cameras_for(object_id, opts)
    if opts.studio == "fixed":
        return [View(float(a), float(e), float(d), fov=opts.fov) for a, e, d in cameras]
    rng = np.random.default_rng(stable_seed(object_id, opts.seed, "studio"))
    views = []
    for azimuth in cameras[:, 0]:
        fov = rng.uniform(*opts.random_fov)
        distance = radius / np.sin(np.radians(fov) / 2) * rng.uniform(1.02, 1.35)
        warmth = rng.uniform(-1, 1)  # -1 cool (blue sky) .. +1 warm (tungsten)
        colour = np.array([1 + 0.15 * warmth, 1.0, 1 - 0.25 * warmth])
        views.append(View(
            azimuth=float(azimuth), elevation=float(rng.uniform(*opts.random_elevation)), distance=float(distance),
            fov=float(fov),
            key_direction=(float(azimuth + rng.uniform(-110, 110)), float(rng.uniform(5, 85))),
            key_color=tuple(float(c) for c in colour / colour.max()),
            key_intensity=float(rng.uniform(1.0, 5.0)),
            fill_intensity=float(rng.uniform(0.0, 2.0)),
            ambient=float(rng.uniform(0.05, 0.6)),
        ))
    return views


_RENDERER = None


def _renderer(opts: BuildOptions):
    global _RENDERER
    if _RENDERER is None:
        from .render import Renderer

        _RENDERER = Renderer(opts.image_size, opts.fov)  # the fov is set per view
    return _RENDERER


def untextured(scene):
    """A copy of the scene with every texture replaced by its material's main colour."""
    import trimesh

    from .render import vertex_colours  # trimesh's to_color() paints a material without an image grey

    scene = scene.copy()
    for geometry in scene.geometry.values():
        if isinstance(geometry.visual, trimesh.visual.TextureVisuals):
            geometry.visual = trimesh.visual.ColorVisuals(geometry, vertex_colors=vertex_colours(geometry))
    return scene


def save_npz_atomic(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build_object(entry: ModelEntry, out: Path, opts: BuildOptions) -> tuple[str, str, str]:
    """Build one object file; returns (status, object_id, reason).

    A bad model is reported ("failed" and why: "no geometry" for a model without triangles), never
    raised. Only render.RenderingUnavailable is: without a renderer every object would fail alike.
    """
    from .render import RenderingUnavailable

    target = out / "objects" / f"{entry.object_id}.npz"
    if target.exists():
        return "skipped", entry.object_id, "already built"
    try:
        write_object(entry, target, opts)
        return "built", entry.object_id, ""
    except RenderingUnavailable:
        raise
    except NoGeometry as err:
        return "failed", entry.object_id, str(err)
    except Exception as err:  # a bad model is skipped, never fatal
        return "failed", entry.object_id, f"{type(err).__name__}: {err}"[:300]


def write_object(entry: ModelEntry, target: Path, opts: BuildOptions) -> None:
    """Voxelise and render one entry into ``target`` (written atomically).

    ``cameras`` holds per view (azimuth, elevation, distance, field of view); ``studio`` the lights
    (key azimuth, key elevation, key r, g, b, key intensity, top-light intensity, ambient)."""
    scene = load_normalized(entry)
    occ = solid_voxels(scene, opts.grid, seed=stable_seed(entry.object_id))
    if occ.sum() < 4:
        raise ValueError(f"only {int(occ.sum())} occupied voxels")
    radius = float(np.linalg.norm(scene.bounds, axis=1).max())  # the box's corners bound the object
    views = studio_views(entry.object_id, opts, radius)
    images, masks = render_views(entry.object_id, scene, views, opts)
    cameras = np.array([[v.azimuth % 360, v.elevation, v.distance, v.fov] for v in views], dtype=np.float32)
    studio = np.array([[*(v.key_direction or (v.azimuth, v.elevation)), *v.key_color, v.key_intensity, v.fill_intensity,
                        v.ambient] for v in views], dtype=np.float32)
    meta = {**asdict(entry), "studio": opts.studio, "grid": opts.grid}
    meta.pop("model")
    save_npz_atomic(target, views=images, masks=np.packbits(masks, axis=-1), voxels=np.packbits(occ.reshape(-1)),
                    cameras=cameras, studio=studio, meta=np.array(json.dumps(meta)))


def render_views(object_id: str, scene, views: list[View], opts: BuildOptions) -> tuple[np.ndarray, np.ndarray]:
    """The scene's renders and masks; a scene whose textures fail is rendered in its material colours."""
    from .render import prepare_for_render

    renderer = _renderer(opts)  # outside the fallback: a missing renderer is not a texture problem
    poses = list(views)
    try:
        return renderer.render(prepare_for_render(scene), poses)
    except Exception as err:  # e.g. a texture without UV coordinates
        logger.info("%s: rendering without textures (%s)", object_id, type(err).__name__)
        return renderer.render(prepare_for_render(untextured(scene)), poses)


def _limit_memory(gigabytes: float) -> None:
    """Cap a build worker's address space: a pathological model then fails with MemoryError (recorded
    as a skip with its reason) instead of exhausting the machine. Linux/macOS; ignored elsewhere."""
    try:
        import resource

        limit = int(gigabytes * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _build_star(args):
    return build_object(*args)


def assign_splits(entries: list[ModelEntry], seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    """Object-level split stratified by (source, category), a pure function of the object ids and seed:
    adding a source does not move another source's objects."""
    by_cat: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in entries:
        by_cat[e.source, e.category].append(e.object_id)
    split = {"train": [], "val": [], "test": []}
    for cat in sorted(by_cat):
        ids = sorted(by_cat[cat], key=lambda i: stable_seed(i, seed))
        n = len(ids)
        n_val = int(round(n * fractions[1])) if n >= 3 else 0
        n_test = int(round(n * fractions[2])) if n >= 3 else 0
        split["test"] += ids[:n_test]
        split["val"] += ids[n_test : n_test + n_val]
        split["train"] += ids[n_test + n_val :]
    return {k: sorted(v) for k, v in split.items()}


def list_entries(sources: tuple[str, ...], work: Path, source: str | Path | None = None) -> tuple[list[ModelEntry], dict]:
    """Every source's entries (ids made unique), and per source the count or why it gave none.

    ``source``: for ``sweethome3d`` a .deb, .sh3f or folder; for the others a folder holding their .debs.
    A source that cannot be fetched is reported and skipped when others remain, so one broken
    package does not stop the build.
    """
    src = Path(source) if source else None
    entries: list[ModelEntry] = []
    report: dict[str, str | int] = {}
    for name in sources:
        try:
            found = get_source(name).entries(work, src if (name == "sweethome3d" or src is None or src.is_dir()) else None)
        except Exception as err:
            if len(sources) == 1:
                raise
            logger.warning("source %s skipped: %s", name, err)
            report[name] = f"skipped: {type(err).__name__}: {err}"[:300]
            continue
        report[name] = len(found)
        entries += found
    seen = Counter(e.object_id for e in entries)
    entries = [e for e in entries if seen[e.object_id] == 1] + _dedupe([e for e in entries if seen[e.object_id] > 1])
    return sorted(entries, key=lambda e: e.object_id), report


def build(out: str | Path, source: str | Path | None = None, workers: int | None = None,
          limit: int | None = None, opts: BuildOptions | None = None, progress: bool = True,
          sources: tuple[str, ...] = ("sweethome3d",), splits: tuple[str, ...] | None = None) -> dict:
    """Build (or resume building) the 3D objects of ``sources`` (``lddbm.data.sources``) into ``out``;
    returns the summary.

    ``splits``: build only the objects of these splits (e.g. a fixed-studio copy of ``("test",)``).
    ``summary["in_data_set"]`` counts the objects usable after this run (built now or before): 0 means
    nothing was built, and the reasons are in ``summary["failures"]``. Raises render.RenderingUnavailable,
    naming the real error, when nothing can be rendered on this machine.
    """
    from tqdm.auto import tqdm

    out, opts = Path(out), opts or BuildOptions()
    work = out / "_sources"
    (out / "objects").mkdir(parents=True, exist_ok=True)
    entries, found = list_entries(tuple(sources), work, source)
    if not entries:
        raise FileNotFoundError(f"No models found in the sources {', '.join(sources)} ({found}).")
    committed = json.loads(SPLIT_FILE.read_text()) if SPLIT_FILE.exists() else {}
    fresh = assign_splits(entries, opts.seed)
    known = {oid: name for name, ids in committed.items() for oid in ids}
    split_of = {e.object_id: known.get(e.object_id, _split_of(e.object_id, fresh)) for e in entries}
    catalogue = entries  # split.json and index.json list every object built here, in this run or before
    if splits:
        entries = [e for e in entries if split_of[e.object_id] in splits]
    if limit:
        entries = entries[:limit]

    workers = workers or max(1, (os.cpu_count() or 1))
    jobs = [(e, out, opts) for e in entries]
    results = []
    # fresh workers every 10 objects: OSMesa does not hand memory back, so a long-lived worker grows
    with get_context("fork").Pool(workers, maxtasksperchild=10, initializer=_limit_memory,
                                  initargs=(opts.max_worker_memory_gb,)) as pool:
        for status in tqdm(pool.imap_unordered(_build_star, jobs), total=len(jobs), desc="3D objects", disable=not progress):
            if status[0] == "failed":
                logger.warning("skipped %s: %s", status[1], status[2])
            results.append(status)

    # also the objects of other splits (or past --limit) built by earlier runs: a build of --splits train
    # next to a built val/test must not drop them from the split file
    built = {e.object_id for e in catalogue if (out / "objects" / f"{e.object_id}.npz").is_file()}
    split = {name: sorted(oid for oid in built if split_of[oid] == name) for name in ("train", "val", "test")}
    (out / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    kept = [e for e in catalogue if e.object_id in built]
    index = {e.object_id: {k: v for k, v in asdict(e).items() if k != "model"} for e in kept}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    write_attribution(out / "ATTRIBUTION.md", kept)
    summary = {
        "objects": len(entries),
        "in_data_set": len(built),
        "built": sum(st == "built" for st, _, _ in results),
        "already_built": sum(st == "skipped" for st, _, _ in results),
        "failed": sum(st == "failed" for st, _, _ in results),
        "failures": {oid: why for st, oid, why in results if st == "failed"},
        "sources": found,
        "per_source": dict(Counter(e.source for e in kept)),
        "split_sizes": {k: len(v) for k, v in split.items()},
        "categories": dict(sorted(Counter(e.category for e in kept).items())),
        "options": asdict(opts),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def extend_split_file(built_split: dict[str, list[str]], path: Path = SPLIT_FILE) -> dict[str, int]:
    """Add a build's new objects to the committed split (``path``); objects already in it never move.
    Returns how many were added per split."""
    committed = json.loads(path.read_text()) if path.exists() else {"train": [], "val": [], "test": []}
    known = {oid for ids in committed.values() for oid in ids}
    added = {}
    for name, ids in built_split.items():
        new = [oid for oid in ids if oid not in known]
        committed.setdefault(name, [])
        committed[name] = sorted(committed[name] + new)
        added[name] = len(new)
    path.write_text(json.dumps(committed, indent=0) + "\n")
    return added


def _split_of(object_id: str, split: dict[str, list[str]]) -> str:
    for name, ids in split.items():
        if object_id in ids:
            return name
    return "train"


def _dedupe(entries: list[CatalogEntry]) -> list[CatalogEntry]:
    counts: Counter = Counter()
    for e in entries:
        counts[e.object_id] += 1
        if counts[e.object_id] > 1:
            e.object_id = f"{e.object_id}-{counts[e.object_id]}"
    return entries


def write_attribution(path: Path, entries: list[ModelEntry]) -> None:
    """ATTRIBUTION.md: per source its credit paragraph, then every model with creator and licence."""
    lines = ["# Attribution", "", "3D models rendered and voxelised by lddbm, from these Debian packages. "
             "Licences as stated by each package's debian/copyright or catalogue.", ""]
    by_source: dict[str, list[ModelEntry]] = defaultdict(list)
    for e in entries:
        by_source[e.source].append(e)
    for name in sorted(by_source):
        items = sorted(by_source[name], key=lambda e: e.object_id)
        credit = SOURCES[name].credit if name in SOURCES else ""
        lines += [f"## {name} ({', '.join(sorted({e.package for e in items if e.package}))})", "", credit, ""]
        lines += [f"- {e.object_id}: \"{e.name}\" by {e.creator or 'unknown'}, {e.license or 'see above'} ({e.category})"
                  for e in items]
        lines.append("")
    path.write_text("\n".join(lines))


def one_per_category_first(ids: list[str], category_of: dict[str, str], count: int) -> list[str]:
    """Up to ``count`` of ``ids``: one of each category in turn (categories sorted, ids in order)."""
    by_cat: dict[str, list[str]] = defaultdict(list)
    for oid in ids:
        by_cat[category_of[oid]].append(oid)
    chosen: list[str] = []
    while len(chosen) < min(count, len(ids)):
        for cat in sorted(by_cat):
            if by_cat[cat] and len(chosen) < count:
                chosen.append(by_cat[cat].pop(0))
    return chosen


def export_examples(root: str | Path, out: str | Path, split: str = "test", count: int = 8, views: int = 4,
                    photos: list[np.ndarray] | None = None, seed: int = 0,
                    categories: list[str] | None = None) -> list[str]:
    """Copy ``count`` objects of ``split`` (one per category first; only ``categories`` if given)
    as example inputs for the app.

    Each becomes OUT/<object_id>/view_<k>.png (evenly spread views), voxels.npy (bool 32^3) and
    meta.json (name, category, creator, licence). With ``photos`` (held-out photographs as arrays),
    objects not exported yet are instead pasted, at 2x size, smaller and off centre, onto crops of
    them: OUT/<object_id>-photo/, meta "background": "photo" (what a phone photo looks like).
    """
    from PIL import Image

    from .augment import composite, photo_crop, place

    root, out = Path(root), Path(out)
    ids = json.loads((root / "split.json").read_text())[split]
    index = json.loads((root / "index.json").read_text())
    if photos:
        ids = [oid for oid in ids if not (out / oid).exists()]
    if categories is not None:
        ids = [oid for oid in ids if index[oid]["category"] in categories]
    chosen = one_per_category_first(ids, {oid: index[oid]["category"] for oid in ids}, count)
    rng = np.random.default_rng(seed)
    for j, oid in enumerate(chosen):
        obj = load_object(root / "objects" / f"{oid}.npz")
        folder = out / (f"{oid}-photo" if photos else oid)
        folder.mkdir(parents=True, exist_ok=True)
        picks = np.linspace(0, len(obj["views"]), views, endpoint=False).astype(int)
        photo = photos[j % len(photos)] if photos else None  # a different photograph per object
        for k, v in enumerate(picks):
            image = obj["views"][v]
            if photos:
                size = 2 * image.shape[0]
                big = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))
                big_mask = np.asarray(Image.fromarray(obj["masks"][v]).resize((size, size), Image.NEAREST))
                moved, moved_mask = place(big, big_mask, rng.uniform(0.7, 0.9), tuple(rng.uniform(-0.06, 0.06, 2)))
                image = composite(moved, moved_mask, photo_crop(photo, size, rng))
            Image.fromarray(image).save(folder / f"view_{k}.png")
        np.save(folder / "voxels.npy", obj["voxels"])
        meta = {k: obj["meta"].get(k, "") for k in ("object_id", "name", "category", "source", "creator", "license")}
        if photos:
            meta["background"] = "photo"
        (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return chosen


# ---- loading ----------------------------------------------------------------------------------------


def load_object(path: Path) -> dict:
    """One built object: views (V,S,S,3) uint8, masks (V,S,S) bool or None (older builds),
    voxels (G,G,G) bool, cameras (V,3), meta dict."""
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        grid = meta.get("grid", GRID)
        voxels = np.unpackbits(f["voxels"])[: grid**3].reshape(grid, grid, grid).astype(bool)
        views = f["views"]
        masks = np.unpackbits(f["masks"], axis=-1)[..., : views.shape[2]].astype(bool) if "masks" in f else None
        studio = f["studio"] if "studio" in f else None  # (V, 8) lights; absent in builds before studios
        return {"views": views, "masks": masks, "voxels": voxels, "cameras": f["cameras"], "studio": studio, "meta": meta}


def load_objects(root: str | Path, split: str, limit: int | None = None, masks: bool = False) -> tuple[list[str], list[dict]]:
    """The ids and built objects (``load_object``) of ``split``; ``masks``: require the renders' masks."""
    root = Path(root)
    ids = json.loads((root / "split.json").read_text())[split][: limit or None]
    objects = [load_object(root / "objects" / f"{i}.npz") for i in ids]
    if masks and any(o["masks"] is None for o in objects):
        raise ValueError(f"{root} was built without masks; rebuild it with python -m lddbm build-data furniture --out {root}.")
    return ids, objects


def built_ids(root: Path, split: str) -> list[str]:
    """The ids of ``split`` whose objects are built under ``root``; a clear error when there are none."""
    split_file = root / "split.json"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} is missing: build the data set first with "
                                f"`python -m lddbm build-data furniture --out {root}`.")
    ids = json.loads(split_file.read_text()).get(split)
    if ids is None:
        raise ValueError(f"Unknown split {split!r} in {split_file}.")
    ids = [i for i in ids if (root / "objects" / f"{i}.npz").is_file()]
    if not ids:
        raise FileNotFoundError(f"No built objects of split {split!r} under {root / 'objects'}.")
    return ids


class MultiViewVoxels(Dataset):
    """Built furniture objects as {"source": (V,3,S,S) in [-1,1], "target": (1,G,G,G), "category"}.

    Train split: a random subset of ``num_views`` views per item. Other splits: a fixed, evenly
    spread subset. With ``foreground_ratio`` set (and masks in the build), every view is framed by
    the upload normaliser's rule (``lddbm.framing``) from its exact mask; ``augment`` (train only)
    also puts objects on random backgrounds (``photos``: photographs as (H, W, 3) uint8 arrays),
    jitters colour and framing, blurs, compresses and spoils the mask (``lddbm.data.augment``).
    Without ``foreground_ratio`` the views are the renders, resized. ``pool`` k > 0 draws each augmented
    view from k variants made once (``lddbm.data.pool``, cached under ROOT/_pools) instead of per item;
    ``poses`` adds each view's camera (``lddbm.modalities.lifting.pose_targets``) to the source.
    """

    def __init__(self, root: str | Path, split: str = "train", num_views: int = 4, image_size: int = 64,
                 random_views: bool | None = None, foreground_ratio: float | None = None, augment: bool = False,
                 photos: list[np.ndarray] | None = None, poses: bool = False, pool: int = 0, pool_seed: int = 0):
        from .augment import frame_clean_and_box

        root = Path(root)
        self.ids = built_ids(root, split)
        self.num_views, self.image_size = num_views, image_size
        self.random_views = split == "train" if random_views is None else random_views
        self.foreground_ratio, self.photos = foreground_ratio, photos
        objects = [load_object(root / "objects" / f"{i}.npz") for i in self.ids]
        if foreground_ratio is not None and any(o["masks"] is None for o in objects):
            raise ValueError(f"{root} was built without masks; rebuild it (`python -m lddbm build-data furniture "
                             f"--out {root}`) or set data.foreground_ratio to null.")
        self.augment = augment and foreground_ratio is not None
        self.pool = None
        if self.augment and pool > 0:  # k augmented variants per view, made once (lddbm.data.pool)
            from .pool import augmentation_pool

            self.pool, self.pool_boxes = augmentation_pool(
                lambda: (np.stack([o["views"] for o in objects]), np.stack([o["masks"] for o in objects])), self.ids,
                image_size, foreground_ratio, pool, root / "_pools", seed=pool_seed, photos=photos)
        elif self.augment:  # keep the renders and masks; views are made per item
            self.renders = np.stack([o["views"] for o in objects])  # (N, V_all, S0, S0, 3) uint8
            self.masks = np.stack([o["masks"] for o in objects])  # (N, V_all, S0, S0) bool
        elif foreground_ratio is not None:
            framed = [[frame_clean_and_box(v, m, image_size, foreground_ratio) for v, m in zip(o["views"], o["masks"])]
                      for o in objects]
            views = [torch.from_numpy(np.stack([f for f, _ in obj])).permute(0, 3, 1, 2).contiguous() for obj in framed]
            self.boxes = np.array([[box for _, box in obj] for obj in framed], dtype=np.float32)  # (N, V_all, 3)
        else:
            views = [_resize_views(o["views"], image_size) for o in objects]
        if not self.augment:
            self.views = torch.stack(views)  # (N, V_all, 3, S, S) uint8
        self.voxels = torch.stack([torch.from_numpy(o["voxels"]) for o in objects])  # (N, G, G, G) bool
        self.categories_of = [o["meta"]["category"] for o in objects]
        self.categories = sorted(set(self.categories_of))
        self.total_views = len(objects[0]["views"])
        # poses: the source carries each view's camera as the lifting encoder estimates it (training signal)
        self.poses = poses and foreground_ratio is not None
        if self.poses:
            if any(o["cameras"].shape[-1] < 4 for o in objects):
                raise ValueError(f"{root} stores no field of view per camera; rebuild it to train a camera estimate.")
            self.cameras = np.stack([o["cameras"][:, :4] for o in objects])  # (N, V_all, 4)
            self.render_size = objects[0]["views"].shape[1]
        if num_views > self.total_views:
            raise ValueError(f"num_views={num_views} but the objects have {self.total_views} views.")

    def view_indices(self, i: int) -> torch.Tensor:
        total = self.total_views
        if self.random_views:  # the global RNG: seeded, and restored on resume, by the trainer
            return torch.randperm(total)[: self.num_views]
        return torch.linspace(0, total, self.num_views + 1)[:-1].long()  # evenly spread azimuths

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        picks = self.view_indices(i)
        boxes = None
        if self.pool is not None:
            k = picks.numpy()
            j = torch.randint(self.pool.shape[2], (len(k),)).numpy()  # the trainer's seeded global RNG
            views = torch.from_numpy(np.ascontiguousarray(self.pool[i, k, j])).permute(0, 3, 1, 2)
            boxes = self.pool_boxes[i, k, j]
        elif self.augment:
            from .augment import augment_view_and_box

            rng = np.random.default_rng(int(torch.randint(2**62, ())))  # from the trainer's seeded global RNG
            made = [augment_view_and_box(self.renders[i, k], self.masks[i, k], self.image_size, rng, self.photos,
                                         self.foreground_ratio) for k in picks.tolist()]
            views = torch.from_numpy(np.stack([v for v, _ in made])).permute(0, 3, 1, 2)
            boxes = [b for _, b in made]
        else:
            views = self.views[i, picks]
            if self.poses:
                boxes = self.boxes[i, picks.numpy()]
        source = to_unit(views)  # (V, 3, S, S) in [-1, 1]
        if self.poses:
            from ..modalities.lifting import pose_targets

            cameras = self.cameras[i, picks.numpy()]
            pose = np.stack([pose_targets(c, b, self.render_size) for c, b in zip(cameras, boxes)])
            source = {"views": source, "pose": torch.from_numpy(pose)}  # pose (V, 7): lddbm.modalities.lifting.POSE
        return {"source": source, "target": self.voxels[i][None].float(), "category": self.categories_of[i]}


def _resize_views(views: np.ndarray, size: int) -> torch.Tensor:
    """(V, S0, S0, 3) uint8 -> (V, 3, size, size) uint8, antialiased."""
    from PIL import Image

    if views.shape[1] != size:
        views = np.stack([np.asarray(Image.fromarray(v).resize((size, size), Image.BICUBIC)) for v in views])
    return torch.from_numpy(np.ascontiguousarray(views)).permute(0, 3, 1, 2).contiguous()
