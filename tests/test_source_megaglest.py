"""The MegaGlest source: G3D reader, categories, listing and de-duplication, on tiny synthetic files."""

import struct

import numpy as np
import pytest
from PIL import Image

from lddbm.data.sources import SOURCES, megaglest
from lddbm.data.sources.megaglest import (dedupe, g3d_scene, list_models, read_g3d, stop_animation,
                                          tileset_category)

TRIANGLE = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0.5]], dtype=np.float32)


def g3d_bytes(frames=(TRIANGLE,), texture="tex.png", properties=0, diffuse=(0.2, 0.4, 0.6)):
    """A version-4 G3D file with one triangle mesh (``frames``: one (3, 3) array per key frame)."""
    nv = len(frames[0])
    out = b"G3D" + bytes([4]) + struct.pack("<HB", 1, 0)
    out += b"tri".ljust(64, b"\0") + struct.pack("<3I", len(frames), nv, 3)
    out += struct.pack("<3f3fff2I", *diffuse, 0, 0, 0, 0, 1.0, properties, 1 if texture else 0)
    if texture:
        out += texture.encode().ljust(64, b"\0")
    out += b"".join(np.asarray(f, "<f4").tobytes() for f in frames)  # vertices per frame
    out += np.zeros((len(frames), nv, 3), "<f4").tobytes()  # normals
    if texture:
        out += np.array([[0, 0], [1, 0], [0, 1]], "<f4").tobytes()
    return out + np.array([0, 1, 2], "<u4").tobytes()


def test_read_g3d_takes_the_first_frame(tmp_path):
    path = tmp_path / "m.g3d"
    path.write_bytes(g3d_bytes(frames=(TRIANGLE, TRIANGLE + 5), properties=3))
    (mesh,) = read_g3d(path)
    assert np.allclose(mesh.vertices, TRIANGLE)
    assert mesh.faces.tolist() == [[0, 1, 2]]
    assert mesh.uv.shape == (3, 2) and mesh.texture == "tex.png"
    assert mesh.team_colour and mesh.two_sided


@pytest.mark.parametrize("data, reason", [
    (b"XXXX", "not a G3D"), (b"G3D" + bytes([3]) + b"\0" * 10, "version 3"), (g3d_bytes()[:100], "truncated"),
])
def test_read_g3d_rejects_bad_files(tmp_path, data, reason):
    path = tmp_path / "bad.g3d"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=reason):
        read_g3d(path)


def test_scene_uses_texture_team_grey_and_two_sided_faces(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red where opaque, alpha 0 = team colour everywhere
    Image.fromarray(rgba, "RGBA").save(tmp_path / "tex.png")
    path = tmp_path / "m.g3d"
    path.write_bytes(g3d_bytes(properties=3))
    (geometry,) = g3d_scene(path).geometry.values()
    assert len(geometry.faces) == 2  # the back face was added
    image = np.asarray(geometry.visual.material.image)
    assert (image[..., :3] == megaglest.TEAM_GREY).all()
    # no texture file: the diffuse colour
    (tmp_path / "tex.png").unlink()
    (geometry,) = g3d_scene(path).geometry.values()
    assert tuple(geometry.visual.vertex_colors[0][:3]) == (51, 102, 153)


def test_stop_animation_and_tileset_rules(tmp_path):
    xml = tmp_path / "u.xml"
    xml.write_text("<unit><skills><skill><type value='move'/><animation path='models/walk.g3d'/></skill>"
                   "<skill><type value='stop'/><animation path='models/stand.g3d'/></skill></skills></unit>")
    assert stop_animation(xml) == "models/stand.g3d"
    assert tileset_category("forest/tree3") == "tree"
    assert tileset_category("pine_rock/pine2") == "tree"  # the tileset's name does not make it a rock
    assert tileset_category("autumn/big_stone2") == "rock"
    assert tileset_category("meadow/broken_statue") == "statue"
    assert tileset_category("forest/grass") is None and tileset_category("winter_forest/riverside_object") is None


def test_list_models_dedupes_and_categorises(tmp_path):
    base = tmp_path / "megaglest"
    unit_xml = "<unit><skills><skill><type value='stop'/><animation path='models/{}'/></skill></skills></unit>"
    for faction, unit, model, frames in [
        ("tech", "swordman", "swordman.g3d", (TRIANGLE,)),
        ("romans", "swordsman", "swordsman.g3d", (TRIANGLE,)),  # byte-identical copy: dropped
        ("tech", "cow", "cow.g3d", (TRIANGLE * 2,)),
        ("egypt", "sphinx", "sphinx.g3d", (TRIANGLE * 3,)),
    ]:
        folder = base / "techs" / "megapack" / "factions" / faction / "units" / unit
        (folder / "models").mkdir(parents=True)
        (folder / f"{unit}.xml").write_text(unit_xml.format(model))
        (folder / "models" / model).write_bytes(g3d_bytes(frames=frames))
    models = base / "tilesets" / "forest" / "models"
    models.mkdir(parents=True)
    (models / "tree1.g3d").write_bytes(g3d_bytes(frames=(TRIANGLE * 4,)))
    # the same mesh with another texture: dropped
    (models / "tree2.g3d").write_bytes(g3d_bytes(frames=(TRIANGLE * 4,), texture="other.png"))
    (models / "grass.g3d").write_bytes(g3d_bytes(frames=(TRIANGLE * 5,)))  # not an object
    flat = TRIANGLE * [5, 0.01, 5]
    (models / "stone9.g3d").write_bytes(g3d_bytes(frames=(flat,)))  # a ground decal
    entries = list_models(base)
    got = {e.object_id: e.category for e in entries}
    assert got == {"megaglest-tech-swordman": "person", "megaglest-tech-cow": "animal",
                   "megaglest-egypt-sphinx": "statue", "megaglest-forest-tree1": "tree"}
    assert all(e.license == "CC-BY-SA-3.0" and e.creator for e in entries)
    assert "megaglest" in SOURCES
    scene = SOURCES["megaglest"].load(entries[0])
    assert len(scene.geometry) == 1


def test_dedupe_drops_unreadable_files(tmp_path):
    from lddbm.data.sources import ModelEntry

    bad = tmp_path / "bad.g3d"
    bad.write_bytes(b"G3D" + bytes([2]))
    entry = ModelEntry("megaglest-x", "x", "misc", "megaglest", str(bad))
    assert dedupe([entry]) == []
