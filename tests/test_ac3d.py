"""The AC3D reader (lddbm.data.ac3d) on hand-written files, and the FlightGear / TORCS sources'
pure helpers (classes, duplicates, orientation, licences) on synthetic paths: no downloads."""

from __future__ import annotations

import numpy as np
import pytest

from lddbm.data.ac3d import geometry_digest, load_ac, parse_ac
from lddbm.data.sources import CATEGORIES, SOURCES
from lddbm.data.sources import flightgear as fg
from lddbm.data.sources import torcs

RED_QUAD = """AC3Db
MATERIAL "red" rgb 1 0 0  amb 0.2 0.2 0.2  emis 0 0 0  spec 0.5 0.5 0.5  shi 10  trans 0
MATERIAL "half" rgb 0 0 1  amb 0.2 0.2 0.2  emis 0 0 0  spec 0.5 0.5 0.5  shi 10  trans 0.5
OBJECT world
kids 1
OBJECT poly
name "quad"
numvert 4
0 0 0
1 0 0
1 1 0
0 1 0
numsurf 1
SURF 0x10
mat 0
refs 4
0 0 0
1 1 0
2 1 1
3 0 1
kids 0
"""


def write(tmp_path, text, name="model.ac"):
    path = tmp_path / name
    path.write_text(text)
    return path


def all_vertices(scene) -> np.ndarray:
    return np.concatenate([g.vertices for g in scene.geometry.values()])


def all_faces(scene) -> int:
    return sum(len(g.faces) for g in scene.geometry.values())


def test_coloured_quad_is_fan_triangulated_with_its_material_colour(tmp_path):
    scene = load_ac(write(tmp_path, RED_QUAD))
    assert all_faces(scene) == 2
    (mesh,) = scene.geometry.values()
    assert np.allclose(mesh.visual.vertex_colors, [255, 0, 0, 255])
    assert np.allclose(all_vertices(scene).min(axis=0), [0, 0, 0]) and np.allclose(all_vertices(scene).max(axis=0), [1, 1, 0])
    assert np.allclose(mesh.face_normals, [0, 0, 1])  # counter-clockwise refs face +z


def test_hexagon_fan_and_transparency(tmp_path):
    hexagon = "\n".join(f"{np.cos(a):.6f} {np.sin(a):.6f} 0" for a in np.arange(6) * np.pi / 3)
    text = ("AC3Db\nMATERIAL \"a\" rgb 1 1 1 trans 0\nMATERIAL \"b\" rgb 0 0 1 amb 0 0 0 trans 0.5\n"
            f"OBJECT world\nkids 1\nOBJECT poly\nnumvert 6\n{hexagon}\nnumsurf 1\nSURF 0x0\nmat 1\nrefs 6\n"
            + "".join(f"{i} 0 0\n" for i in range(6)) + "kids 0\n")
    scene = load_ac(write(tmp_path, text))
    assert all_faces(scene) == 4  # n - 2 triangles
    (mesh,) = scene.geometry.values()
    assert np.allclose(mesh.visual.vertex_colors, [0, 0, 255, 128], atol=1)


CUBE = "\n".join(f"{x} {y} {z}" for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5))
CUBE_SURFS = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]


def cube_object(name, extra="", kids=""):
    surfs = "".join("SURF 0x20\nmat 0\nrefs 4\n" + "".join(f"{i} 0 0\n" for i in s) for s in CUBE_SURFS)
    n_kids = 1 if kids else 0
    return f"OBJECT poly\nname \"{name}\"\n{extra}numvert 8\n{CUBE}\nnumsurf 6\n{surfs}kids {n_kids}\n{kids}"


def test_loc_and_rot_apply_through_the_kids_tree(tmp_path):
    # the kid's vertex p maps to parent_loc + R_kid p + kid_loc (rot: rows of R, p' = R p)
    kid = ("OBJECT poly\nname \"kid\"\nrot 0 -1 0 1 0 0 0 0 1\nloc 0 2 0\nnumvert 3\n1 0 0\n2 0 0\n1 0 1\n"
           "numsurf 1\nSURF 0x0\nmat 0\nrefs 3\n0 0 0\n1 0 0\n2 0 0\nkids 0\n")
    parent = cube_object("cube", extra="loc 1 0 0\n", kids=kid)
    text = f"AC3Db\nMATERIAL \"m\" rgb 0.5 0.5 0.5 amb 0 0 0 emis 0 0 0 spec 0 0 0 shi 0 trans 0\nOBJECT world\nkids 1\n{parent}"
    ac = parse_ac(text)
    assert [k.name for k in ac.world.kids] == ["cube"] and [k.name for k in ac.world.kids[0].kids] == ["kid"]
    scene = load_ac(write(tmp_path, text), double_sided=False)
    vertices = {tuple(np.round(v, 6)) for v in all_vertices(scene)}
    assert {(1.0, 3.0, 0.0), (1.0, 4.0, 0.0), (1.0, 3.0, 1.0)} <= vertices  # the kid: rotated 90 deg about z, moved
    cube = np.array([v for v in vertices if v[1] < 2])
    assert np.allclose(cube.min(axis=0), [0.5, -0.5, -0.5]) and np.allclose(cube.max(axis=0), [1.5, 0.5, 0.5])
    assert all_faces(scene) == 12 + 1
    assert all_faces(load_ac(write(tmp_path, text, "again.ac"))) == 2 * 12 + 1  # SURF 0x20: both sides


def test_line_surfaces_are_skipped_and_strips_unrolled(tmp_path):
    text = """AC3Db
MATERIAL "m" rgb 0 1 0  amb 0 0 0  emis 0 0 0  spec 0 0 0  shi 0  trans 0
OBJECT world
kids 1
OBJECT poly
numvert 5
0 0 0 0 0 1
1 0 0 0 0 1
0 1 0 0 0 1
1 1 0 0 0 1
0 2 0 0 0 1
numsurf 3
SURF 0x02
mat 0
refs 3
0 0 0
1 0 0
2 0 0
SURF 0x01
mat 0
refs 4
0 0 0 0 0
1 0 0 0 0
3 0 0 0 0
2 0 0 0 0
SURF 0x14
mat 0
refs 5
0 0 0 0 0 0 0
1 1 0 0 0 0 0
2 0 1 0 0 0 0
3 1 1 0 0 0 0
4 0 2 0 0 0 0
kids 0
"""
    scene = load_ac(write(tmp_path, text, "strip.acc"))
    assert all_faces(scene) == 3  # the two line surfaces give nothing; a 5-ref strip gives 3 triangles
    (mesh,) = scene.geometry.values()
    assert np.all(mesh.face_normals[:, 2] > 0.99)  # alternating winding keeps every strip triangle facing +z
    only_lines = text.replace("numsurf 3", "numsurf 2").split("SURF 0x14")[0] + "kids 0\n"
    assert not load_ac(write(tmp_path, only_lines, "lines.ac")).geometry


def test_texture_png_gives_uv_textured_mesh_else_colours(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 2), (0, 200, 0)).save(tmp_path / "tex.png")
    text = RED_QUAD.replace('name "quad"\n', 'name "quad"\ntexture "tex.png"\ntexrep 2 2\ntexoff 0.5 0\ncrease 30.0\n'
                            'data 11\nhello\nworld\nurl "x"\nhidden\nlocked\nsubdiv 1\n')
    scene = load_ac(write(tmp_path, text))
    (mesh,) = scene.geometry.values()
    assert mesh.visual.kind == "texture"
    assert mesh.visual.material.image.size == (4, 2)
    assert np.allclose(mesh.visual.uv.min(axis=0), [0.5, 0]) and np.allclose(mesh.visual.uv.max(axis=0), [2.5, 2])
    (tmp_path / "tex.png").unlink()  # missing image: material colour instead
    (mesh,) = load_ac(write(tmp_path, text, "b.ac")).geometry.values()
    assert mesh.visual.kind == "vertex" and np.allclose(mesh.visual.vertex_colors, [255, 0, 0, 255])
    (mesh,) = load_ac(write(tmp_path, text, "c.ac"), textures=False).geometry.values()
    assert mesh.visual.kind == "vertex"


def test_texture_found_under_another_suffix_and_in_texture_dirs(tmp_path):
    from PIL import Image

    (tmp_path / "textures").mkdir()
    Image.new("RGBA", (2, 2), (9, 9, 9, 255)).save(tmp_path / "textures" / "tex.png")
    text = RED_QUAD.replace('name "quad"\n', 'name "quad"\ntexture "tex.rgb"\n')
    (mesh,) = load_ac(write(tmp_path, text), texture_dirs=[tmp_path / "textures"]).geometry.values()
    assert mesh.visual.kind == "texture"


def test_exclude_drops_named_helper_objects(tmp_path):
    text = RED_QUAD.replace("kids 1\nOBJECT poly\nname \"quad\"", "kids 2\nOBJECT poly\nname \"LandingLightCone\"", 1)
    text = text + RED_QUAD.split("kids 1\n", 1)[1]
    assert all_faces(load_ac(write(tmp_path, text))) == 4
    assert all_faces(load_ac(write(tmp_path, text, "b.ac"), exclude=r"light.?cone")) == 2


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("PLY\nelement vertex 3\n", "not an AC3D file"),
    ("AC3Db\nOBJECT world\nkids 1\nOBJECT poly\nnumvert 3\n0 0 0\n1 0 0\n", "truncated"),
    ("AC3Db\nOBJECT world\nkids 1\nOBJECT poly\nnumvert 2\n0 0 0\nx y z\nkids 0\n", "bad number"),
    ("AC3Db\nOBJECT world\nkids 1\nOBJECT poly\nnumvert 1\n0 0 0\nnumsurf 1\nSURF 0x0\nmat 0\nrefs 3\n0 0 0\n1 0 0\n2 0 0\nkids 0\n",
     "vertex index 2 outside"),
    ("AC3Db\nOBJECT world\nkids 1\nOBJECT poly\nnumsurf 1\nbanana\nkids 0\n", "expected SURF"),
    ("AC3Db\nMATERIAL \"m\"\nOBJECT world\nkids 0\n", "MATERIAL"),
    ("AC3Db\nhello\n", "unexpected"),
])
def test_malformed_files_raise_value_error(tmp_path, text, reason):
    with pytest.raises(ValueError, match=reason):
        load_ac(write(tmp_path, text))


def test_lenient_on_common_exporter_slips(tmp_path):
    # a '#' comment, a MATERIAL word other than rgb, fewer kids than announced, no final kids line
    text = ("AC3Db\n# exported\nMATERIAL \"x\" png 0 1 0 amb 0 0 0 trans 0\nOBJECT world\nkids 3\nOBJECT poly\n"
            "numvert 3\n0 0 0\n1 0 0A\n0 1 0\nnumsurf 1\nSURF 0x0\nmat 0\nrefs 3\n0 0 0\n1 0 0\n2 0 0\n")
    (mesh,) = load_ac(write(tmp_path, text)).geometry.values()
    assert len(mesh.faces) == 1 and np.allclose(mesh.visual.vertex_colors, [0, 255, 0, 255])


def test_geometry_digest_ignores_colours_and_scale():
    recoloured = RED_QUAD.replace("mat 0", "mat 1")
    scaled = RED_QUAD.replace("1 0 0\n1 1 0\n0 1 0\n", "3 0 0\n3 3 0\n0 3 0\n", 1)
    other = RED_QUAD.replace("1 1 0\n0 1 0\n", "1 2 0\n0 1 0\n", 1)
    digests = [geometry_digest(parse_ac(t)) for t in (RED_QUAD, recoloured, scaled, other)]
    assert digests[0]["hash"] == digests[1]["hash"] == digests[2]["hash"] != digests[3]["hash"]
    assert digests[0]["triangles"] == 2 and digests[2]["extents"] == [3.0, 3.0, 0.0]


# ---- FlightGear helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("path, category", [
    ("Scenery/Models/Aircraft/A320-iberia.ac", "airplane"),
    ("Scenery/Models/Aircraft/Boeing_757_200-american.ac", "airplane"),
    ("Scenery/Models/Aircraft/EC-135_Douane.ac", "helicopter"),
    ("Scenery/Models/Aircraft/glider-trailer-red.ac", "cart"),
    ("Scenery/Models/Transport/camaroblue.ac", "car"),
    ("Scenery/Models/Transport/bus-muc.ac", "bus"),
    ("Models/Transport/locomotive-A4.ac", "train"),
    ("Scenery/Models/Airport/Vehicle/fire-truck-muc.ac", "truck"),
    ("Models/Maritime/Civilian/Tanker.ac", "watercraft"),
    ("Scenery/Models/Residential/tower-hexa.ac", "building"),
    ("Scenery/Models/Airport/Hangar_30x20m.ac", "building"),
    ("Scenery/Models/Communications/Fernsehturm-Stade.ac", "tower"),
    ("Scenery/Models/Maritime/Misc/PhareCalais.ac", "tower"),
    ("Scenery/Models/StreetFurniture/Streetlamp1.ac", "lamp"),
    ("Scenery/Models/StreetFurniture/pont_pierres.ac", "bridge"),
    ("Scenery/Models/Boundaries/Fence-10m-green.ac", "fence"),
    ("Scenery/Models/StreetFurniture/Stop-Sign.ac", "sign"),
    ("Scenery/Models/Fauna/cow.ac", "animal"),
    ("Scenery/Models/Misc/woman1.ac", "person"),
    ("Scenery/Models/Agriculture/horse-farm.ac", "building"),
    ("Scenery/Models/Effects/strobe10000.ac", None),
    ("Scenery/Models/Airport/Approach_lights_1.ac", None),
    ("Scenery/Models/Trees/grass_Rembr.ac", None),
    ("Models/Weather/altocumulus2.ac", None),
    ("Scenery/Models/Aircraft/c172-shadow.ac", None),
    ("Scenery/Models/Transport/truck-lod2.ac", None),
])
def test_flightgear_classify(path, category):
    assert fg.classify(path) == category
    assert category is None or category in CATEGORIES


def test_flightgear_variant_key_merges_colours_sizes_and_lod_tags():
    key = fg.variant_key
    assert key("Scenery/Models/Transport/camaroblue.ac") == key("Scenery/Models/Transport/camarored.ac")
    assert key("Scenery/Models/Industrial/GenericStorageTank10m_black.ac") == key("Scenery/Models/Industrial/GenericStorageTank50m.ac")
    assert key("Scenery/Models/Aircraft/ask21-low-poly-red.ac") == key("Scenery/Models/Aircraft/ask21-blue.ac")
    assert key("Models/Residential/HighriseRed.ac") == key("Scenery/Models/Residential/HighriseGrey.ac")
    assert key("Scenery/Models/Agriculture/farmhouse1.ac") != key("Scenery/Models/Agriculture/farmhouse2.ac")
    assert key("Scenery/Models/Transport/Fired.ac") != key("Scenery/Models/Transport/Fi.ac")


def test_flightgear_dedupe_keeps_the_most_detailed():
    def c(key, category="car", sha1=None, mesh=None, triangles=10):
        return {"key": f"flightgear-data-base:Scenery/Models/{key}.ac", "category": category, "sha1": sha1 or key,
                "hash": mesh or key, "triangles": triangles}

    candidates = [
        c("Transport/camaroblue", triangles=100), c("Transport/camarored", triangles=120),  # name variants
        c("Transport/a", mesh="m1", triangles=5), c("Transport/b", mesh="m1", triangles=50),  # one mesh, two names
        c("Transport/x", sha1="s"), c("Transport/y", sha1="s"),  # the same bytes
        c("Misc/blue", category="misc"), c("Misc/red", category="sign"),  # variant names of different classes
    ]
    kept, merged = fg.dedupe(candidates)
    names = sorted(k["key"].rsplit("/", 1)[1][:-3] for k in kept)
    assert names == ["b", "blue", "camarored", "red", "x"]
    assert merged["flightgear-data-base:Scenery/Models/Transport/a.ac"].endswith("/b.ac")


def test_flightgear_usable_and_nose_axis():
    ok = {"triangles": 100, "extents": [10, 3, 2], "robust": [10, 3, 2]}
    assert fg.usable(ok) == ""
    assert fg.usable({**ok, "triangles": 2}) == "no geometry"
    assert fg.usable({**ok, "extents": [100, 1, 80]}) == "flat"
    assert fg.usable({**ok, "extents": [1000, 3, 2], "robust": [10, 3, 2]}) == "stray vertices"
    assert fg.usable({"error": "truncated"}).startswith("unreadable")
    assert fg.nose_axis("Scenery/Models/Transport/truck.ac", "truck", [10, 3, 2]) == "-x"
    assert fg.nose_axis("Scenery/Models/Transport/car.ac", "car", [2, 1.4, 4.7]) == "-z"
    assert fg.nose_axis("Scenery/Models/Aircraft/a.ac", "airplane", [30, 10, 35], top=[0.0, 0.45]) == "-z"
    assert fg.nose_axis("Scenery/Models/Aircraft/a.ac", "airplane", [30, 10, 35], top=[-0.4, 0.0]) == "+x"
    assert fg.nose_axis("Scenery/Models/Aircraft/a.ac", "airplane", [30, 10, 35], top=[0.05, 0.0]) == "-x"
    assert fg.nose_axis("Scenery/Models/Transport/vwgolfsilver.ac", "car", [2, 1.4, 4.2]) == "+z"  # an override
    assert fg.nose_axis("Scenery/Models/Residential/house.ac", "building", [9, 5, 7]) is None
    for nose, rotation in fg.NOSE_TO_FRONT.items():  # every turn brings the nose to +z and keeps y up
        r = np.eye(3) if rotation is None else np.asarray(rotation).reshape(3, 3)
        axis = {"x": 0, "z": 2}[nose[1]]
        v = np.zeros(3)
        v[axis] = 1.0 if nose[0] == "+" else -1.0
        assert np.allclose(r @ v, [0, 0, 1]) and np.allclose(r @ [0, 1, 0], [0, 1, 0])


def test_flightgear_licence_of_files_star():
    text = "Files: *\nCopyright: 1999 Curt\nLicense: GPL-2+\n\nFiles: debian/*\nLicense: GPL-2+\n"
    assert fg._licence(text) == "GPL-2+"
    assert fg._licence("Files: *\nLicense: CC-BY-NC-4.0\n") not in fg.FREE_LICENCES


# ---- TORCS helpers --------------------------------------------------------------------------------


def test_torcs_one_entry_per_car_without_lod_copies():
    paths = ["cars/p406/p406.acc", "cars/p406/p406-lod1.acc", "cars/p406/p406-lod7.acc", "cars/buggy/buggy.acc",
             "cars/buggy/buggy-lod2.acc", "wheels/trb1-1/wheel0.acc", "tracks/road/spring/spring.acc",
             "cars/buggy/other.acc"]
    assert torcs.car_models(paths) == ["cars/buggy/buggy.acc", "cars/p406/p406.acc"]


def test_torcs_licences_creators_and_wheels():
    copyright_text = ("Files: *\nCopyright: 2000 Eric\nLicense: GPL-2+\n\nFiles: data/cars/models/baja-bug/*\n"
                      "       data/cars/models/car1-trb1/*\nCopyright: 2002 J-C Durieu\nLicense: Free-Art-License\n\n"
                      "License: GPL-2+\n text\n")
    assert torcs.free_art_cars(copyright_text) == {"baja-bug", "car1-trb1"}
    readme = ("Sports car model -- Copyright \u00a9 2002 Eric Espie, Jean-Christophe Durieu\n"
              "Copyright \u00a9 2006 Bernhard Wymann\n\nCopyleft: this work of art is free\n")
    assert torcs.readme_creator(readme) == "Eric Espie, Jean-Christophe Durieu, Bernhard Wymann"
    xml = "".join(f'<section name="{n}"><attnum name="xpos" val="{x}"/></section>' for n, x in (("Front Axle", 1.3), ("Rear Axle", -1.4)))
    for side, y in (("Front Right Wheel", -0.8), ("Front Left Wheel", 0.8), ("Rear Right Wheel", -0.8), ("Rear Left Wheel", 0.8)):
        xml += (f'<section name="{side}"><attnum name="ypos" val="{y}"/><attnum name="rim diameter" val="18"/>'
                f'<attnum name="tire width" val="250"/><attnum name="tire height-width ratio" val=".4"/>'
                f'<attnum name="ride height" val="100"/></section>')
    wheels = torcs.wheel_specs(xml)
    assert len(wheels) == 4 and wheels[0]["x"] == 1.3 and wheels[3]["x"] == -1.4
    assert wheels[0]["radius"] == pytest.approx(18 * 0.0254 / 2 + 0.25 * 0.4) and wheels[0]["ride"] == pytest.approx(0.1)
    assert torcs.wheel_specs("<params/>") == []


def test_sources_are_registered():
    assert SOURCES["flightgear"].packages == ("flightgear-data-base", "flightgear-data-models")
    assert SOURCES["torcs"].packages == ("torcs-data",)
    assert SOURCES["flightgear"].credit and SOURCES["torcs"].credit
