"""Sweet Home 3D furniture catalogues (Debian ``sweethome3d-furniture``): about 820 OBJ models.

The catalogues give each model a room category ("Living room", "Kitchen", …) and a name; the
ShapeNet-like class comes from the name (``CLASS_RULES``, first match wins), the room category is
kept in ``extra["room"]``. Object ids are ``<catalogue>-<entry id>`` without a source prefix: they
predate the other sources and the committed split names them.

The default catalogue of the ``sweethome3d`` application package is deliberately not read: it is
kept aside for judging.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import ModelEntry, Source, register

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


@register
class SweetHome3D(Source):
    name = "sweethome3d"
    packages = ("sweethome3d-furniture",)
    credit = ("3D models from the Sweet Home 3D furniture catalogues (Debian package `sweethome3d-furniture`), "
              "by the creators named below, under the licence each catalogue states (CC-BY 3.0 or CC0).")

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        from ..debian import fetch_debian_package
        from ..furniture import find_catalogs, parse_catalog

        src = source if source is not None else fetch_debian_package(self.packages[0], work)
        entries: list[ModelEntry] = []
        for sh3f in find_catalogs(src, work):
            entries += parse_catalog(sh3f, work / "catalogs")
        return entries

    def load(self, entry: ModelEntry):
        import trimesh

        return trimesh.load(entry.model, force="scene", process=False)
