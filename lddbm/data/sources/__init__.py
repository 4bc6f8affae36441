"""Where the 3D objects come from: one module per Debian package family, one registry.

A source lists its models as ``ModelEntry`` records and loads one as a ``trimesh.Scene`` turned
to the data set's convention (**y up, the object's front facing +z**, any scale and position).
The builder (``lddbm.data.furniture``) does everything after that the same way for every source:
optional per-axis size, centring, fitting into [-0.5, 0.5]^3, solid voxels, renders.

Adding a source is one module with a ``Source`` subclass, registered with ``@register``; the
builder, the CLI's ``--sources`` and ATTRIBUTION.md read ``SOURCES``.

Rules every source keeps:
- only models under a free licence (read the package's debian/copyright; say which in ``licence``);
- one entry per distinct model: level-of-detail copies, recolours / liveries and the same mesh
  under two names are dropped (keep the most detailed one);
- ``category`` is a ShapeNet-like class in lower case, singular (``CATEGORIES`` lists the ones in
  use; add to it when a source brings a new class);
- ``object_id`` is ``<source name>-<stable slug>``, unique, and the same on every build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# ShapeNet-like classes the sources map their models to (lower case, singular).
CATEGORIES = (
    "airplane", "helicopter", "car", "truck", "bus", "train", "motorbike", "bicycle", "watercraft",
    "building", "tower", "bridge", "fence", "tree", "plant", "rock",
    "chair", "table", "sofa", "bed", "cabinet", "shelf", "lamp", "door", "window", "bathtub", "toilet",
    "sink", "appliance", "kitchen", "stairs", "person", "animal", "weapon", "container", "cart", "sign",
    "statue", "tool", "misc",
)


@dataclass
class ModelEntry:
    object_id: str  # "<source>-<slug>": file-system safe, unique, stable across builds
    name: str  # human readable
    category: str  # one of CATEGORIES
    source: str  # the registered Source's name
    model: str  # path of the model file (inside the unpacked package)
    creator: str = ""
    license: str = ""  # e.g. "GPL-2+", "CC-BY-SA-3.0"
    package: str = ""  # the Debian package it came from
    rotation: list[float] | None = None  # row-major 3x3 applied after load(), or None
    size: tuple[float, float, float] | None = None  # width (x), height (y), depth (z) to stretch to; None keeps proportions
    extra: dict = field(default_factory=dict)  # anything the source's load() needs (e.g. texture folders)


class Source:
    """A family of Debian packages that carry free 3D models."""

    name: str = ""  # registry key and object-id prefix, e.g. "flightgear"
    packages: tuple[str, ...] = ()  # the Debian packages it reads
    credit: str = ""  # one Markdown paragraph for ATTRIBUTION.md: who made the models, under what licence

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        """Fetch (``lddbm.data.debian.fetch_and_unpack``; from ``source`` when it holds the .debs),
        unpack under ``work`` and list the models, deduplicated, with categories and licences."""
        raise NotImplementedError

    def load(self, entry: ModelEntry):
        """The model as a trimesh.Scene, y up, front +z. Raise ValueError (with a one-line reason)
        for a model that cannot be used; the builder records it as a skip."""
        raise NotImplementedError


SOURCES: dict[str, Source] = {}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: add one instance of ``cls`` to SOURCES under ``cls.name``."""
    if not cls.name or cls.name in SOURCES:
        raise ValueError(f"A source needs a unique name (got {cls.name!r}).")
    SOURCES[cls.name] = cls()
    return cls


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"Unknown model source {name!r}; known: {', '.join(SOURCES)}.")
    return SOURCES[name]


# the sources (each module registers itself)
from . import sweethome3d  # noqa: E402,F401
from . import zeroad  # noqa: E402,F401
from . import megaglest, ufoai  # noqa: E402,F401
from . import flightgear, torcs  # noqa: E402,F401
