"""Sweet Home 3D furniture catalogues (Debian ``sweethome3d-furniture``): about 820 OBJ models.

The catalogues give each model a room category ("Living room", "Kitchen", …) and a name; the
ShapeNet-like class comes from the name (``CLASS_RULES``, first match wins), the room category is
kept in ``extra["room"]``. Object ids are ``<catalogue>-<entry id>`` without a source prefix: they
predate the other sources and the committed split names them.

The default catalogue of the ``sweethome3d`` application package is deliberately not read: it is
kept aside for judging.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import zipfile
from pathlib import Path

from ..debian import unpack_deb
from . import ModelEntry, Source, register

logger = logging.getLogger(__name__)

# (regular expression on the lower-case name, class); first match wins, else "misc"
CLASS_RULES: tuple[tuple[str, str], ...] = (
    (r"bath\b|bathtub|jacuzzi|swimming pool|shower", "bathtub"),
    (r"toilet|urinal|bidet|potty|lavatory", "toilet"),
    (r"sink|basin|vanity", "sink"),
    (r"window|shutter|blind", "window"),
    (r"door", "door"),
    (r"stair|escalator|ladder", "stairs"),
    (r"\bbed\b|bunk|crib|futon|mattress|mezzanine|day bed|hammock|tatami|sleeping bag", "bed"),
    (r"sofa|couch|puff|ottoman|lounge", "sofa"),
    (r"chair|stool|bench|seat", "chair"),
    (r"table|desk|island|workbench", "table"),
    (r"bookcase|shelves|shelf|rack|stand\b|hanger", "shelf"),
    (r"cabinet|cupboard|wardrobe|dresser|drawers|chest\b|locker|safe|trunck|television cabinet|tv stand|sideboard", "cabinet"),
    (r"lamp|light|chandelier|lantern|lamppost|spotlight|fluorescent|candle|flashlight", "lamp"),
    (r"fridge|refrigerator|freezer|oven|cooker|cooktop|stove|microwave|washing|dryer|dishwasher|toaster|"
     r"blender|mixer|kettle|coffee (machine|maker|brewer)|hood|boiler|heater|furnace|radiator|air conditioning|"
     r"fan\b|water cooler|deep fryer|grinder|sandwich maker|squeezer", "appliance"),
    (r"\btv\b|screen|laptop|computer|imac|ibook|printer|keyboard|phone|tablet|playstation|speaker|stereo|radio|"
     r"dvd|projector|camera|cctv|mp3|headphones|joystick|intercom|guitar|piano|xylophone", "appliance"),
    (r"tree|pine|palm|maple|beech|poplar|cypress|acacia|bamboo|bonsai|ficus|sycamore|blossom", "tree"),
    (r"plant|flower|bush|hedge|cactus|orchid|tulip|lily|yucca|spathiphyllum|succulent", "plant"),
    (r"\bcar\b|sedan|suv|van\b|chevrolet|ford|peugeot|renault|seat leon|beetle|smart car|car model", "car"),
    (r"truck|fork lift", "truck"),
    (r"\bbus\b", "bus"),
    (r"motorbike|scooter|yamaha", "motorbike"),
    (r"bicycle|bike|tricycle", "bicycle"),
    (r"boat", "watercraft"),
    (r"plane", "airplane"),
    (r"\brails?\b|toy train", "train"),
    (r"boy|girl|male|female|mannequin|man\b|woman\b", "person"),
    (r"dog|cat\b|horse|deer|rabbit|chicken|bulldog", "animal"),
    (r"box|crate|basket|barrel|bin\b|trash|dustbin|container|suitcase|briefcase|backpack|handbag|bag\b|jar|"
     r"bottle|vase|pot\b|bowl|cup\b|glass\b|mug", "container"),
    (r"fence|railing|barrier", "fence"),
    (r"sign|arrow|parking|crossing", "sign"),
    (r"hammer|saw\b|drill|screwdriver|pliers|shovel|broom|brush|tool|mower|wheelbarrow|scissors|knife|fork\b|spoon", "tool"),
    (r"hut|house|tent|chimney|fireplace|fountain|column", "building"),
    (r"\brocks?\b|wood logs", "rock"),
)


def classify(name: str) -> str:
    """The ShapeNet-like class of a catalogue entry from its name ("misc" when no rule matches)."""
    lower = name.lower()
    for pattern, category in CLASS_RULES:
        if re.search(pattern, lower):
            return category
    return "misc"


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


@register
class SweetHome3D(Source):
    name = "sweethome3d"
    packages = ("sweethome3d-furniture",)
    credit = ("3D models from the Sweet Home 3D furniture catalogues (Debian package `sweethome3d-furniture`), "
              "by the creators named below, under the licence each catalogue states (CC-BY 3.0 or CC0).")

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        from ..debian import fetch_debian_package

        src = source if source is not None else fetch_debian_package(self.packages[0], work)
        entries: list[ModelEntry] = []
        for sh3f in find_catalogs(src, work):
            entries += parse_catalog(sh3f, work / "catalogs")
        return entries

    def load(self, entry: ModelEntry):
        import trimesh

        return trimesh.load(entry.model, force="scene", process=False)
