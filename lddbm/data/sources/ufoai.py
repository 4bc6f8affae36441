"""UFO: Alien Invasion (Debian ``ufoai-data``): about 310 map objects, weapons, vehicles, aircraft and plants.

The models are Quake II MD2 files inside ``base/0models.pk3`` (a zip). trimesh reads no MD2 and no
maintained Python reader exists, so this module carries a small one (``read_md2``: the first key
frame, its skin from the header, texture coordinates split per corner). One model, the Abrams tank,
is an OBJ. The pk3's ``models/`` folders read here are unzipped once under ``WORK/ufoai-models``.

Chosen from the paths (``MODEL_RULES``; first match wins; what no rule names is left out):
furniture, bathroom and kitchen things, street furniture, vehicles, trucks, boats, aircraft, weapons,
plants and trees, statues, barrels and crates. Left out: parts (crash debris, doors, clips and
ammunition, trunks and crowns drawn as separate models — those trees are listed as their parts
together, ``COMPOSITES``), level-of-detail copies, the geoscape's miniatures, soldiers, aliens and
civilians (a body and a head in separate files). Copies (content hash; same vertex count + bounding
box) keep the first path in sorted order.

MD2 is Quake's frame: z up, the model's front along +x. ``QUAKE_TO_DATASET`` turns that to y up,
front +z. Weapons and aircraft do face +x; the map objects of UFO:AI often do not, so ``YAW`` turns
those (degrees about y, counter-clockwise seen from above). Checked by side renders of every vehicle,
aircraft, bed and animal and 3/4 renders of the furniture; the boat, the hovercraft and the wrecks
have no clear front and keep Quake's +x.

Licences come from the package's debian/copyright, per file (GPL-2+ unless a stanza names the file).
"""

from __future__ import annotations

import hashlib
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ModelEntry, Source, register

PK3 = Path("usr/share/games/ufoai/base/0models.pk3")
FOLDERS = ("models/objects/", "models/weapons/", "models/aircraft/", "models/animals/")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tga")

# Quake (x front, y left, z up) -> data set (x: the model's left, y up, z front); row-major, p' = R p
QUAKE_TO_DATASET = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0)

# skipped before MODEL_RULES (a COMPOSITES key is kept all the same)
SKIP = re.compile("|".join((
    # parts: crash debris, craft equipment, doors, wheels, crowns, loads
    r"crash|/part\d|/debris|/doors|/spike|/engine|/front\d|/back\d|disassembled|/hull|_hull|_engines|_engine_",
    r"ufo_fighter/|ufo_scout/|_upper|_wings|_body_|_wing_|/roof\d|craft_(item|arm|weapon)|herakles|firebird_",
    r"ufo_supply/(container|hull)|container_door|/cable|powerline/line|construct/crane/|objects/crane/",
    r"watertower\d|tanker_b|car2b|/4x4_t\.|/car1t\.|/van1t\.|excavator_t|airplane_w|boat/engine",
    r"chestnut|gumtree|palm2/|treed/|pino\d_leaves|water_lily/|palm_v\d/palm\d|palm_a/palm2|palm2_1",
    r"trucks/truck/(container|trees|trailer|cement)|truck2/(fuel|load)",
    r"forktruck/(barrel|box|palette|palsingle|pipes|rounds|forktruck\d)",
    # ammunition, level-of-detail and state copies, map-making helpers, scraps
    r"_clip|_ammo|ammo_|/rocket|_hi\.|_low\.|_mid\.|_gear\.|_flying\.|_closed\.|_folded\.|hover_up",
    r"drop_raptor_(landed|low)|/gravel|/rail/|/airpipe|/spiral|small_pipes|/scrap\d|rusty_bar|woodern_plank",
    r"/oil_can|/fishing|/turret2/|/samlauncher/rocket|/icon_",
    # modelled lying on their side
    r"ufo_gunboat|aircraft/fighter/|/hheli/",
)))

# (regular expression on the path under models/, class); first match wins, unmatched paths are skipped
MODEL_RULES: tuple[tuple[str, str], ...] = (
    (r"^weapons/(binocs|irgoggles|medikit|flare)", "tool"),
    (r"^weapons/", "weapon"),
    (r"^aircraft/inter_|^aircraft/drop_|^aircraft/ufo_|^objects/aircraft/(airplane|fighter)", "airplane"),
    (r"^objects/aircraft/.*heli", "helicopter"),
    (r"^animals/", "animal"),
    (r"^objects/cars/trailer", "cart"),
    (r"^objects/cars/|^objects/rubbish/car\d", "car"),
    (r"^objects/tanker/tanker_a", "watercraft"),
    (r"^objects/(trucks|lorry|vehicles/forktruck|construct/(excavator|mixer)|vehicles/tractor)", "truck"),
    (r"^objects/trucks/watertruck", "truck"),
    (r"^objects/(abrams|samlauncher|laserturret|base/turret)", "weapon"),
    (r"^objects/vehicles/bicycle", "bicycle"),
    (r"^objects/vehicles/motorbike", "motorbike"),
    (r"^objects/(boat|hovercraft)", "watercraft"),
    (r"^objects/railcar", "train"),
    (r"^objects/(pushcart|liftingcart|city/vendorcart)", "cart"),
    (r"chairs/|/stoel|parkbench|bench_|/seat", "chair"),
    (r"/(bed|campbed)/|japan/bed|japan/mat", "bed"),
    (r"/desk/|parktable|comptable|workbench", "table"),
    (r"/locker|switchboard|/console/console|/panel", "cabinet"),
    (r"desklamp|/lantern|city/light/|industrial/lamp", "lamp"),
    (r"bathroom/(toilet|wc|urinal)", "toilet"),
    (r"bathroom/sink", "sink"),
    (r"automat/|coffeemaker|water_dispenser|handdryer|heating/|radiator|/fan/|generator|industrial/cond|"
     r"/radar/|/cameras/|/fireext", "appliance"),
    (r"fireplace|/fountain|/watertower|/tent/|/arch/|city/oriental|/crane", "building"),
    (r"dishes/(cup|plate)", "container"),
    (r"dishes/(fork|knife)|pitchfork|/firehose", "tool"),
    (r"/(barrel|barrel_fuel|barrel_plastic|crate|container|gas_tank|gascylinder|oiltank|money|store)/|"
     r"garbagecan|/mailbox|waste/|rubbish/(barrel|bottle|box|container)|alien/(barrel|box|battery)", "container"),
    (r"trafficlight|trafficsign|emergencyexit", "sign"),
    (r"/fence/|rubbish/fence", "fence"),
    (r"tombstones|statues/|japan/buddha|/snowman|deerhead", "statue"),
    (r"skeleton/|buffalo_scull|/skull", "misc"),
    (r"japan/katana", "weapon"),
    (r"vegi/.*(palm|tree|fir|ficus|banana|tropic|pino|chestnut|trunk)", "tree"),
    (r"vegi/", "plant"),
    (r"^objects/(industrial|alien|base|construct|curtains|furniture|city|rubbish|sunprot|tire)", "misc"),
    (r"^objects/", "misc"),
)

# trees and plants drawn as separate parts that stand at one origin: listed as one entry
COMPOSITES: dict[str, tuple[str, ...]] = {
    "objects/vegi/chestnut/chestnut_stamm2.md2": ("objects/vegi/chestnut/chestnut_blaetter2.md2",),
    "objects/vegi/chestnut/chestnut_stamm3.md2": ("objects/vegi/chestnut/chestnut_blaetter3.md2",),
    "objects/vegi/palm2/trunk.md2": ("objects/vegi/palm2/leaf.md2",),
    "objects/vegi/treed/treed_trunk01.md2": ("objects/vegi/treed/treed_leaves01.md2",),
    "objects/vegi/gumtree/gum_tree_trunk_l1.md2": ("objects/vegi/gumtree/gum_tree_branch.md2",),
    "objects/vegi/pino/pino2.md2": ("objects/vegi/pino/pino2_leaves.md2",),
    "objects/vegi/pino/pino3.md2": ("objects/vegi/pino/pino3_leaves.md2",),
    "objects/vegi/palm_a/palm1.md2": ("objects/vegi/palm_a/palm2.md2",),
    "objects/vegi/palm1/palm1.md2": ("objects/vegi/palm1/palm2_1.md2",),
    "objects/cars/4x4/4x4.md2": ("objects/cars/4x4/4x4_t.md2",),  # body + tyres
    "objects/cars/golf/car1.md2": ("objects/cars/golf/car1t.md2",),
    "objects/cars/van/van1.md2": ("objects/cars/van/van1t.md2",),
    "objects/construct/excavator/excavator_b.md2": ("objects/construct/excavator/excavator_t.md2",),
    "objects/aircraft/airplane/airplane_b.md2": ("objects/aircraft/airplane/airplane_w.md2",),
    "objects/vegi/water_lily/lily_stem.md2": ("objects/vegi/water_lily/lily_leaf.md2",
                                              "objects/vegi/water_lily/lily_bloom.md2"),
}

# degrees about y (after QUAKE_TO_DATASET) for the models whose front is not Quake's +x
YAW: dict[str, float] = {
    **{f"objects/{path}.md2": -90.0 for path in (  # front along Quake's +y (the model's left)
        "cars/hummer/hummer", "cars/policecar/policecar", "cars/transporter/transporter", "cars/van/van1",
        "cars/van2/van2", "cars/van3/van", "trucks/truck/truck", "trucks/watertruck/watertruck", "tanker/tanker_a",
        "furniture/bed/bed", "furniture/bed/bed1", "furniture/campbed/campbed")},
    **{f"objects/{path}.md2": 90.0 for path in (  # front along Quake's -y
        "cars/4x4/4x4", "cars/buggy/buggy", "cars/jeep/jeep", "cars/landy/landy", "cars/puma/puma",
        "cars/golf/car1", "cars/trailer/boxtrailer", "vehicles/tractor/tractor", "vehicles/forktruck/forktruck")},
    **{path: 180.0 for path in (  # front along Quake's -x
        "animals/fish2/fish.md2", "objects/aircraft/airplane/airplane_b.md2",
        "objects/aircraft/heli_military/helicopter.md2", "objects/construct/excavator/excavator_b.md2",
        "objects/furniture/deerhead/deerhead.md2")},
}

# the Abrams OBJ: y up already (3ds Max export); its own turn
OBJ_ROTATION: dict[str, tuple[float, ...]] = {"objects/abrams/abrams.obj": (-1, 0, 0, 0, 1, 0, 0, 0, -1)}


def model_category(path: str) -> str | None:
    """The class of a model from its path under models/, None when it is not listed (a part, a copy, a helper)."""
    if SKIP.search(path) and path not in COMPOSITES:
        return None
    for pattern, category in MODEL_RULES:
        if re.search(pattern, path):
            return category
    return None


# ---- MD2 ------------------------------------------------------------------------------------------


@dataclass
class MD2:
    vertices: np.ndarray  # (V, 3) first frame, Quake frame; one vertex per (position, texture coordinate)
    faces: np.ndarray  # (F, 3), counter-clockwise seen from outside
    uv: np.ndarray  # (V, 2), v up
    skins: list[str]
    frames: int


def read_md2(path: str | Path, frame: int = 0) -> MD2:
    """Frame ``frame`` of a Quake II MD2 model (ValueError if it is not one or is truncated).

    Layout (little endian i32 header): "IDP2", 8, skin width, skin height, frame size, counts of
    skins, vertices, texture coordinates, triangles, GL commands and frames, then the offsets of
    skins (64-byte names), texture coordinates (i16 s, t), triangles (i16 vertex[3], st[3]) and
    frames (f32 scale[3], translate[3], name[16], then u8 x, y, z, normal index per vertex).
    """
    data = Path(path).read_bytes()
    if len(data) < 68 or data[:4] != b"IDP2":
        raise ValueError("not an MD2 file")
    (version, skin_w, skin_h, frame_size, n_skins, n_xyz, n_st, n_tris, _, n_frames,
     o_skins, o_st, o_tris, o_frames, _, _) = struct.unpack_from("<16i", data, 4)
    if version != 8:
        raise ValueError(f"MD2 version {version}")
    if n_frames < 1 or n_tris < 1 or n_xyz < 1 or not 0 <= frame < n_frames:
        raise ValueError("MD2 without geometry")
    try:
        skins = [data[o_skins + 64 * i:o_skins + 64 * (i + 1)].split(b"\0", 1)[0].decode("latin-1")
                 for i in range(n_skins)]
        st = np.frombuffer(data, "<i2", n_st * 2, o_st).reshape(-1, 2).astype(np.float64)
        tris = np.frombuffer(data, "<i2", n_tris * 6, o_tris).reshape(-1, 6).astype(np.int64)
        start = o_frames + frame * frame_size
        scale = np.array(struct.unpack_from("<3f", data, start))
        translate = np.array(struct.unpack_from("<3f", data, start + 12))
        packed = np.frombuffer(data, np.uint8, n_xyz * 4, start + 40).reshape(-1, 4)[:, :3]
    except (ValueError, struct.error) as err:
        raise ValueError(f"truncated MD2 file ({err})") from err
    bad_st = n_st and (tris[:, 3:].max() >= n_st or tris[:, 3:].min() < 0)
    if tris[:, :3].max() >= n_xyz or tris[:, :3].min() < 0 or bad_st:
        raise ValueError("MD2 index out of range")
    positions = packed.astype(np.float64) * scale + translate
    if n_st == 0:
        st, tris[:, 3:] = np.zeros((1, 2)), 0
    corners = np.stack([tris[:, :3].ravel(), tris[:, 3:].ravel()], axis=1)
    unique, inverse = np.unique(corners, axis=0, return_inverse=True)
    uv = np.stack([st[unique[:, 1], 0] / max(skin_w, 1), 1 - st[unique[:, 1], 1] / max(skin_h, 1)], axis=1)
    faces = inverse.reshape(-1, 3)[:, ::-1]  # Quake winds front faces clockwise
    return MD2(positions[unique[:, 0]], np.ascontiguousarray(faces), uv, skins, n_frames)


def find_skin(model: Path, skins: list[str]) -> Path | None:
    """The texture of an MD2: its header's skin (".name" = beside the model), else an image named like the model."""
    folder = model.parent
    stems = [s[1:] if s.startswith(".") else Path(s).stem for s in skins if s] + [model.stem]
    for stem in stems:
        for suffix in IMAGE_SUFFIXES:
            candidate = folder / (stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def md2_mesh(path: Path):
    import trimesh
    from PIL import Image
    from trimesh.visual import TextureVisuals

    md2 = read_md2(path)
    visual = None
    skin = find_skin(path, md2.skins)
    if skin is not None:
        try:
            image = Image.open(skin)
            image.load()
            visual = TextureVisuals(uv=md2.uv, image=image.convert("RGBA"))
        except OSError:
            visual = None
    mesh = trimesh.Trimesh(md2.vertices, md2.faces, visual=visual, process=False)
    if visual is None:
        mesh.visual.vertex_colors = (160, 160, 160, 255)
    return mesh


# ---- licences -------------------------------------------------------------------------------------


def parse_copyright(text: str) -> tuple[dict[str, tuple[str, str]], tuple[str, str]]:
    """debian/copyright -> ({file path: (licence, copyright)}, (default licence, copyright)) for the
    stanzas that list files one by one, and the "Files: *" stanza."""
    per_file: dict[str, tuple[str, str]] = {}
    default = ("GPL-2+", "The UFO:AI Team")
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = None
        for line in stanza.splitlines():
            match = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if match and not line.startswith(" "):
                key = match.group(1).lower()
                fields[key] = [match.group(2).strip()] if match.group(2).strip() else []
            elif key and line.startswith(" "):
                fields[key].append(line.strip())
        if "files" not in fields or "license" not in fields:
            continue
        licence = fields["license"][0] if fields["license"] else ""
        holders = "; ".join(h for h in fields.get("copyright", []) if h and h != ".")
        files = " ".join(fields["files"]).split()
        if files == ["*"]:
            default = (licence, holders or default[1])
            continue
        for name in files:
            per_file[name] = (licence, holders)
    return per_file, default


# ---- listing --------------------------------------------------------------------------------------


def unzip_models(pk3: Path, target: Path) -> Path:
    """Unzip the listed folders' models and images from the pk3 once (a marker file makes it idempotent)."""
    marker = target / ".unzipped"
    if not marker.exists():
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(pk3) as archive:
            for member in archive.namelist():
                lower = member.lower()
                if member.startswith(FOLDERS) and lower.endswith((".md2", ".obj", *IMAGE_SUFFIXES)) \
                        and ".." not in Path(member).parts:
                    archive.extract(member, target)
        marker.touch()
    return target


def _fingerprint(path: Path) -> tuple:
    if path.suffix.lower() == ".md2":
        vertices = read_md2(path).vertices
    else:
        lines = path.read_text(errors="replace").splitlines()
        vertices = np.array([[float(x) for x in line.split()[1:4]] for line in lines if line.startswith("v ")])
    if len(vertices) == 0:
        return (0,)
    return (len(vertices), *np.round(vertices.min(0), 2), *np.round(vertices.max(0), 2))


def list_models(root: Path, copyright_text: str = "", package: str = "ufoai-data") -> list[ModelEntry]:
    """Entries for the models under ``root`` (holding ``models/``), deduplicated, with licences."""
    from ..debian import slug

    per_file, default = parse_copyright(copyright_text)
    seen_hash, seen_mesh, entries = set(), set(), []
    for path in sorted((root / "models").rglob("*")):
        if path.suffix.lower() not in (".md2", ".obj"):
            continue
        rel = path.relative_to(root).as_posix()[len("models/"):]
        if path.suffix.lower() == ".obj" and rel != "objects/abrams/abrams.obj":
            continue
        category = model_category(rel)
        if category is None:
            continue
        parts = COMPOSITES.get(rel, ())
        if any(not (root / "models" / p).is_file() for p in parts):
            continue
        digest = hashlib.sha1(b"".join((root / "models" / p).read_bytes() for p in (rel, *parts))).hexdigest()
        try:
            key = _fingerprint(path)
        except (ValueError, OSError):
            continue
        if digest in seen_hash or key in seen_mesh or key == (0,):
            continue
        seen_hash.add(digest)
        seen_mesh.add(key)
        licence, holders = per_file.get(f"base/models/{rel}", default)
        stem = Path(rel).with_suffix("").as_posix().removeprefix("objects/")
        if path.suffix.lower() == ".obj":
            rotation = list(OBJ_ROTATION.get(rel, (1, 0, 0, 0, 1, 0, 0, 0, 1)))
        else:
            rotation = _yawed(YAW.get(rel, 0.0))
        entries.append(ModelEntry(
            object_id=f"ufoai-{slug(stem)}", name=Path(rel).stem.replace("_", " "), category=category,
            source="ufoai", model=str(path), creator=holders or default[1], license=licence, package=package,
            rotation=rotation, extra={"parts": [str(root / "models" / p) for p in parts], "path": rel}))
    return entries


def _yawed(degrees: float) -> list[float]:
    """QUAKE_TO_DATASET followed by a turn of ``degrees`` about y."""
    a = np.radians(degrees)
    yaw = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return [float(round(x, 12)) for x in (yaw @ np.reshape(QUAKE_TO_DATASET, (3, 3))).ravel()]


@register
class UFOAI(Source):
    name = "ufoai"
    packages = ("ufoai-data",)
    credit = ("Map objects, vehicles, aircraft and weapons from UFO: Alien Invasion (Debian package `ufoai-data`), "
              "by the UFO:AI Team and the contributors named below, under GPL-2+ unless stated otherwise "
              "(CC-BY 3.0, CC-BY-SA 3.0, GPL-3+ or public domain for the files the package's copyright names).")

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        from ..debian import copyright_text, fetch_and_unpack

        unpacked = fetch_and_unpack(self.packages[0], work, source)
        pk3 = unpacked / PK3
        if not pk3.is_file():
            raise RuntimeError(f"{pk3} is missing from {self.packages[0]}")
        root = unzip_models(pk3, work / "ufoai-models")
        return list_models(root, copyright_text(unpacked, self.packages[0]), self.packages[0])

    def load(self, entry: ModelEntry):
        import trimesh

        from ..meshes import surfaces_only

        path = Path(entry.model)
        if path.suffix.lower() == ".obj":
            scene = trimesh.load(path, force="scene", process=False)
        else:
            scene = trimesh.Scene()
            for i, part in enumerate([path, *map(Path, entry.extra.get("parts", []))]):
                try:
                    scene.add_geometry(md2_mesh(part), geom_name=f"{i}-{part.stem}")
                except ValueError as err:
                    raise ValueError(f"{part.name}: {err}") from err
        return surfaces_only(scene)
