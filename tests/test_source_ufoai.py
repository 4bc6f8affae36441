"""The UFO:AI source: MD2 reader, path rules, licences, listing and loading, on tiny synthetic files."""

import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from lddbm.data.sources import SOURCES
from lddbm.data.sources.ufoai import (_yawed, find_skin, list_models, model_category, parse_copyright,
                                      read_md2, unzip_models)


def md2_bytes(positions=((0, 0, 0), (5, 0, 0), (0, 5, 0), (0, 0, 5)), skin=".tex", frames=1, offset=0.0):
    """An MD2 with two triangles sharing an edge, one skin name and ``frames`` key frames."""
    positions = np.asarray(positions, float)
    st = np.array([[0, 0], [64, 0], [0, 64], [64, 64]], "<i2")
    tris = np.array([[0, 1, 2, 0, 1, 2], [0, 2, 3, 0, 2, 3]], "<i2")
    scale, translate = np.full(3, 0.5), np.full(3, offset)
    packed = np.round(positions / scale).astype(np.uint8)  # decoded: positions + offset
    frame = struct.pack("<3f3f", *scale, *translate) + b"f0".ljust(16, b"\0")
    frame += np.concatenate([packed, np.zeros((len(packed), 1), np.uint8)], 1).tobytes()
    o_skins = 68
    o_st = o_skins + 64
    o_tris = o_st + st.nbytes
    o_frames = o_tris + tris.nbytes
    o_end = o_frames + len(frame) * frames
    header = b"IDP2" + struct.pack("<16i", 8, 64, 64, len(frame), 1, len(positions), len(st), len(tris), 0,
                                   frames, o_skins, o_st, o_tris, o_frames, o_end, o_end)
    return header + skin.encode().ljust(64, b"\0") + st.tobytes() + tris.tobytes() + frame * frames


def test_read_md2(tmp_path):
    path = tmp_path / "m.md2"
    path.write_bytes(md2_bytes(frames=2))
    md2 = read_md2(path)
    assert md2.frames == 2 and md2.skins == [".tex"]
    assert len(md2.vertices) == 4 and md2.faces.shape == (2, 3)
    # clockwise in the file, counter-clockwise here: the first triangle is (2, 1, 0)
    assert np.allclose(md2.vertices[md2.faces[0]], [[0, 5, 0], [5, 0, 0], [0, 0, 0]])
    assert np.allclose(md2.uv[md2.faces[0][2]], [0, 1])  # t = 0 is the top row: v = 1


@pytest.mark.parametrize("data, reason", [(b"IDP3" + b"\0" * 80, "not an MD2"), (b"IDP2" + b"\0" * 10, "not an MD2")])
def test_read_md2_rejects_bad_files(tmp_path, data, reason):
    path = tmp_path / "bad.md2"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=reason):
        read_md2(path)


def test_find_skin(tmp_path):
    model = tmp_path / "car.md2"
    assert find_skin(model, [".tex"]) is None
    (tmp_path / "car.jpg").write_bytes(b"x")
    assert find_skin(model, [".tex"]).name == "car.jpg"  # named like the model
    (tmp_path / "tex.png").write_bytes(b"x")
    assert find_skin(model, [".tex"]).name == "tex.png"  # the header's skin first


def test_path_rules():
    assert model_category("weapons/assault/assault.md2") == "weapon"
    assert model_category("weapons/assault/assault_clip.md2") is None
    assert model_category("objects/furniture/chairs/chair2.md2") == "chair"
    assert model_category("objects/cars/jeep/jeep.md2") == "car"
    assert model_category("objects/aircraft/crash_drop_raptor/part2.md2") is None
    assert model_category("objects/vegi/palm2/leaf.md2") is None  # a part ...
    assert model_category("objects/vegi/palm2/trunk.md2") == "tree"  # ... of this composite
    assert model_category("objects/alien/wormhole/wormhole_low.md2") is None


def test_yaw_turns_quake_front_to_plus_z():
    rotation = np.reshape(_yawed(0), (3, 3))
    assert np.allclose(rotation @ [1, 0, 0], [0, 0, 1])  # Quake's front
    assert np.allclose(rotation @ [0, 0, 1], [0, 1, 0])  # Quake's up
    assert np.allclose(np.reshape(_yawed(-90), (3, 3)) @ [0, 1, 0], [0, 0, 1])  # front along Quake's +y


def test_parse_copyright():
    text = ("Files: *\nCopyright: 2002-2014, The UFO:AI Team\nLicense: GPL-2+\n\n"
            "Files:\n base/models/a/a.md2\n base/models/a/a.png\nCopyright:\n Someone\n Other\nLicense: CC-BY-3.0\n\n"
            "License: CC-BY-3.0\n Full text.\n")
    per_file, default = parse_copyright(text)
    assert default == ("GPL-2+", "2002-2014, The UFO:AI Team")
    assert per_file["base/models/a/a.md2"] == ("CC-BY-3.0", "Someone; Other")


def test_unzip_list_dedupe_and_load(tmp_path):
    pk3 = tmp_path / "0models.pk3"
    skin = Image.new("RGB", (4, 4), (200, 10, 10))
    skin.save(tmp_path / "tex.png")
    with zipfile.ZipFile(pk3, "w") as archive:
        archive.writestr("models/weapons/pistol/pistol.md2", md2_bytes())
        archive.write(tmp_path / "tex.png", "models/weapons/pistol/tex.png")
        archive.writestr("models/weapons/pistol/pistol_clip.md2", md2_bytes(offset=1.0))  # ammunition: skipped
        archive.writestr("models/objects/cars/jeep/jeep.md2", md2_bytes(offset=2.0))
        archive.writestr("models/objects/cars/jeep2/jeep.md2", md2_bytes(offset=2.0))  # a copy: dropped
        archive.writestr("models/objects/vegi/palm2/trunk.md2", md2_bytes(offset=3.0))
        archive.writestr("models/objects/vegi/palm2/leaf.md2", md2_bytes(offset=4.0))
        archive.writestr("pics/x.png", b"not unzipped")
    root = unzip_models(pk3, tmp_path / "unzipped")
    assert not (root / "pics").exists()
    entries = list_models(root, "Files: base/models/objects/cars/jeep/jeep.md2\nCopyright: A\nLicense: CC-BY-SA-3.0\n")
    got = {e.object_id: (e.category, e.license) for e in entries}
    assert got == {"ufoai-cars-jeep-jeep": ("car", "CC-BY-SA-3.0"), "ufoai-vegi-palm2-trunk": ("tree", "GPL-2+"),
                   "ufoai-weapons-pistol-pistol": ("weapon", "GPL-2+")}
    by_id = {e.object_id: e for e in entries}
    source = SOURCES["ufoai"]
    assert len(source.load(by_id["ufoai-vegi-palm2-trunk"]).geometry) == 2  # trunk + crown
    pistol = source.load(by_id["ufoai-weapons-pistol-pistol"])
    (mesh,) = pistol.geometry.values()
    assert mesh.visual.material.image is not None
    bad = by_id["ufoai-cars-jeep-jeep"]
    (root / "models" / "objects" / "cars" / "jeep" / "jeep.md2").write_bytes(b"IDP2" + b"\0" * 4)
    with pytest.raises(ValueError, match="jeep.md2"):
        source.load(bad)
