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
import tempfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .meshes import GRID, NoGeometry, solid_voxels, surfaces_only
from .multiview import load_object
from .render import View
from .sources import SOURCES, ModelEntry, get_source

logger = logging.getLogger(__name__)

SPLIT_FILE = Path(__file__).with_name("objects_split.json")  # the committed object-level split (all sources)


# ---- catalogues ---------------------------------------------------------------------------------


CatalogEntry = ModelEntry  # the name this module used before there were other sources


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

    from .augment import composite, place
    from .backgrounds import photo_crop

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
