"""The 0 A.D. source (lddbm/data/sources/zeroad.py, zeroad_actors.py) on tiny hand-made files: no download.

PMD meshes are written with a small writer that follows the format (little-endian, version 4),
actors as XML strings, and a fake unpacked ``0ad-data`` (copyright + public.zip) for entries().
"""

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lddbm.data.sources import SOURCES, ModelEntry
from lddbm.data.sources import zeroad
from lddbm.data.sources.zeroad import categorize, dedupe, refine_category
from lddbm.data.sources.zeroad_actors import Archive, parse_pmd, parts_scene, prop_point_matrix, resolve_actor

IDENTITY_Q = (0.0, 0.0, 0.0, 1.0)


def pmd_bytes(positions, faces, uv=None, normals=None, bones=(), props=()) -> bytes:
    positions = np.asarray(positions, dtype=float)
    uv = np.zeros((len(positions), 2)) if uv is None else np.asarray(uv, dtype=float)
    normals = np.zeros_like(positions) if normals is None else np.asarray(normals, dtype=float)
    body = struct.pack("<II", len(positions), 1)
    for p, n, t in zip(positions, normals, uv):
        body += struct.pack("<3f3f2f", *p, *n, *t) + bytes([255] * 4) + struct.pack("<4f", 0, 0, 0, 0)
    body += struct.pack("<I", len(faces)) + b"".join(struct.pack("<3H", *f) for f in faces)
    body += struct.pack("<I", len(bones)) + b"".join(struct.pack("<7f", *b) for b in bones)
    body += struct.pack("<I", len(props))
    for name, translation, quaternion, bone in props:
        body += struct.pack("<I", len(name)) + name.encode() + struct.pack("<7f", *translation, *quaternion) + bytes([bone])
    return b"PSMD" + struct.pack("<II", 4, len(body)) + body


def game_box(lo, hi, **kw) -> bytes:
    """A box as the game stores it: outward normals, triangles clockwise (right-handed maths)."""
    import trimesh

    box = trimesh.creation.box(bounds=[lo, hi])
    return pmd_bytes(box.vertices, box.faces[:, ::-1], uv=np.clip(box.vertices[:, :2], 0, 1),
                     normals=box.vertex_normals, **kw)


def write(root: Path, name: str, data) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def actor(mesh: str = "", props: str = "", texture: str = "", material: str = "player_trans.xml", extra: str = "") -> str:
    tex = f'<textures><texture file="{texture}" name="baseTex"/></textures>' if texture else ""
    mesh_el = f"<mesh>{mesh}</mesh>" if mesh else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<actor version="1"><group><variant frequency="1" name="Base">'
            f"{mesh_el}<props>{props}</props>{tex}</variant></group>{extra}<material>{material}</material></actor>")


# ---- categories and skips -------------------------------------------------------------------------


@pytest.mark.parametrize("path, category", [
    ("structures/athenians/temple.xml", "building"),
    ("structures/athenians/house.xml", "building"),
    ("structures/romans/corral.xml", "building"),
    ("structures/hellenes/wall_tower.xml", "tower"),
    ("structures/britons/scout_tower.xml", "tower"),
    ("structures/hellenes/wall_long.xml", "fence"),
    ("structures/romans/wall_gate.xml", "fence"),
    ("structures/athenians/trireme.xml", "watercraft"),
    ("structures/celts/siege_ram.xml", "cart"),
    ("structures/ptolemies/statue_isis.xml", "statue"),
    ("units/romans/siege_scorpio.xml", "cart"),
    ("units/britons/hero_chariot_javelinist_boudicca_m.xml", "cart"),
    ("units/athenians/infantry_spearman_b.xml", "person"),
    ("units/celts/fisherman.xml", "person"),
    ("units/romans/cavalry_spearman_e_m.xml", "animal"),
    ("units/athenians/trader.xml", "trader"),
    ("fauna/lion.xml", "animal"),
    ("flora/trees/oak.xml", "tree"),
    ("flora/trees/lavender_bush_01.xml", "plant"),
    ("fungi/small_red.xml", "plant"),
    ("geology/stone_granite_large.xml", "rock"),
    ("geology/stonemine_granite.xml", "rock"),
    ("props/special/eyecandy/barrel_a.xml", "container"),
    ("props/special/eyecandy/waterbin_a.xml", "container"),
    ("props/special/eyecandy/statue_aphrodite_huge.xml", "statue"),
    ("props/special/eyecandy/handcart_1.xml", "cart"),
    ("props/special/eyecandy/table_square.xml", "table"),
    ("props/special/wagon_four_wheel_empty.xml", "cart"),
    ("props/units/weapons/xiphos.xml", "weapon"),
    ("props/flora/bush_tempe_a.xml", "plant"),
    ("special/pyramid.xml", "building"),
])
def test_categorize(path, category):
    assert categorize(path) == category


@pytest.mark.parametrize("path", [
    "structures/fndn_4x4.xml", "structures/destruct_stone_4x4.xml", "structures/destruct_rome_dock_rubble.xml",
    "structures/plot_field.xml", "structures/hellenes/prytaneion_decor.xml", "structures/han/fireship_fire.xml",
    "structures/kushites/merchant_sail.xml", "units/romans/cavalry_spearman_e_r.xml", "units/romans/cavalry_spearman_e_h.xml",
    "units/mauryas/chariot_archer_c_d.xml", "fauna/fish.xml",
    "units/romans/ballista_operator.xml", "units/romans/siege_scorpio_packed.xml", "units/persians/infantry_archer_c_fire.xml",
    "flora/trees/oak_top.xml", "flora/trees/pine_black_deadbranches.xml", "flora/trees/oak_dead.xml",
    "fauna/seagull_circle.xml", "fauna/tuna_shoal.xml", "geology/decal_stone_medit_a.xml", "geology/geo_waterfall_single.xml",
    "particle/smoke.xml", "temp/cc.xml", "special/target_marker.xml", "special/old/hellenes_house.xml",
    "props/special/common/garrison_flag_hele.xml", "props/special/eyecandy/ground_puddles.xml",
    "props/special/eyecandy/shipwreck_hull.xml", "props/special/eyecandy/handcart_1_broken.xml",
    "props/units/weapons/arrow_front.xml", "props/units/weapons/sheath_gladius.xml", "props/units/shields/aspis.xml",
    "props/units/helmets/hele_pilos.xml", "props/structures/athenians/temple_decor.xml", "campaigns/labels/greece_attica.xml",
    "structures/athenians/temple.xmb",
])
def test_categorize_skips(path):
    assert categorize(path) is None


def test_refine_trader():
    cart = [{"mesh": "art/meshes/skeletal/trader_cart.dae.cached.pmd"}, {"mesh": "art/meshes/skeletal/horse.dae.cached.pmd"}]
    camel = [{"mesh": "art/meshes/skeletal/camel.dae.cached.pmd"}]
    assert refine_category("trader", cart) == "cart"
    assert refine_category("trader", camel) == "animal"
    assert refine_category("building", camel) == "building"


# ---- dedupe ---------------------------------------------------------------------------------------


def item(actor, meshes, vertices, extents, matrix=None):
    matrix = matrix or list(np.eye(4).reshape(-1))
    return {"actor": actor, "parts": [{"mesh": m, "matrix": matrix} for m in meshes], "vertices": vertices,
            "extents": extents, "main": meshes[0]}


def test_dedupe_rules():
    items = [
        item("structures/athenians/house.xml", ["a.pmd", "roof.pmd"], 100, [10, 5, 8]),
        item("structures/spartans/house.xml", ["a.pmd", "roof.pmd"], 100, [10, 5, 8]),  # recolour: same meshes
        item("units/a/spearman.xml", ["body.pmd", "spear.pmd"], 60, [1, 2, 4]),
        item("units/b/spearman.xml", ["body.pmd", "spear2.pmd"], 61, [1.02, 2, 4.05]),  # same body, same shape
        item("units/c/swordsman.xml", ["body.pmd", "sword.pmd"], 50, [1, 2, 0.6]),  # same body, other shape
        item("props/x/crate.xml", ["crate.pmd"], 24, [1, 1, 1]),
        item("props/y/crate2.xml", ["crate2.pmd"], 24, [1.005, 1, 0.995]),  # near-identical mesh
        item("props/z/box.xml", ["box.pmd"], 24, [1, 2, 1]),  # same count, other size
    ]
    kept = [it["actor"] for it in dedupe(items)]
    assert kept == sorted(kept)
    assert ("structures/athenians/house.xml" in kept) != ("structures/spartans/house.xml" in kept)
    assert ("units/a/spearman.xml" in kept) != ("units/b/spearman.xml" in kept)
    assert "units/c/swordsman.xml" in kept
    assert ("props/x/crate.xml" in kept) != ("props/y/crate2.xml" in kept)
    assert "props/z/box.xml" in kept
    assert len(kept) == 5


# ---- PMD and actors -------------------------------------------------------------------------------


def test_parse_pmd_fields_and_errors():
    data = pmd_bytes([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], uv=[[0, 0], [1, 0], [0, 1]],
                     bones=[(1, 2, 3, 0, 0, 0, 1)], props=[("head", (0, 2, 0), IDENTITY_Q, 255)])
    pmd = parse_pmd(data)
    assert pmd.positions.shape == (3, 3) and pmd.faces.tolist() == [[0, 1, 2]]
    assert np.allclose(pmd.uv[1], [1, 0]) and pmd.bones.shape == (1, 7)
    assert np.allclose(pmd.props["head"][0], [0, 2, 0]) and pmd.props["head"][2] == 255
    with pytest.raises(ValueError):
        parse_pmd(b"PSMD" + data[4:40])
    with pytest.raises(ValueError):
        parse_pmd(b"NOPE" + data[4:])
    bad = pmd_bytes([[0, 0, 0]], [[0, 1, 2]])
    with pytest.raises(ValueError, match="out of range"):
        parse_pmd(bad)


def test_prop_point_on_bone_and_root():
    s = np.sqrt(0.5)
    pmd = parse_pmd(pmd_bytes([[0, 0, 0]], [], bones=[(1, 0, 0, 0, 0, 0, 1)],
                              props=[("hand", (0, 1, 0), (0, s, 0, s), 0), ("top", (0, 3, 0), IDENTITY_Q, 255)]))
    hand = prop_point_matrix(pmd, "hand")
    assert np.allclose(hand[:3, 3], [1, 1, 0])  # bone rest (1,0,0) then the point (0,1,0)
    assert np.allclose(hand[:3, :3] @ [1, 0, 0], [0, 0, -1], atol=1e-6)  # 90 degrees about y
    assert np.allclose(prop_point_matrix(pmd, "top")[:3, 3], [0, 3, 0])
    assert np.allclose(prop_point_matrix(pmd, "root"), np.eye(4))
    assert prop_point_matrix(pmd, "missing") is None


def make_archive(root: Path) -> Archive:
    write(root, "art/meshes/structural/hut.dae.cached.pmd",
          game_box([-1, 0, -1], [1, 2, 1], props=[("head", (0, 2, 0), IDENTITY_Q, 255)]))
    write(root, "art/meshes/props/roof.dae.cached.pmd", game_box([-1, 0, -1], [1, 0.5, 1]))
    write(root, "art/meshes/props/flag.dae.cached.pmd", game_box([0, 0, 0], [0.1, 1, 0.1]))
    write(root, "art/meshes/props/lowpoly.dae.cached.pmd", game_box([0, 0, 0], [5, 5, 5]))
    write(root, "art/actors/props/roof.xml", actor("props/roof.dae", texture="props/roof.png"))
    write(root, "art/actors/props/flag.xml", actor("props/flag.dae"))
    write(root, "art/variants/structures/alive.xml",
          '<variant><props><prop actor="props/flag.xml" attachpoint="root"/></props></variant>')
    quality = ('<qualitylevels version="1"><actor quality="low" inline=""/><actor inline=""/><inline version="1">'
               '<group><variant frequency="1" maxquality="high"><mesh>props/lowpoly.dae</mesh></variant>'
               '<variant frequency="1" minquality="high"><mesh>props/roof.dae</mesh></variant></group>'
               '<material>basic_trans.xml</material></inline></qualitylevels>')
    write(root, "art/actors/props/leafy.xml", "\ufeff" + quality)
    hut = ('<?xml version="1.0" encoding="utf-8"?>\n<actor version="1">'
           '<group><variant frequency="1" name="Base"><mesh>structural/hut.dae</mesh>'
           '<props><prop actor="props/roof.xml" attachpoint="head"/><prop actor="props/flag.xml" attachpoint="projectile"/>'
           '<prop actor="props/flag.xml" attachpoint="garrisoned"/><prop actor="props/flag.xml" attachpoint="nowhere"/>'
           '<prop actor="props/leafy.xml" attachpoint="root"/></props>'
           '<textures><texture file="structural/hut.png" name="baseTex"/></textures></variant></group>'
           '<group><variant name="dead"><props><prop actor="props/flag.xml" attachpoint="head"/></props></variant>'
           '<variant name="alive" frequency="1" file="structures/alive.xml"/></group>'
           '<material>player_trans.xml</material></actor>')
    write(root, "art/actors/structures/hut.xml", hut)
    return Archive(root)


def test_resolve_actor(tmp_path):
    archive = make_archive(tmp_path)
    parts = resolve_actor("structures/hut.xml", archive)
    meshes = [p["mesh"].split("/")[-1] for p in parts]
    # the hut, the roof on "head", the flag from the alive variant's file replacing leafy on "root"
    # (a later variant naming a point replaces its props); projectile / garrisoned / missing points dropped
    assert meshes == ["hut.dae.cached.pmd", "roof.dae.cached.pmd", "flag.dae.cached.pmd"]
    roof = parts[1]
    assert np.allclose(np.reshape(roof["matrix"], (4, 4))[:3, 3], [0, 2, 0])
    assert roof["texture"] == "art/textures/skins/props/roof.png.cached.dds" and roof["alpha"] is False
    assert parts[0]["texture"] == "art/textures/skins/structural/hut.png.cached.dds"
    # quality levels: the highest (inline) actor, the variant allowed at high quality; basic_trans -> alpha
    leafy = resolve_actor("props/leafy.xml", archive)
    assert [p["mesh"].split("/")[-1] for p in leafy] == ["roof.dae.cached.pmd"] and leafy[0]["alpha"] is True
    assert resolve_actor("props/missing.xml", archive) == []


def test_load_frame_winding_and_textures(tmp_path):
    from PIL import Image

    root = tmp_path
    # a box in front of the origin in the game frame (the game's front is -z)
    write(root, "art/meshes/props/box.dae.cached.pmd", game_box([-1, 0, -3], [1, 4, -1]))
    Image.new("RGB", (4, 4), (200, 30, 30)).save(root / "tex.png")
    write(root, "art/textures/skins/props/box.png.cached.dds", (root / "tex.png").read_bytes())
    part = {"mesh": "art/meshes/props/box.dae.cached.pmd", "texture": "art/textures/skins/props/box.png.cached.dds",
            "alpha": False, "matrix": list(np.eye(4).reshape(-1))}
    broken = dict(part, texture="art/textures/skins/props/missing.png.cached.dds")
    entry = ModelEntry("0ad-test", "test", "misc", "0ad", str(root / "a.xml"), extra={"root": str(root), "parts": [part]})
    scene = SOURCES["0ad"].load(entry)
    mesh = next(iter(scene.geometry.values()))
    lo, hi = scene.bounds
    assert np.allclose(lo, [-1, 0, 1]) and np.allclose(hi, [1, 4, 3])  # y up, front -z mirrored to +z
    assert mesh.is_winding_consistent and mesh.volume > 0  # outward triangles after the mirror
    assert type(mesh.visual).__name__ == "TextureVisuals"
    # an unreadable texture gives a plain colour, not a failure; alpha parts are drawn two-sided
    scene = parts_scene([broken, dict(part, alpha=True)], root)
    meshes = list(scene.geometry.values())
    assert type(meshes[0].visual).__name__ == "ColorVisuals"
    assert len(meshes[1].faces) == 2 * len(meshes[0].faces)
    with pytest.raises(ValueError):
        SOURCES["0ad"].load(ModelEntry("0ad-x", "x", "misc", "0ad", "", extra={"root": str(root), "parts": []}))


def test_entries_from_a_fake_package(tmp_path, monkeypatch):
    mod = tmp_path / "mod"
    make_archive(mod)
    unpacked = tmp_path / "unpacked"
    zip_path = unpacked / zeroad.PUBLIC_ZIP
    zip_path.parent.mkdir(parents=True)
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(mod.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(mod).as_posix())
    write(unpacked, "usr/share/doc/0ad-data/copyright",
          "Files: *\nCopyright: 2010 Wildfire Games\nLicense: CC-BY-SA-3.0\n")
    monkeypatch.setattr(zeroad, "fetch_and_unpack", lambda package, work, source=None: unpacked)
    work = tmp_path / "work"
    entries = SOURCES["0ad"].entries(work)
    assert [e.object_id for e in entries] == ["0ad-structures-hut"]
    entry = entries[0]
    assert entry.category == "building" and entry.license == "CC-BY-SA-3.0" and entry.creator == "Wildfire Games"
    assert entry.package == "0ad-data" and Path(entry.model).is_file()
    json.dumps(entry.extra)  # serialisable: the builder stores it in each object's meta
    assert (work / zeroad.EXTRACT_DIR / "entries.json").is_file()
    assert len(SOURCES["0ad"].entries(work)) == 1  # from the cache
    write(unpacked, "usr/share/doc/0ad-data/copyright", "Files: *\nLicense: Proprietary\n")
    with pytest.raises(RuntimeError, match="CC-BY-SA"):
        SOURCES["0ad"].entries(tmp_path / "work2")
