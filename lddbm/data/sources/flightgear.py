"""FlightGear's AC3D models (Debian ``flightgear-data-base`` and ``flightgear-data-models``).

``flightgear-data-base`` (1.3 GB) carries the shared scenery models (``Scenery/Models``: aircraft
parked at airports, airport buildings and vehicles, ships, cars, trains, houses, towers, bridges,
trees, people, animals …), some tile-specific landmarks (``Scenery/Objects``: lighthouses,
terminals, hangars) and the flyable Cessna 172P; Debian drops the AI aircraft (``AI/Aircraft``
holds only performancedb.xml). ``flightgear-data-models`` (144 MB) holds the older ``Models`` tree
(ships, carriers, trains, buildings). Both are GPL-2+ (debian/copyright ``Files: *``; the few model
files that state their own terms say GPL too, e.g. the Mi-6 low-poly model's XML).

Classes come from the file name (``NAME_RULES``, first match wins, ``CLASS_OVERRIDES`` for names
that mislead), else the folder (``FOLDER_CLASSES``); ``NOT_OBJECTS`` drops what is no object
(lights, effects, clouds, runway markings, ground tiles and decals, whole-airport groups, shadows,
LOD copies). Then, from a quick parse of every file (cached in WORK/flightgear-digests.json),
models with (almost) no triangles (billboard trees), flat ones (ground decals) or a few stray far
vertices are dropped, and duplicates are merged keeping the most detailed: the same file under two
paths (content hash), the same mesh recoloured, re-textured or uniformly scaled (hash of the
normalised vertex positions: liveries, colour variants, size series) and name variants (colour
words, ``-lod``, ``lowpoly``, ``-ba`` author tags, sizes like ``20m`` stripped, same class).
Helper objects inside a model (light cones, wakes, halos, shadows: ``HELPER_OBJECTS``, on object
and texture names) are left out when loading.

Orientation (checked on renders of every aircraft and vehicle): AC3D files are y up, and
FlightGear puts noses at -x. Aircraft mostly do, but about half are modelled along z; their fin,
the highest point of the plane of symmetry, marks the tail, which decides (``nose_axis``). Ground
vehicles, trains and ships modelled along x have the nose at -x; those modelled along z mostly at
-z. ``NOSE_OVERRIDES`` lists the exceptions seen (some cars and buses, high-wing aircraft whose
wing is as high as the fin, helicopters). Directional classes get the turn bringing the nose to
+z; buildings, towers, people, animals and other things keep their file orientation (y up).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from pathlib import Path

from . import ModelEntry, Source, register

logger = logging.getLogger(__name__)

ROOT = Path("usr/share/games/flightgear")
PACKAGES = ("flightgear-data-base", "flightgear-data-models")

# Folders (relative to ROOT) whose .ac files are candidates; everything else (instruments, the
# c172p's parts, GUI models) is not read.
SCAN = ("Scenery/Models", "Scenery/Objects", "Models")
EXTRA_FILES = ("Aircraft/c172p/Models/c172p.ac",)

# Not objects: matched against the lower-case path relative to ROOT.
NOT_OBJECTS = re.compile(
    r"/(weather|astro|effects|autopush|volcanoes)/"
    r"|/clemenceau/models/|/nimitz/models/(cut|datum|wave-off|flols|light|beacon|procedural|glide)"
    r"|rembrandt|parks-and-objects|warning-light|(?<!silver)shadow|(^|[-_/])lod\d*([-_.]|$)"
    r"|strobe|procedural_light|light_?cone|lamp_shine|nightlight|redlight|greenlight|whitelight|light\d{3,}|"
    r"red_beacons|blinking|flash|flare\.|tracer|puff|contrail|thrust|smoke|sillage|bowwave|wake|"
    r"/cursor|waypoint|/null\.|/square\.|thermalcap|crater|ensign|foxtrot|golf\.|"
    r"groundtile|slabs?\.|zonesol|helipad|papi|approach_lights|/rgl|runway|taxiway|stopmarker|parkingstripe|"
    r"carpark_surf|park-lined|zebra|crossing\.|basiccrossing|pelicancrossing|grass(?!hangar)|herbe|terrain|"
    r"tenniscourt|footballcourt|tennis-court|racetrack|"
    r"signalarea|signalssquare|signal_square|marker\.|markerboard_|ramp_dirt|ramp1|embankment|digue|palplanche|"
    r"egkk_woods|large_plantation|line_trees|treeset|canethicket|solar_park|thermosolar|"
    r"uerr-hill|drachenfels_therock|gravelpit|indust-dock|dam\.|lock1\.|sunset|/load\.|towropes|"
    r"_services-ba|services\.|zone_services|zone[-_]|rampgroup|cargocontainergroup|luggcartgroup|caisses_group|"
    r"egdpa|/platform\.|propeller|/phnl|smallstation|highway_rest_area|suburban-area|banlieue|city_.*module|lfmn_bande"
)

# (regular expression on the lower-case file stem, class); first match wins.
NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"^kc-?10$|kc-?130|kc-?135|^ka6|a4-f|^glider$|f-?16|^b-?52|b-?17", "airplane"),
    (r"heli(?!pad)|copter|^gen_h-4$|h-60|mi-6|mi-8|mil-mi|(?<!koff_)ec-?1[34]5|jetranger|r44|^dauphin|superfrelon|lynx|esquilo", "helicopter"),
    (r"trailer", "cart"),
    (r"worker|^pilot\d*$|testpilot|woman|^man(jacket|shirt|suit)|planespotter|armedguard|human|parachuter|"
     r"coneboy|chockboy|^(amelia|caleb|marty|waldo)$", "person"),
    (r"jetway|dockinggate|autogate|eham_gate|passerelle|footbridge|bridge|(^|_)pont(?!on)|viaduc|locbridge|"
     r"gantry", "bridge"),
    (r"lighthouse|phare|^ph(touquet|vieille)|viti|^feu|oberfeuer|bank_beacon|taska_light|signal_tower", "tower"),
    (r"lamp|light_?pole|lightmast|light-mast|light_mast|streetlight|lichtmast|farola|biglight|light-pole|"
     r"pylone_eclairage|projo|(^|_)light$|-lights?-ba|beacon_roof|beacon-mil", "lamp"),
    (r"ferris|daikanransha|steiger_wheel|merrygoround|helta_skelta|rollercoaster|superbooster|swing|buoy|tonne|"
     r"pier|ponton|crane|kran|^grue|containerbruecke|jetpack|thunderpack|oilrig|skijump|tuyaux|bak-12|"
     r"transmissometer|eolic|cable_marker|wsonde|windsock|anemometer|bird_scarer|phone|rail_?power|"
     r"tunnelportal|bus_?stop|^cone$|cones|-cone$|_cone$|groundmarker|parking_stand|balloon|propeller", "misc"),
    (r"liferaft|lifeboat|boat|ship|ferry|yacht|trawler|barge|dhow|sail|hovercraft|catamaran|trimaran|"
     r"narrowboat|binnenschiff|^tanker$|supertanker|freighter|carrier|lha1|lpd17|cg-?\d+|ffg|psc9|lcm6|"
     r"research_vessel|scenic_opal|sentosaleader|silvershadow|ambassador|optimist|dutch_master|"
     r"hamburgexpress|rnli|atlantic_|d_class|e_class|mppship|prepositioning|^nimitz$|^truman$|^vinson$|"
     r"saratoga|^hull$|srn4|fishboat|moored|contaiship", "watercraft"),
    (r"missile|bomb|rocket|aim9|sa-2$|nike|phalanx|sea-sparrow|bloodhound|mk82|rp-3", "weapon"),
    (r"stairs", "stairs"),
    (r"hard-top|caravan|helgovan|busdepot|bus_?shelter|^cambus$", "building"),
    (r"bulldozer|digger|dumptruck|grader|(?<!s)roller(?!coaster)|forklift|loader|(^|[-_])tug|supertug|pushback|"
     r"tractor|tracteur|sweeper|dicing|truck|crashtender|rosenbauer|panther|tlf|rw_gwg|hoskosh|catruck|"
     r"catering|citerne|fourgon|gpu|supacat|towbear|schopf|^douglas$|goldhofert|^military$|b-1200|tow-car|"
     r"mule|tank1-ba|traffic-ba|elevator-ba|dragon-ba|mxvtf|boxvan|fc6m1|motorhome|norberttruck|"
     r"cons(brooms|roller)|coleman|sa-2_van|anac-fire", "truck"),
    (r"cobus|bus|groundforce", "bus"),
    (r"locomotive|wagon-|tender-|(^|[-_])ice3|train|tram|metro|class_66|diesel_t|lner|hitachi|switcher|"
     r"flatcar|^lint$|coach", "train"),
    (r"camaro|camry|honda|golf|jetta|passat|bmw|volvo|hatchback|taxi|polic|pickup|hummer|humvee|dodgeram|"
     r"voyager|mazda|van|sprinter|followme|follow_me|paramedic|rover|jeep|vehicules", "car"),
    (r"quadbike|stuntbike|motorbike", "motorbike"),
    (r"cart|dolly|chariot|baggage|lugg", "cart"),
    (r"monument|statue|croix|^urn$|trigpoint|moby_dig|toro_osborne", "statue"),
    (r"bench|strandkorb|recliner|chair", "chair"),
    (r"(?<!s)table", "table"),
    (r"potty", "toilet"),
    (r"fence|cloture|grille|wall\d|wall_|hedge|barrier|blast|portal|^gate|_gate|gate_|white_slab|"
     r"redwhite_concrete|concrete_bloc", "fence"),
    (r"(?<!s)tree|palm|pinus|platanus|populus|cupressus|eucalipto|lipa|buk\d|beech|tilleul|laurier|apricot|"
     r"larix|bukszpan", "tree"),
    (r"cactus|bush|ichu|cardos|bougainvillier", "plant"),
    (r"sign(?!al)|flugverkehr|billboard|^ad\d|advert|markerboard|flag|clockdigital|safedock|level_crossing", "sign"),
    (r"church|cathedral|chapel|kirk|eglise|castle|ermit|barrack|shelter|building", "building"),
    (r"(?<!schweine)mast|maszt|antenna(?!-house)|antena|pylon(?!e)|chimney|water-?tower|wasserturm|"
     r"chateaueau|turbine|vestas|^v\d{2,3}|wtd\d|sawh|silo|monopole|radiomast|radio|sender|turm|telekom|"
     r"posttower|gbo_|vortac|vordme|vor-dme|dvor|dme|tacan|^ndb|localizer|glideslope|^ils|radome|telescope|"
     r"interferometer|astropeiler|radar|cooling|gasometer|transmission_|europoles|llz_|generic_flare|torni|"
     r"twr|tower|^tour|beacon_platform|tw$|twa$|^tw_|^beacon$", "tower"),
    (r"hangar|hanger|terminal|building|house|office|apartment|church|cathedral|chapel|kapelle|castle|"
     r"chateau(?!eau)|barn|shed|farm|stable|school|hotel|warehouse|factory|garage|station|hall(?!grim)|"
     r"kirkja|shop|store|villa|mairie|bunker|barracks|shelter|stadium|mess|hut\b|^tent|tent_|cinema|retail|"
     r"skyscraper|highrise|immeuble|maison|eglise|kirkko|toilets|admin|fbo|club|depot|workshop|hochhaus|"
     r"logistic|usine|lycee|distillery|plant$|works|airdock|terrace|bungalow|detached|quadplex|fort$|"
     r"molen|dovecot|colombier|gare|pod$|bar$|plaza_toros|ermit|mine$|visitorcenter|reacteur", "building"),
    (r"tank|container|contain|barrel|caisse|cargobox|cargoi|cpalette|crate|bin$|trash|garbage|litter|"
     r"pillar_box|grit_|oil-tanks|pressurevessel|heap|bale|kontener|extinguisher|hydrant|pump|pompe|"
     r"transformer(?!station)|trafo|transf\d|condenser|machines|switch_control|appliance_room|"
     r"^(ahm|asm|ast|ats|acc|bacc|bahm|bahn)\d", "container"),
    (r"cow|horse|sheep|dolphin|elephant|swan|duck|gull|kestrel|bird|fauna", "animal"),
)

# Tall buildings named 'tower' in these folders are buildings; a 'tour' elsewhere is a control tower.
BUILDING_FOLDERS = ("/commercial/", "/residential/")
# Files whose name misleads the rules (lower-case path relative to the data root, without '.ac').
CLASS_OVERRIDES: dict[str, str] = {
    "scenery/models/aircraft/lftwsab": "building",  # Nimes-Garons airport buildings filed under Aircraft
    "scenery/models/aircraft/lftwtw": "tower",
    "scenery/models/airport/av8jet": "building",  # an aviation company's hangar
    "scenery/models/misc/stvaast": "building",  # churches named after places
    "scenery/models/misc/steannedij": "building",
    "scenery/models/misc/vicmar_1": "helicopter",
}

# Class of a folder (lower-case path fragment) when no name rule matches.
FOLDER_CLASSES: tuple[tuple[str, str], ...] = (
    ("scenery/models/aircraft/", "airplane"),
    ("/models/aircraft/", "airplane"),
    ("/aircraft/c172p/", "airplane"),
    ("/maritime/civilian/", "watercraft"),
    ("/maritime/military/", "watercraft"),
    ("/jetway/", "bridge"),
    ("/airport/vehicle/", "truck"),
    ("/airport/pushback/", "truck"),
    ("/transport/", "truck"),
    ("/fauna/", "animal"),
    ("/trees/", "tree"),
    ("/boundaries/", "fence"),
    ("/communications/", "tower"),
    ("/models/geometry/", "misc"),
    ("/aircraft/ufo/", "misc"),
    ("/streetfurniture/", "misc"),
    ("/sport/", "misc"),
    ("/maritime/", "misc"),
    ("/misc/", "misc"),
    ("", "building"),  # Airport, Residential, Commercial, Industrial, Agriculture, Buildings, Military, Power, Objects
)

# Classes with a front (turned so that it faces +z); the others keep their file orientation.
DIRECTED = {"airplane", "helicopter", "car", "truck", "bus", "train", "watercraft", "motorbike", "cart"}

# Per-model corrections found on renders: path (lower case, no '.ac') -> where the nose is.
NOSE_OVERRIDES: dict[str, str] = {
    "scenery/models/transport/it_policecar1": "+z",
    "scenery/models/transport/vwgolfsilver": "+z",
    "scenery/models/transport/bus-ba": "+z",
    "scenery/models/transport/bus_bi-ba": "+z",
    "scenery/models/transport/bus_bi_turn-ba": "+z",
    "scenery/models/transport/busgr-ba": "+z",
    # high-wing aircraft, whose wing is as high as the fin
    "scenery/models/aircraft/cessna185": "-z",
    "scenery/models/aircraft/c180jred1": "-z",
    "scenery/models/aircraft/huskyyellow1": "-z",
    "scenery/models/aircraft/pa181": "-z",
    "scenery/models/aircraft/dhc2-baroudeur": "-x",
    "scenery/models/aircraft/hr200blue1": "+z",
    # helicopters (FlightGear's -x rule, else these)
    "scenery/models/aircraft/ec-135-gendarmerie": "+x",
    "scenery/models/aircraft/ec145-securite_civile": "+x",
    "scenery/models/aircraft/ec-135_bgs-ba": "+z",
    "scenery/models/aircraft/ec-135_douane": "+z",
    "scenery/models/aircraft/helicopter_esquilob2": "+z",
    "models/geometry/tuxcopter": "+z",
}

# Helper objects of single files (path as above -> regular expression on object names).
FILE_EXCLUDES: dict[str, str] = {
    "models/transport/ice3firstcar": r"^(sphere|line)$",
}

# Name variants (see variant_key): colour words, level-of-detail / resolution tags, author tags, sizes.
_COLOURS = (r"black|white|red|green|blue|yellow|orange|grey|gray|grau|silver|tan|brown|maroon|lavender|gold|"
            r"purple|pink|beige|dark|light|sky|clear|rusty|dirty|striped|odrab|sand")
_VARIANT_TOKENS = re.compile(
    rf"(?<![a-z])(?:{_COLOURS})(?:sail)?\d*(?![a-z])"  # a colour token: _red, -blue2, _bluesail
    r"|(?<![a-z])(?:low[-_]?poly|lowres|low|hi|high|medpoly|lod\d*|ba|obst|lit|unlit|static|obj\d*|"
    r"fr_reg|no_reg|reg)(?![a-z])"
    r"|(?<![0-9.])\d+(?:\.\d+)?(?:m|ft)(?![a-z0-9])"  # sizes: 20m, 21ft, tank10m
)
_COLOUR_SUFFIX = re.compile(rf"(?<=[a-z]{{3}})(?:{_COLOURS})\d*$")


def variant_key(relpath: str) -> str:
    """The folder and file stem with colour words, LOD / resolution tags, author tags (-ba) and
    sizes removed: 'Transport/camaroblue.ac' and 'Transport/camarored.ac' share 'transport/camaro'."""
    path = re.sub(r"^(scenery/)?models/", "", relpath.lower())
    folder, _, stem = path.rpartition("/")
    stem = re.sub(r"\.ac$", "", stem)
    for _ in range(3):
        stripped = _VARIANT_TOKENS.sub("", stem)
        stripped = _COLOUR_SUFFIX.sub("", re.sub(r"[-_ .]+$", "", stripped))
        stripped = re.sub(r"[-_ .]+", "_", stripped).strip("_")
        if stripped == stem:
            break
        stem = stripped
    return f"{folder}/{stem or 'x'}"


def classify(relpath: str) -> str | None:
    """The class of a model from its path relative to the FlightGear data root, or None for what is
    not an object (lights, effects, clouds, ground markings, shadows, LOD copies …)."""
    path = "/" + relpath.replace("\\", "/").lower()
    if NOT_OBJECTS.search(path):
        return None
    override = CLASS_OVERRIDES.get(re.sub(r"\.ac$", "", path[1:]))
    if override:
        return override
    stem = re.sub(r"\.ac$", "", path.rsplit("/", 1)[-1])
    in_aircraft = "/scenery/models/aircraft/" in path or path.startswith("/models/aircraft/") or "/aircraft/c172p/" in path
    for pattern, category in NAME_RULES:
        if re.search(pattern, stem):
            if in_aircraft and category not in ("helicopter", "cart", "truck", "person"):
                return "airplane"  # aircraft liveries name airlines ('...-american'), not classes
            if category == "tower" and any(f in path for f in BUILDING_FOLDERS):
                return "building"
            if category == "animal" and "/fauna/" not in path and re.search(r"farm|stable|barn", stem):
                return "building"
            return category
    for fragment, category in FOLDER_CLASSES:
        if fragment in path:
            return category
    return "misc"


def nose_axis(relpath: str, category: str, extents, top=None) -> str | None:
    """Where the model's front is in the file ('-x', '+x', '-z', '+z'), None for undirected classes.

    FlightGear puts noses at -x; vehicles modelled along z (the long horizontal side is z) mostly
    have the nose at -z. An airplane's fin is the highest point of its plane of symmetry, at the
    tail: ``top`` (ac3d.geometry_digest) decides when one of its offsets is clearly off centre,
    else the -x rule (a wing span may be longer than the fuselage). ``NOSE_OVERRIDES`` has the
    exceptions seen on renders."""
    key = re.sub(r"\.ac$", "", relpath.lower())
    if key in NOSE_OVERRIDES:
        return NOSE_OVERRIDES[key]
    if category not in DIRECTED:
        return None
    if category == "airplane" and top is not None:
        dx, dz = (float(v) for v in top)
        if max(abs(dx), abs(dz)) > 0.2:
            if abs(dx) >= abs(dz):
                return "-x" if dx > 0 else "+x"
            return "-z" if dz > 0 else "+z"
    if category in ("airplane", "helicopter"):
        return "-x"
    ex, _, ez = (float(v) for v in extents)
    return "-z" if ez > ex * 1.15 else "-x"


# Rotations (row-major 3x3, p' = R p) that bring the nose to +z, y staying up.
NOSE_TO_FRONT = {
    "-x": [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0],
    "+x": [0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
    "-z": [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
    "+z": None,
}

# Object names dropped at load time: helper geometry (light cones, halos, shadows) that would
# dwarf the model (the c172p's 200 m landing-light cone).
HELPER_OBJECTS = re.compile(r"light.?cone|cone.?light|halo|shadow|glow|flare|procedural|lightmap|beam|wake|flash|"
                            r"sillage|bow.?wave|spray", re.I)


DIGEST_VERSION = 5  # bump when geometry_digest changes, so that cached digests are recomputed


def _digest_all(files: dict[str, Path], cache_path: Path) -> dict[str, dict]:
    """Content hash plus ac3d.geometry_digest for each file (cached by size and mtime)."""
    from ..ac3d import geometry_digest, parse_ac

    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    out, changed = {}, False
    for key, path in files.items():
        stat = path.stat()
        stamp = f"{DIGEST_VERSION}:{stat.st_size}:{int(stat.st_mtime)}"
        hit = cache.get(key)
        if hit and hit.get("stamp") == stamp:
            out[key] = hit
            continue
        data = path.read_bytes()
        record = {"stamp": stamp, "sha1": hashlib.sha1(data).hexdigest()}
        try:
            record.update(geometry_digest(parse_ac(data.decode("latin-1")), exclude=HELPER_OBJECTS))
        except ValueError as err:
            record["error"] = str(err)[:200]
        out[key] = cache[key] = record
        changed = True
    if changed:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_path)
    return out


def usable(digest: dict, min_triangles: int = 4, min_flatness: float = 0.03) -> str:
    """'' when a parsed model can be used, else why not (no triangles, a flat ground decal, a parse error)."""
    if digest.get("error"):
        return f"unreadable: {digest['error']}"
    if digest.get("triangles", 0) < min_triangles:
        return "no geometry"
    ex, ey, ez = digest["extents"]
    if max(ex, ey, ez) > 20 * max(max(digest.get("robust", digest["extents"])), 1e-9):
        return "stray vertices"  # a few vertices far away would shrink the model to a dot
    if max(ex, ey, ez) <= 0 or ey < min_flatness * max(ex, ey, ez):
        return "flat"
    return ""


def dedupe(candidates: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Merge duplicates among candidates (dicts with key, category, sha1, hash, triangles): the same
    bytes, the same normalised mesh, or the same variant_key with the same class. The most
    detailed (most triangles; then the shortest key) of each group is kept. Returns the kept ones
    and, for each dropped key, the key it was merged into."""
    parent = {c["key"]: c["key"] for c in candidates}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    groups: dict[tuple, list[str]] = defaultdict(list)
    for c in candidates:
        groups[("sha1", c.get("sha1"))].append(c["key"])
        if c.get("hash"):
            groups[("mesh", c["hash"])].append(c["key"])
        groups[("name", c["category"], variant_key(c["key"].split(":", 1)[-1]))].append(c["key"])
    for (kind, value, *_), keys in groups.items():
        if value is None:
            continue
        for k in keys[1:]:
            ra, rb = find(keys[0]), find(k)
            if ra != rb:
                parent[rb] = ra
    by_root: dict[str, list[dict]] = defaultdict(list)
    for c in candidates:
        by_root[find(c["key"])].append(c)
    kept, merged = [], {}
    for members in by_root.values():
        best = min(members, key=lambda c: (-c.get("triangles", 0), len(c["key"]), c["key"]))
        kept.append(best)
        for c in members:
            if c is not best:
                merged[c["key"]] = best["key"]
    return sorted(kept, key=lambda c: c["key"]), merged


def _creator(model: Path) -> str:
    """An <author> from the model's XML wrapper (same stem), when it has one."""
    xml = model.with_suffix(".xml")
    if not xml.is_file():
        return ""
    try:
        text = xml.read_text(errors="replace")[:20000]
    except OSError:
        return ""
    m = re.search(r"<author>\s*([^<]{2,120}?)\s*</author>", text, re.I)
    return re.sub(r"\s+", " ", m.group(1)).strip() if m else ""


def _licence(copyright_text: str) -> str:
    """The licence of 'Files: *' in a debian/copyright ('' when none is stated)."""
    m = re.search(r"^Files:\s*\*\s*$.*?^License:\s*(\S+)", copyright_text, re.M | re.S)
    return m.group(1) if m else ""


FREE_LICENCES = {"GPL-2+", "GPL-2", "GPL-3+", "GPL-3", "LGPL-2+", "LGPL-2.1+", "CC-BY-SA-3.0", "CC-BY-4.0", "CC0-1.0",
                 "Free-Art-License", "Expat", "BSD-3-clause"}


@register
class FlightGear(Source):
    name = "flightgear"
    packages = PACKAGES
    credit = ("3D models from FlightGear (Debian packages `flightgear-data-base` and `flightgear-data-models`): "
              "scenery models (aircraft, ships, vehicles, trains, buildings, towers, bridges, people, animals) "
              "by Curtis L. Olson and the FlightGear contributors (see FlightGear's Thanks file and the "
              "FlightGear Scenery Object Database), under the GNU GPL version 2 or later.")

    def entries(self, work: Path, source: Path | None = None) -> list[ModelEntry]:
        from ..debian import copyright_text, fetch_and_unpack, slug

        files: dict[str, Path] = {}
        roots: dict[str, Path] = {}
        licence_of: dict[str, str] = {}
        for package in PACKAGES:
            unpacked = fetch_and_unpack(package, work, source)
            licence = _licence(copyright_text(unpacked, package))
            if licence not in FREE_LICENCES:
                logger.warning("%s: licence %r is not known to be free; skipped", package, licence)
                continue
            licence_of[package] = licence
            root = roots[package] = unpacked / ROOT
            found = [p for folder in SCAN if (root / folder).is_dir() for p in (root / folder).rglob("*.ac")]
            found += [root / f for f in EXTRA_FILES if (root / f).is_file()]
            for path in sorted(set(found)):
                rel = path.relative_to(root).as_posix()
                files[f"{package}:{rel}"] = path
        classes = {key: classify(key.split(":", 1)[1]) for key in files}
        wanted = {key: path for key, path in files.items() if classes[key]}
        digests = _digest_all(wanted, work / "flightgear-digests.json")
        candidates = []
        for key in sorted(wanted):
            digest = digests[key]
            if usable(digest):
                continue
            candidates.append({"key": key, "category": classes[key], **digest})
        kept, _ = dedupe(candidates)
        entries = []
        for c in kept:
            package, rel = c["key"].split(":", 1)
            stem = re.sub(r"^(scenery/models|scenery/objects|models|aircraft)/", "", rel.lower())
            stem = re.sub(r"\.ac$", "", stem)
            nose = nose_axis(rel, c["category"], c["extents"], c.get("top"))
            path = wanted[c["key"]]
            key = re.sub(r"\.ac$", "", rel.lower())
            entries.append(ModelEntry(
                object_id=f"flightgear-{slug(stem)}",
                name=re.sub(r"[-_]+", " ", path.stem).strip(),
                category=c["category"],
                source=self.name,
                model=str(path),
                creator=_creator(path) or "FlightGear contributors",
                license=licence_of[package],
                package=package,
                rotation=NOSE_TO_FRONT[nose] if nose else None,
                extra={"path": rel, "texture_dirs": [str(path.parent / "Textures"), str(roots[package])],
                       **({"exclude": FILE_EXCLUDES[key]} if key in FILE_EXCLUDES else {})},
            ))
        return entries

    def load(self, entry: ModelEntry):
        from ..ac3d import load_ac

        exclude = HELPER_OBJECTS
        if entry.extra.get("exclude"):
            exclude = re.compile(f"{HELPER_OBJECTS.pattern}|{entry.extra['exclude']}", re.I)
        scene = load_ac(entry.model, texture_dirs=entry.extra.get("texture_dirs", ()), max_texture=512,
                        exclude=exclude)
        if not scene.geometry:
            raise ValueError("no triangles")
        return scene
