"""0 A.D. (Debian's ``0ad-data``): buildings, ships, siege engines, trees, rocks, animals, props.

The package ships the game's ``public`` mod as one uncompressed ``public.zip``. Its meshes are not
COLLADA: the release archive holds the game's converted cache, ``art/meshes/**/*.dae.cached.pmd``
(the engine's binary PMD format, version 4), and textures as ``*.cached.dds`` (DXT1 / DXT5, which
PIL reads). So this module has its own PMD reader (no pycollada needed) and works from the
**actors** (``art/actors/**.xml``): an actor is what the game places, a mesh + texture + props
(other actors) attached at named prop points, e.g. a temple is its walls plus roof tiles and
decorations, a soldier a body plus head, helmet, shield and weapon. Building from actors gives the
whole object; most meshes alone are fragments.

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

Licence: debian/copyright gives ``Files: *`` (the game data) as CC-BY-SA 3.0, (C) Wildfire Games;
the only other stanzas are fonts and debian/ packaging, neither of which is used here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..debian import copyright_text, fetch_and_unpack, slug
from . import ModelEntry, Source, register

logger = logging.getLogger(__name__)

PACKAGE = "0ad-data"
PUBLIC_ZIP = "usr/share/games/0ad/mods/public/public.zip"
EXTRACT_DIR = "0ad-public"  # under the work folder: the parts of public.zip this source reads
LICENSE = "CC-BY-SA-3.0"
CREATOR = "Wildfire Games"

MAX_QUALITY = 255
QUALITY_NAMES = {"low": 0, "medium": 100, "high": 200}
HIDDEN_ATTACHPOINTS = ("projectile", "garrisoned")  # plus "loaded-*": shown only in some states
MAX_PROP_DEPTH = 6
NEEDLE_RATIO = 0.05  # second-longest side under 5 % of the longest: a spear is a one-voxel line at 32^3


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
        cache = root / "entries.json"  # the resolved list, rebuilt when this module or the zip changes
        cache_key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
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
