"""TORCS cars (Debian ``torcs-data``): the 17 cars' AC3D ``.acc`` bodies.

One entry per car (``cars/<car>/<car>.acc``; the ``-lodN`` copies are skipped), class ``car``.
Tracks are not objects, and the track-side props of ``data/objects`` are not worth having (flat
tree billboards, untextured boxes, a tachometer needle), so neither is read.

Licences (debian/copyright): the cars listed there (acura-nsx-sz, baja-bug, car1-ow1, car1-stock1/2,
car1-trb1/3, car2..8-trb1) are under the Free Art License, the rest of the package (155-DTM, buggy,
p406) under GPL-2+; each car's readme.txt names its authors, which become ``creator``.

Car bodies are drawn without wheels (TORCS adds them at run time), so ``load`` adds four
cylinders sized and placed from the car's XML (axle positions, wheel track, rim diameter, tyre
width and aspect ratio, ride height). TORCS models are y up with the nose at +x (checked on
renders); the entry's rotation turns the nose to +z.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from . import ModelEntry, Source, register

logger = logging.getLogger(__name__)

PACKAGE = "torcs-data"
ROOT = Path("usr/share/games/torcs")
NOSE_PLUS_X_TO_FRONT = [0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]  # row-major, p' = R p: +x -> +z

LOD = re.compile(r"-lod\d*$", re.I)


def car_models(paths: list[str]) -> list[str]:
    """The main model of each car among paths relative to the TORCS data root:
    'cars/<car>/<car>.acc' (the -lodN copies and other files are left out)."""
    out = []
    for path in paths:
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "cars" and parts[2].lower().endswith(".acc"):
            stem = parts[2][: -len(".acc")]
            if not LOD.search(stem) and stem == parts[1]:
                out.append(path)
    return sorted(out)


def free_art_cars(copyright_text: str) -> set[str]:
    """Car folders that debian/copyright puts under the Free Art License."""
    cars: set[str] = set()
    for block in re.split(r"\n\s*\n", copyright_text):
        if re.search(r"^License:\s*Free-Art-License\s*$", block, re.M):
            cars.update(re.findall(r"data/cars/models/([^/\s]+)/\*", block))
    return cars


def readme_creator(text: str) -> str:
    """Names from a car's readme.txt 'Copyright (c) YEAR Name (...)' lines, in order, deduplicated."""
    names: list[str] = []
    for line in text.splitlines():
        m = re.search(r"(?:copyright|\u00a9|\(c\))[^\w(]*(?:\(c\))?[^\w]*(?:\d{4}(?:\s*[,-]\s*\d{4})*)?\s*(.+)", line, re.I)
        if not m or not re.search(r"\d{4}", line):
            continue
        body = re.sub(r"\(.*?\)|<.*?>|\S+@\S+", "", m.group(1))
        for name in re.split(r",| and ", body):
            name = name.strip(" .-:")
            if 2 < len(name) < 40 and re.match(r"^[A-Z][\w'\u00c0-\u017f.-]*(\s+[A-Z\u00c0-\u017f][\w'\u00c0-\u017f.-]*)*$", name):
                if name not in names:
                    names.append(name)
    return ", ".join(names)


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # the older readmes


def wheel_specs(xml_text: str) -> list[dict]:
    """Four wheels from a TORCS car XML: x (along the car, +x forward), lateral (TORCS y, + left),
    radius and width in metres, ride height in metres; [] when the XML lacks them."""

    def section(name: str) -> str:
        m = re.search(r'<section name="%s">(.*?)</section>' % re.escape(name), xml_text, re.S)
        return m.group(1) if m else ""

    def num(text: str, name: str) -> float | None:
        m = re.search(r'<attnum name="%s"[^>]*val="([^"]+)"' % re.escape(name), text)
        try:
            return float(m.group(1)) if m else None
        except ValueError:
            return None

    wheels = []
    for axle, sides in (("Front Axle", ("Front Right Wheel", "Front Left Wheel")),
                        ("Rear Axle", ("Rear Right Wheel", "Rear Left Wheel"))):
        x = num(section(axle), "xpos")
        for side in sides:
            s = section(side)
            y, rim, width, ratio = num(s, "ypos"), num(s, "rim diameter"), num(s, "tire width"), num(s, "tire height-width ratio")
            if None in (x, y, rim, width, ratio):
                return []
            ride = num(s, "ride height") or 100.0
            wheels.append({"x": x, "lateral": y, "radius": rim * 0.0254 / 2 + width / 1000 * ratio,
                           "width": width / 1000, "ride": ride / 1000})
    return wheels


@register
class Torcs(Source):
    name = "torcs"
    packages = (PACKAGE,)
    credit = ("Cars from TORCS, The Open Racing Car Simulator (Debian package `torcs-data`), "
              "by Eric Espi\u00e9, Christophe Guionneau, Bernhard Wymann, Jean-Christophe Durieu, Andrea Alfieri, "
              "ViPeR, SpeedyChonChon, Olaf Sa\u00dfnick, Andrew Sumner, Wolf-Dieter Beelitz and the TORCS contributors; the cars "
              "named in debian/copyright under the Free Art License (https://artlibre.org), the rest under the "
              "GNU GPL version 2 or later.")

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        from ..debian import copyright_text, fetch_and_unpack, slug

        unpacked = fetch_and_unpack(PACKAGE, work, source)
        text = copyright_text(unpacked, PACKAGE)
        default_licence = "GPL-2+" if re.search(r"^Files:\s*\*\s*$.*?^License:\s*GPL-2\+", text, re.M | re.S) else ""
        if not default_licence:
            logger.warning("torcs-data: no GPL-2+ for 'Files: *' in debian/copyright; only Free Art License cars kept")
        fal = free_art_cars(text)
        root = unpacked / ROOT
        paths = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in (".ac", ".acc")]
        entries = []
        for rel in car_models(paths):
            car = rel.split("/")[1]
            licence = "Free-Art-License" if car in fal else default_licence
            if not licence:
                continue
            readme = root / "cars" / car / "readme.txt"
            creator = readme_creator(_text(readme)) if readme.is_file() else ""
            entries.append(ModelEntry(
                object_id=f"torcs-{slug(car)}", name=car, category="car", source=self.name,
                model=str(root / rel), creator=creator or "TORCS contributors", license=licence, package=PACKAGE,
                rotation=NOSE_PLUS_X_TO_FRONT, extra={"xml": str(root / "cars" / car / f"{car}.xml")},
            ))
        return entries

    def load(self, entry: ModelEntry):
        import numpy as np
        import trimesh

        from ..ac3d import load_ac

        scene = load_ac(entry.model, max_texture=512)
        if not scene.geometry:
            raise ValueError("no triangles")
        xml = Path(entry.extra.get("xml", ""))
        wheels = wheel_specs(xml.read_text(errors="replace")) if xml.is_file() else []
        if wheels:
            ground = scene.bounds[0][1] - max(w["ride"] for w in wheels)  # the body's floor is ride-height above ground
            for n, w in enumerate(wheels):
                tyre = trimesh.creation.cylinder(radius=w["radius"], height=w["width"], sections=24)  # axis z: across the car
                tyre.apply_translation([w["x"], ground + w["radius"], -w["lateral"]])  # TORCS y (left) is -z here
                tyre.visual.vertex_colors = np.tile([35, 35, 35, 255], (len(tyre.vertices), 1))  # pyrender: no face colours on smooth meshes
                scene.add_geometry(tyre, geom_name=f"wheel-{n}")
        return scene
