"""MegaGlest (Debian ``megaglest-data``): about 300 models of units, buildings, animals and map objects.

The models are in Glest's own binary format, G3D. No maintained Python reader exists, so this
module carries a small one (``read_g3d``, format version 4 — every unit and tileset model in the
package; the three version-2/3 models are menu decorations, not read). A G3D mesh is a stack of
key frames; the first frame of the unit's idle ("stop" skill) animation is used.

What is listed:
- every unit of every faction of every tech tree (``techs/*/factions/*/units/<unit>/<unit>.xml``):
  soldiers, workers, animals, monsters, siege engines, flying machines and buildings; the class
  comes from ``UNIT_CATEGORIES`` (riders count as the animal they ride: the silhouette is a horse,
  a camel or a dragon). Construction, destruction and other animation files are not read;
- the map objects of the tilesets (``tilesets/*/models/*.g3d``) and the resources' models
  (trees, plants, rocks, statues, ruins; ``TILESET_RULES`` on the file name; ground decals,
  water and body parts are skipped).

Many factions share models (symbolic links and copies; the same mesh with another texture): the
first of the identical files (content hash), and then of the same mesh (vertex count + bounding box),
is kept — units before map objects, the original Glest factions (tech, magic) first.

The models are y up and face +z already (checked by rendering); team-colour meshes are shown with
a neutral grey where the game would paint the player's colour.
"""

from __future__ import annotations

import hashlib
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ModelEntry, Source, register

G3D_VERSION = 4
LICENSE = "CC-BY-SA-3.0"
TEAM_GREY = 150  # the colour team-coloured parts get (0-255)

# unit (directory) name -> class; a unit missing here is listed as "misc"
UNIT_CATEGORIES: dict[str, str] = {
    # people: soldiers, workers, priests, mages, heroes
    **{name: "person" for name in (
        "anubis_warrior", "mummy", "priest", "slave", "spearman", "spearthrower", "archer", "axe_indian",
        "axe_thrower", "fire_archer", "shaman", "stickfighter", "worker", "archmage", "battlemage", "initiate",
        "summoner", "ghost_armor", "battleaxe", "battleaxe_berserk",
        "cudgel_lady", "flying_valkyrie", "spearman_berserk", "swordman", "swordman_berserk", "thor",
        "thrall", "valkyrie", "fakir", "genie", "magician", "princess", "axe_man", "general", "gladiator",
        "guard", "swordsman", "tribune", "wartime_mechanic", "technician", "daemon", "behemoth", "wicker_behemoth")},
    # animals, monsters and riders (the mount dominates the shape)
    **{name: "animal" for name in (
        "chicken", "ibis", "scarab", "snake", "bull", "cow", "horseman", "thunderbird", "dragon", "dragon_rider",
        "evil_dragon", "wild_sow", "elephant", "sheep", "cavalry", "pig", "golem", "fire_golem", "power_golem")},
    # buildings
    **{name: "building" for name in (
        "air_pyramid", "desert_camp", "farm", "pyramid", "temple", "big_tent", "horse_farm", "main_teepee",
        "round_tent", "tent", "library", "summoner_guild", "energy_source", "blacksmith", "bone_tent", "castle",
        "house", "mead_bar", "valhalla", "elephant_cage", "palace", "blacksmith_shop", "forum",
        "gladiator_school", "military_camp", "training_camp", "aerodrome", "barracks", "technodrome")},
    **{name: "tower" for name in (
        "archmage_tower", "mage_tower", "tower_of_souls", "minaret", "guard_tower", "defense_tower")},
    **{name: "statue" for name in ("obelisk", "sphinx", "totem", "thor_totem", "eagle_pillar")},
    **{name: "weapon" for name in ("catapult", "ballista", "battering_ram", "crossbow")},  # siege engines
    **{name: "airplane" for name in ("air_ballista", "airship", "ornithopter")},
    "mistletoe_tree": "tree",
    "reed": "plant",
    "beehive": "container",
    "snake_basket": "container",
    "campfire": "misc",
    "flying_carpet": "misc",
    "battle_machine": "misc",
    "turtle_formation": "misc",  # a box of shields
}

# (regular expression on "<tileset>/<file stem>" if it has a "/", else on the stem; class or None to
# skip); first match wins. Skipped: ground decals, water, ice floes, scattered bones and body parts, and
# the same birch with other ground cover.
TILESET_RULES: tuple[tuple[str, str | None], ...] = (
    (r"/none$|grass|water|bodypart|/bone|skullbone|/burned|/hell\d|/br\d|hanged|impaled|bushstone"
     r"|winter_forest/riverside|birke4_(flower|mush)", None),
    (r"statue|obelisk|totem|calendar|birdbath|/grab$|cross", "statue"),
    (r"ruin", "misc"),  # fallen logs and pillars
    (r"scrub_land/tree_2$", "plant"),  # an opuntia
    (r"sarg", "container"),
    (r"stone|rock|vulcano", "rock"),
    (r"tree|baum|birke|tanne|pine|fir\d*$|palm|willow|cypress|mallorn|phoenix|stump", "tree"),
    (r"fern|farn|bush|busch|cact|kaktus|nettle|flower|reed|papyrus|mushroom|garden|riverside|atheleas", "plant"),
)

FACTION_CREDITS: dict[str, str] = {
    "tech": "The Glest Team (modified by the MegaGlest Team)",
    "magic": "The Glest Team (modified by the MegaGlest Team)",
    "indian": "Titus Tscharntke and Philipp Tscharntke (with Glest models)",
    "norsemen": "Titus Tscharntke, Raphael Schröder and Philipp Tscharntke (with Glest models)",
    "egypt": "Titus Tscharntke",
    "persian": "Titus Tscharntke and Philipp Tscharntke (with Glest models)",
    "romans": "Jacob Vejvoda",
}
FACTION_ORDER = ("tech", "magic", "indian", "norsemen", "egypt", "persian", "romans")  # originals first
TILESET_CREDITS: dict[str, str] = {
    "jungle": "Titus Tscharntke and Philipp Tscharntke", "evergreen": "Titus Tscharntke",
    "autumn": "Titus Tscharntke", "desert2": "Idanwin and Titus Tscharntke", "winter": "Titus Tscharntke",
    "hell": "Titus Tscharntke", "mediterran": "Titus Tscharntke", "scrub_land": "MadElf and Titus Tscharntke",
    "spring": "Philipp Tscharntke", "meadow": "Trappin and MadElf", "fernland": "Titus Tscharntke",
    "pine_peat": "Trappin, Titus Tscharntke and wciow", "karningul": "Trappin, Omega and GameBoy",
}
DEFAULT_CREDIT = "The Glest Team and the MegaGlest Team"


# ---- G3D ------------------------------------------------------------------------------------------


@dataclass
class G3DMesh:
    name: str
    vertices: np.ndarray  # (V, 3) float, first key frame
    faces: np.ndarray  # (F, 3) int
    uv: np.ndarray | None  # (V, 2) or None
    texture: str  # diffuse texture file name ('' if none)
    diffuse: tuple[float, float, float]
    opacity: float
    team_colour: bool  # the texture's alpha marks where the player's colour shows
    two_sided: bool


def read_g3d(path: str | Path) -> list[G3DMesh]:
    """The meshes of a version-4 G3D file (first key frame). ValueError for anything else.

    Layout (little endian): "G3D", version u8, mesh count u16, model type u8; per mesh: name[64],
    frame count, vertex count, index count (u32), diffuse rgb, specular rgb, specular power, opacity
    (f32), properties, texture bit mask (u32), a 64-byte name per texture bit set, then vertices
    (frames x V x 3 f32), normals (same), texture coordinates (V x 2 f32, only with textures) and
    indices (u32).
    """
    data = Path(path).read_bytes()
    if data[:3] != b"G3D":
        raise ValueError("not a G3D file")
    if len(data) < 7 or data[3] != G3D_VERSION:
        raise ValueError(f"G3D version {data[3] if len(data) > 3 else '?'} (only {G3D_VERSION} is read)")
    try:
        mesh_count, _ = struct.unpack_from("<HB", data, 4)
        offset, meshes = 7, []
        for _ in range(mesh_count):
            name = _cstring(data[offset:offset + 64])
            frames, nv, ni = struct.unpack_from("<3I", data, offset + 64)
            values = struct.unpack_from("<3f3fff2I", data, offset + 76)
            diffuse, opacity, properties, texture_bits = values[0:3], values[7], values[8], values[9]
            offset += 76 + 40
            textures = {}  # texture bit (0 = diffuse) -> file name
            for bit in range(8):
                if texture_bits & (1 << bit):
                    textures[bit] = _cstring(data[offset:offset + 64])
                    offset += 64
            if frames == 0 or ni % 3:
                raise ValueError(f"mesh {name!r}: {frames} frames, {ni} indices")
            vertices = np.frombuffer(data, "<f4", nv * 3, offset).reshape(nv, 3).astype(np.float64)
            offset += 2 * frames * nv * 12  # all frames' vertices, then normals
            uv = None
            if texture_bits:
                uv = np.frombuffer(data, "<f4", nv * 2, offset).reshape(nv, 2).astype(np.float64)
                offset += nv * 8
            faces = np.frombuffer(data, "<u4", ni, offset).reshape(-1, 3).astype(np.int64)
            offset += ni * 4
            if len(faces) and faces.max() >= nv:
                raise ValueError(f"mesh {name!r}: index out of range")
            meshes.append(G3DMesh(name, vertices, faces, uv, textures.get(0, ""), tuple(diffuse),
                                  float(opacity), bool(properties & 1), bool(properties & 2)))
    except struct.error as err:
        raise ValueError(f"truncated G3D file ({err})") from err
    if offset > len(data):
        raise ValueError("truncated G3D file")
    return meshes


def _cstring(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _find_texture(folder: Path, name: str) -> Path | None:
    if not name:
        return None
    path = folder / name
    if path.is_file():
        return path
    wanted = Path(name).name.lower()
    for candidate in folder.iterdir() if folder.is_dir() else ():
        if candidate.name.lower() == wanted:
            return candidate
    return None


def g3d_scene(path: str | Path):
    """The G3D model as a trimesh.Scene: textured where the texture is there, else its diffuse colour."""
    import trimesh
    from PIL import Image
    from trimesh.visual import TextureVisuals

    path = Path(path)
    scene = trimesh.Scene()
    for i, mesh in enumerate(read_g3d(path)):
        if len(mesh.faces) == 0:
            continue
        faces = mesh.faces
        if mesh.two_sided:  # leaves and banners: add the back faces so both sides render
            faces = np.concatenate([faces, faces[:, ::-1]])
        visual = None
        texture = _find_texture(path.parent, mesh.texture) if mesh.uv is not None else None
        if texture is not None:
            try:
                image = Image.open(texture)
                image.load()
            except OSError:
                image = None
            if image is not None:
                image = _team_coloured(image) if mesh.team_colour else image.convert("RGBA")
                visual = TextureVisuals(uv=mesh.uv.copy(), image=image)
        geometry = trimesh.Trimesh(mesh.vertices, faces, visual=visual, process=False)
        if visual is None:
            rgba = np.append(np.clip(mesh.diffuse, 0, 1), np.clip(mesh.opacity, 0, 1))
            geometry.visual.vertex_colors = np.round(rgba * 255).astype(np.uint8)
        scene.add_geometry(geometry, geom_name=f"{i}-{mesh.name or 'mesh'}")
    return scene


def _team_coloured(image):
    """RGB where the texture's alpha lets the player's colour through, painted TEAM_GREY."""
    from PIL import Image

    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3:] / 255
    rgb = rgba[..., :3] * alpha + TEAM_GREY * (1 - alpha)
    return Image.fromarray(np.round(rgb).astype(np.uint8), "RGB")


# ---- listing ----------------------------------------------------------------------------------------


def stop_animation(unit_xml: Path) -> str | None:
    """The model path (relative to the unit folder) of the unit's idle ("stop") skill, else its first animation."""
    root = ET.parse(unit_xml).getroot()
    first = None
    for skill in root.iter("skill"):
        kind = skill.find("type")
        animation = skill.find("animation")
        if animation is None or not animation.get("path"):
            continue
        first = first or animation.get("path")
        if kind is not None and kind.get("value") == "stop":
            return animation.get("path")
    return first


def tileset_category(name: str) -> str | None:
    """The class of a tileset model from "<tileset>/<file stem>", None for what is not an object (decals, water)."""
    lower = name.lower()
    stem = lower.rsplit("/", 1)[-1]
    for pattern, category in TILESET_RULES:  # a pattern without "/" looks at the file stem only
        if re.search(pattern, lower if "/" in pattern else stem):
            return category
    return "misc"


def fingerprint(path: Path) -> tuple:
    """(vertex count, bounding box to 1e-3): the same mesh under another name or texture."""
    meshes = read_g3d(path)
    vertices = np.concatenate([m.vertices for m in meshes]) if meshes else np.zeros((0, 3))
    if len(vertices) == 0:
        return (0,)
    return (len(vertices), *np.round(vertices.min(0), 3), *np.round(vertices.max(0), 3))


def _flat(path: Path, ratio: float = 0.1) -> bool:
    """A ground decal: height under ``ratio`` of the width and depth (or unreadable: dedupe drops those)."""
    try:
        vertices = np.concatenate([m.vertices for m in read_g3d(path)])
    except ValueError:
        return False
    extent = vertices.max(0) - vertices.min(0)
    return bool(extent[1] < ratio * max(extent[0], extent[2]))


def dedupe(entries: list[ModelEntry]) -> list[ModelEntry]:
    """Drop later entries whose file is byte-identical to, or has the same mesh as, an earlier one;
    and entries whose file cannot be read (ValueError from read_g3d)."""
    seen_hash, seen_mesh, kept = set(), set(), []
    for entry in entries:
        path = Path(entry.model)
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest in seen_hash:
            continue
        seen_hash.add(digest)
        try:
            key = fingerprint(path)
        except ValueError:
            continue
        if key in seen_mesh or key == (0,):
            continue
        seen_mesh.add(key)
        kept.append(entry)
    return kept


def list_models(base: Path, package: str = "megaglest-data") -> list[ModelEntry]:
    """Entries for the units and map objects under an unpacked ``usr/share/games/megaglest``, deduplicated."""
    from ..debian import slug

    def faction_rank(xml: Path) -> tuple:
        faction = xml.parts[-4]
        rank = FACTION_ORDER.index(faction) if faction in FACTION_ORDER else len(FACTION_ORDER)
        return (rank, str(xml))

    units = [x for x in base.glob("techs/*/factions/*/units/*/*.xml") if x.stem == x.parent.name]
    entries: list[ModelEntry] = []
    for xml in sorted(units, key=faction_rank):
        unit, faction = xml.parent.name, xml.parts[-4]
        try:
            animation = stop_animation(xml)
        except ET.ParseError:
            continue
        model = (xml.parent / animation).resolve() if animation else None
        if model is None or not model.is_file():
            continue
        entries.append(ModelEntry(
            object_id=f"megaglest-{slug(faction)}-{slug(unit)}", name=unit.replace("_", " "),
            category=UNIT_CATEGORIES.get(unit, "misc"), source="megaglest", model=str(model),
            creator=FACTION_CREDITS.get(faction, DEFAULT_CREDIT), license=LICENSE, package=package,
            extra={"faction": faction, "kind": "unit"}))
    objects = sorted(base.glob("tilesets/*/models/*.g3d")) + sorted(base.glob("techs/*/resources/*/models/*.g3d"))
    for path in objects:
        group = path.parts[-3]  # the tileset, or the resource
        category = "rock" if "resources" in path.parts else tileset_category(f"{group}/{path.stem}")
        if category is None or _flat(path):
            continue
        entries.append(ModelEntry(
            object_id=f"megaglest-{slug(group)}-{slug(path.stem)}", name=path.stem.replace("_", " "),
            category=category, source="megaglest", model=str(path.resolve()),
            creator=TILESET_CREDITS.get(group, DEFAULT_CREDIT), license=LICENSE, package=package,
            extra={"tileset": group, "kind": "object"}))
    unique_ids: dict[str, ModelEntry] = {}
    for entry in dedupe(entries):
        unique_ids.setdefault(entry.object_id, entry)
    return list(unique_ids.values())


@register
class MegaGlest(Source):
    name = "megaglest"
    packages = ("megaglest-data",)
    credit = ("Units, buildings and map objects from MegaGlest (Debian package `megaglest-data`), by the Glest Team, "
              "the MegaGlest Team, Titus and Philipp Tscharntke, Raphael Schröder, Jacob Vejvoda, Idanwin, MadElf, "
              "Trappin and others (per model below), under CC-BY-SA 3.0.")

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        from ..debian import fetch_and_unpack

        root = fetch_and_unpack(self.packages[0], work, source)
        return list_models(root / "usr" / "share" / "games" / "megaglest", self.packages[0])

    def load(self, entry: ModelEntry):
        from ..meshes import surfaces_only

        return surfaces_only(g3d_scene(entry.model))
