"""0 A.D. (Debian's ``0ad-data``): buildings, ships, siege engines, trees, rocks, animals, props.

The package ships the game's ``public`` mod as one uncompressed ``public.zip``. Its meshes are not
COLLADA: the release archive holds the game's converted cache, ``art/meshes/**/*.dae.cached.pmd``
(the engine's binary PMD format, version 4), and textures as ``*.cached.dds`` (DXT1 / DXT5, which
PIL reads). So this source has its own PMD reader (no pycollada needed) and works from the
**actors** (``art/actors/**.xml``): an actor is what the game places, a mesh + texture + props
(other actors) attached at named prop points, e.g. a temple is its walls plus roof tiles and
decorations, a soldier a body plus head, helmet, shield and weapon. Building from actors gives the
whole object; most meshes alone are fragments.

``zeroad_actors`` reads the mod (PMD meshes, actors, textures) and builds the scenes; this module
picks the top-level actors, gives them categories, drops repeats and registers the source.

Licence: debian/copyright gives ``Files: *`` (the game data) as CC-BY-SA 3.0, (C) Wildfire Games;
the only other stanzas are fonts and debian/ packaging, neither of which is used here.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from ..debian import copyright_text, fetch_and_unpack, slug
from . import ModelEntry, Source, register, zeroad_actors
from .zeroad_actors import Archive, parts_scene, resolve_actor

PACKAGE = "0ad-data"
PUBLIC_ZIP = "usr/share/games/0ad/mods/public/public.zip"
EXTRACT_DIR = "0ad-public"  # under the work folder: the parts of public.zip this source reads
LICENSE = "CC-BY-SA-3.0"
CREATOR = "Wildfire Games"

NEEDLE_RATIO = 0.05  # second-longest side under 5 % of the longest: a spear is a one-voxel line at 32^3


# ---- categories -----------------------------------------------------------------------------------

SKIP_WORDS = ("fndn", "foundation", "destruct", "rubble", "construction", "scaffold", "decal", "debris",
              "_dead", "dead_", "wreck", "broken", "ruin", "damaged", "test", "marker", "flag", "plot_",
              "particle", "_low", "lod", "shadow", "selection", "_top", "top_", "leaves", "branches",
              "needles", "_field", "farming", "fallen", "placeholder", "water_", "_water", "waves", "label",
              "road", "path", "ground", "runway", "_packed", "_pivot", "_sail", "awning", "rice_paddy",
              "banners")

SHIP_WORDS = ("trireme", "bireme", "quinquereme", "pentekonter", "ship", "boat", "skiff", "longship",
              "merchantman", "warship", "towership", "quadrireme", "hexareme", "lembos", "dhow")
SIEGE_WORDS = ("siege_ram", "siege_tower", "lithobolos", "oxybeles", "ballista", "scorpio", "polybolos",
               "onager", "mangonel", "shoushe", "fireraiser", "catapult", "chariot", "wagon", "cart", "catafalque")
TOWER_WORDS = ("tower", "outpost", "lighthouse", "watchtower", "minaret")
FENCE_WORDS = ("wall", "palisade", "gate", "fence", "spikes", "stockade")
CONTAINER_WORDS = ("barrel", "crate", "box", "basket", "amphora", "vase", "sack", "bin", "treasure", "chest",
                   "jar", "pot_", "bucket", "urn")
STATUE_WORDS = ("statue", "obelisk", "sphynx", "sphinx", "monument", "cenotaph", "standing_stones", "snowman",
                "bixie", "stele")
WEAPON_WORDS = ("sword", "spear", "axe", "bow", "dagger", "falcata", "gladius", "xiphos", "kopis", "mace",
                "khopesh", "akinakes", "sarissa", "pillum", "jav", "rhomphaia", "spatha", "verutum", "saunion",
                "halb", "han_ji", "han_qiang", "han_nu", "liannu", "juezhang", "gastraphetes", "crossbow")
WEAPON_SKIP = ("arrow", "bolt", "projectile", "ammo", "sheath", "quiver", "banner", "staff", "blade", "rock",
               "sling", "fire-works", "loaded", "reverse", "weight", "standard")
PLANT_WORDS = ("bush", "shrub", "plant", "reed", "papyrus", "cattail", "fern", "flower", "grass", "lavender",
               "poppy", "scrub", "sprout", "agaric", "lepiota", "mycena", "chanterelle", "cypress_potted")


def refine_category(category: str, parts: list[dict]) -> str:
    """A category that needs the resolved meshes: a trader is a cart when one is drawn, else its animal."""
    if category == "trader":
        meshes = " ".join(Path(p["mesh"]).name for p in parts)
        return "cart" if _has(meshes, ("cart", "wagon")) else "animal"
    return category


def _has(name: str, words) -> bool:
    return any(w in name for w in words)


def categorize(actor: str) -> str | None:
    """Data-set category of a top-level actor path ('structures/athenians/temple.xml'), None to skip."""
    path = actor.lower()
    if not path.endswith(".xml"):
        return None
    parts = path[:-4].split("/")
    top, name = parts[0], parts[-1]
    if top in ("particle", "temp", "special") and not (top == "special" and name in SPECIAL_KEEP):
        return None
    if top == "special":
        return SPECIAL_KEEP[name]
    if (_has(name, SKIP_WORDS) or name.endswith("_fire")) and not (top == "geology" and name.startswith(("metal", "stone"))):
        return None
    if top == "structures" or (top == "campaigns" and len(parts) > 1 and parts[1] == "structures"):
        if _has(name, SHIP_WORDS) or name.startswith("merchant"):
            return "watercraft"
        if name.startswith("siege_wall") or _has(name, ("wall_", "palisade")):
            return "tower" if "tower" in name else "fence"
        if _has(name, SIEGE_WORDS) and name.startswith("siege"):
            return "cart"
        if _has(name, TOWER_WORDS):
            return "tower"
        if _has(name, FENCE_WORDS):
            return "fence"
        if _has(name, STATUE_WORDS + ("gravestone",)) or re.fullmatch(r"sb(_\d+)?", name):
            return "statue"
        if _has(name, ("uffington", "field", "wrld_settlement")) or name == "plot" or name.endswith("_decor"):
            return None  # a hill figure, flat plots, scattered props
        return "building"
    if top == "units":
        if re.search(r"_[hrd]\d*$", name):
            return None  # a mounted unit's horse, rider or driver alone (the whole unit is listed)
        if "trader" in name:
            return "trader"  # cart or pack animal: decided on the meshes (refine_category)
        if _has(name, SHIP_WORDS):
            return "watercraft"
        if name.startswith(("siege", "chariot", "hero_chariot")) or _has(name, ("catafalque", "cart", "wagon")):
            return "cart"
        if _has(name, ("cavalry", "camel", "elephant", "war_dog", "wolfhound", "horse")):
            return "animal"
        if _has(name, SIEGE_WORDS) or "operator" in name:
            return None  # crews of siege engines (the engine without its crew is listed above)
        if name.startswith("plane"):
            return "airplane"
        return "person"
    if top == "fauna":
        if _has(name, ("circle", "shoal", "whale_fin", "fish_generic")) or name == "fish":
            return None  # flocks, shoals, a fin alone
        return "animal"
    if top == "flora":
        return "plant" if _has(name, PLANT_WORDS) else "tree"
    if top == "fungi":
        return "plant"
    if top == "geology":
        if _has(name, ("waterfall", "cliff")):
            return None
        return "rock"
    if top == "props":
        sub = parts[1] if len(parts) > 2 else ""
        if sub == "flora":
            if _has(name, ("cypress_large", "cypress_small", "cypress_row")):
                return "tree"
            if _has(name, ("berries", "lillies", "log", "apples", "cliffs", "harvest", "forage_grapes_prop")):
                return None
            return "plant" if _has(name, PLANT_WORDS + ("berry", "foliage", "grapes")) else None
        if sub == "special":
            if len(parts) == 3:  # props/special/<name>.xml
                if name.startswith("palisade"):
                    return "tower" if _has(name, TOWER_WORDS) else "fence"
                return "cart" if "wagon" in name else None
            if parts[2] != "eyecandy":
                return None
            return eyecandy_category(name)
        if sub == "units" and len(parts) > 3 and parts[2] == "weapons":
            return "weapon" if _has(name, WEAPON_WORDS) and not _has(name, WEAPON_SKIP) else None
        if len(parts) == 2 and _has(name, ("cart", "wagon")):
            return "cart"
        return None
    return None


SPECIAL_KEEP = {"pyramid": "building", "pyramid_minor": "building", "pers_ishtar_gate": "building",
                "greek_stoa": "building", "greek_stoa_great": "building", "pegasus": "statue",
                "golden_fleece": None}

EYECANDY = [  # (words, category) in order; None skips
    (("bridge", "shipwreck", "iceberg", "campfire", "tree_elm_base", "dirt", "delimitator", "well_water",
      "well_woodbit", "barrels_floating", "barrels_buried", "unfinished_columns", "control_tower"), None),
    (("cart", "wagon", "chariot"), "cart"),
    (("table",), "table"),
    (("bench",), "chair"),
    (("sword_heap", "sword_rack", "weapons"), "weapon"),
    (("cypress_potted", "fern"), "plant"),
    (("cypress",), "tree"),
    (CONTAINER_WORDS + ("amphorae", "hay"), "container"),
    (STATUE_WORDS, "statue"),
    (("fence",), "fence"),
    (("temple", "colonnade", "well_"), "building"),
    (("anvil",), "tool"),
]


def eyecandy_category(name: str) -> str | None:
    for words, category in EYECANDY:
        if _has(name, words):
            return category
    return "misc"


ACTOR_DIRS = ("structures", "units", "fauna", "flora", "fungi", "geology", "props/special", "props/flora",
              "props/units/weapons", "campaigns/structures", "special")


def top_level_actors(archive: Archive) -> list[str]:
    """Actor paths (relative to art/actors) in the folders that hold whole objects, sorted."""
    base = archive.root / "art" / "actors"
    found = []
    for folder in ACTOR_DIRS:
        for path in (base / folder).rglob("*.xml") if (base / folder).is_dir() else ():
            found.append(path.relative_to(base).as_posix())
    found += [p.relative_to(base).as_posix() for p in base.glob("props/*.xml")]  # props/wooden_cart.xml
    return sorted(set(found))


# ---- dedupe ---------------------------------------------------------------------------------------


def part_stats(parts: list[dict], archive: Archive) -> tuple[int, np.ndarray, str]:
    """(vertex count, bounding-box extents in the game frame, the mesh with the most triangles)."""
    count, lo, hi, best, best_faces = 0, np.full(3, np.inf), np.full(3, -np.inf), "", -1
    for part in parts:
        pmd = archive.pmd(part["mesh"])
        if pmd is None:
            continue
        m = np.asarray(part["matrix"], dtype=float).reshape(4, 4)
        points = pmd.positions @ m[:3, :3].T + m[:3, 3]
        count += len(pmd.positions)
        lo, hi = np.minimum(lo, points.min(0)), np.maximum(hi, points.max(0))
        if len(pmd.faces) > best_faces:
            best, best_faces = part["mesh"], len(pmd.faces)
    return count, (hi - lo) if count else np.zeros(3), best


def dedupe(items: list[dict], proportion_tolerance: float = 0.1) -> list[dict]:
    """Drop repeats among resolved actors (dicts with actor, parts, vertices, extents, main):
    1. the same meshes at the same places (civ recolours, texture variants) -> one;
    2. the same main mesh (the one with most triangles) and the same proportions (extents over the
       longest one, within ``proportion_tolerance``) -> one: units sharing a body and weapon type,
       one building listed under several civs. Props that change the shape (a long spear, a shield,
       a rider) keep an entry of their own;
    3. the same vertex count and bounding box within 1 % -> one (near-identical meshes).
    The most detailed (most vertices; then the shortest, then first actor path) is kept."""
    order = sorted(items, key=lambda it: (-it["vertices"], len(it["actor"]), it["actor"]))
    kept, geometry_keys, shapes = [], set(), {}
    for item in order:
        key = tuple(sorted((p["mesh"], tuple(np.round(p["matrix"], 3))) for p in item["parts"]))
        if key in geometry_keys:
            continue
        extents = np.asarray(item["extents"], dtype=float)
        proportions = extents / max(extents.max(), 1e-9)
        if any(np.all(np.abs(proportions - other) <= proportion_tolerance) for other in shapes.get(item["main"], ())):
            continue
        if any(k["vertices"] == item["vertices"] and np.all(np.abs(np.asarray(k["extents"]) - extents)
                                                            <= 0.01 * np.maximum(extents.max(), 1e-9))
               for k in kept):
            continue
        geometry_keys.add(key)
        shapes.setdefault(item["main"], []).append(proportions)
        kept.append(item)
    return sorted(kept, key=lambda it: it["actor"])


def object_slug(actor: str) -> str:
    """'structures/athenians/temple.xml' -> 'structures-athenians-temple'."""
    return slug(actor[:-4] if actor.endswith(".xml") else actor)


# ---- the source -----------------------------------------------------------------------------------


def extract(zip_path: Path, dest: Path, wanted) -> int:
    """Extract the members of ``zip_path`` for which ``wanted(name)`` is true (missing ones only)."""
    count = 0
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or not wanted(name) or ".." in name.split("/"):
                continue
            target = dest / name
            if target.is_file() and target.stat().st_size == info.file_size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            count += 1
    return count


def display_name(actor: str) -> str:
    parts = actor[:-4].split("/")
    return " ".join(p.replace("_", " ") for p in parts[1:]) or parts[0]


@register
class ZeroAD(Source):
    name = "0ad"
    packages = (PACKAGE,)
    credit = (
        "**0 A.D.** (Debian package `0ad-data`): buildings, ships, siege engines, trees, rocks, animals, "
        "people and props from the game 0 A.D. by Wildfire Games (https://play0ad.com/, "
        "http://www.wildfiregames.com/), licensed under the Creative Commons Attribution-ShareAlike 3.0 "
        "licence (CC BY-SA 3.0, https://creativecommons.org/licenses/by-sa/3.0/). Some textures derive from "
        "CGTextures materials, distributed by Wildfire Games as CC BY-SA with CGTextures' permission. "
        "Each model here is assembled from the game's actor (mesh, texture and attached props), converted to "
        "this data set's frame, voxelised and rendered; the results are shared under the same licence."
    )

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        unpacked = fetch_and_unpack(PACKAGE, Path(work), source)
        text = copyright_text(unpacked, PACKAGE)
        if not re.search(r"Files:\s*\*\s*\nCopyright:[^\n]*Wildfire Games\s*\nLicense:\s*CC-BY-SA-3\.0", text):
            raise RuntimeError(f"{PACKAGE}: debian/copyright no longer says the game data are CC-BY-SA-3.0; "
                               "check the licence before using these models.")
        zip_path = unpacked / PUBLIC_ZIP
        root = Path(work) / EXTRACT_DIR
        cache = root / "entries.json"  # the resolved list, rebuilt when these modules or the zip changes
        cache_key = hashlib.sha256(Path(__file__).read_bytes()
                                   + Path(zeroad_actors.__file__).read_bytes()).hexdigest()[:16]
        items = None
        if cache.is_file():
            saved = json.loads(cache.read_text())
            if saved.get("version") == cache_key and saved.get("zip_size") == zip_path.stat().st_size:
                items = saved["items"]
        if items is None:
            extract(zip_path, root, lambda n: n.startswith(("art/actors/", "art/variants/")) and n.endswith(".xml")
                    or n.startswith("art/meshes/") and n.endswith(".pmd"))
            items = list_items(Archive(root))
            textures = {p["texture"] for it in items for p in it["parts"] if p["texture"]}
            extract(zip_path, root, lambda n: n in textures)
            root.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps({"version": cache_key, "zip_size": zip_path.stat().st_size, "items": items}))
            tmp.replace(cache)
        return [ModelEntry(
            object_id=f"{self.name}-{object_slug(it['actor'])}", name=display_name(it["actor"]),
            category=it["category"], source=self.name, model=str(root / "art" / "actors" / it["actor"]),
            creator=CREATOR, license=LICENSE, package=PACKAGE,
            extra={"root": str(root), "actor": it["actor"], "parts": it["parts"]},
        ) for it in items]

    def load(self, entry: ModelEntry):
        parts = entry.extra.get("parts")
        root = Path(entry.extra.get("root", ""))
        if not parts:
            raise ValueError("actor has no meshes")
        scene = parts_scene(parts, root)
        if not scene.geometry:
            raise ValueError("no readable meshes")
        return scene


def list_items(archive: Archive) -> list[dict]:
    """Resolve, categorise and deduplicate the top-level actors."""
    items = []
    for actor in top_level_actors(archive):
        category = categorize(actor)
        if category is None:
            continue
        parts = resolve_actor(actor, archive)
        if not parts:
            continue
        category = refine_category(category, parts)
        vertices, extents, main = part_stats(parts, archive)
        if vertices == 0 or extents.max() <= 0 or np.sort(extents)[1] < NEEDLE_RATIO * extents.max():
            continue
        items.append({"actor": actor, "category": category, "parts": parts, "vertices": vertices,
                      "extents": [round(float(v), 4) for v in extents], "main": main})
    return dedupe(items)
