"""Soak test: launch the demo on 127.0.0.1 and drive it with concurrent clients (gradio_client and raw HTTP).

Each client (its own X-Forwarded-For address; the server runs with LDDBM_BEHIND_PROXY=1) sends, for a
bounded count and time, a mix of good requests (views -> 3D, a new view, super-resolution, digits) and
every entry of the bad-input catalogue: broken, empty, wrong-type, huge, bomb and foreign files (EPS, PDF,
PSD, SVG, corrupt TIFF / QOI / AVIF, a bad CRC, a 20 MB text chunk, huge EXIF / ICC, 1000 GIF frames,
16 x 60000 strips) to every endpoint that takes an image; strings, lists, booleans, NaN and Infinity in
number and checkbox fields (sent raw: gradio_client's JSON encoder refuses NaN); a 5 MiB choice string;
file references that are not uploads (/etc/passwd, app.py, data: and http URLs); oversized and
too-many-layer sketches; malformed, chunked and oversized HTTP requests, multi-range file requests and
file-serving probes; ×8 super-resolution on the ×4 examples. Every answer is classed as

- served: a result came back (for super-resolution: no returned file over 2 MB, so no text chunk copied);
- refused: an error message came back that says what to do and shows no traceback (a 4xx with a
  message for HTTP-level probes; a refusal echoing a huge value, 500 characters or more, is a failure);
- failed: anything else (no message, a traceback or Python exception text shown, an HTTP 500, a dropped
  connection, a probe that served a file it should not, a dead server).

Then the scenarios: one client sending 8 jobs at once (at most 4 taken), 12 heavy requests at once from
12 clients (the log's "heavy work started ... peak P" must stay <= 2), 30 jobs nobody reads then one
ordinary request (its latency; how many of the 30 ran), and a disk flood (concurrent 200 MB upload
requests against the disk cap, the store sampled every 0.1 s). The server runs under an address-space
cap (RLIMIT_AS, --mem-cap-gb; 12 GiB starts torch on CPU fine) and its RSS is sampled every 0.25 s;
rss_mb.peak_over_warm is the peak over the RSS after one good request per endpoint.

It writes JSON: counts, p50/p95 latency per task, RSS and disk use over time, the scenarios, the
catalogue with each kind's outcome and error lines of the server log. The README's "Reliability" table
comes from it.

    python benchmarks/soak.py --clients 8 --requests 300 --max-seconds 600 --json results/soak.json
    python benchmarks/soak.py --clients 4 --requests 0 --good-every 12 --max-seconds 240 --sr8-examples 1 \
        --heavy-at-once 12 --unread-jobs 30  # CI (tests/test_soak.py): the catalogue once, every scenario
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # lddbm from this checkout, installed or not

from lddbm.serving import tree_bytes  # noqa: E402

TRACEBACK_SIGNS = ("Traceback", 'File "', "Error(", "Exception:", "errno", "/site-packages/", "NoneType")


# ---- the bad-input catalogue ------------------------------------------------------------------------


def png_bomb(path: Path, side: int = 100_000) -> None:
    """A tiny PNG whose header claims side x side pixels (decoding it would need ~30 GB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def make_files(folder: Path) -> dict[str, Path]:
    """Bad (and odd but valid) image files, by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    f: dict[str, Path] = {}

    def save(name: str, image: Image.Image, fmt: str = "PNG", **kw) -> None:
        f[name] = folder / f"{name}.{fmt.lower().replace('jpeg', 'jpg')}"
        image.save(f[name], format=fmt, **kw)

    rgb = Image.fromarray((np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8))
    save("ok_rgb", rgb)
    data = (folder / "ok_rgb.png").read_bytes()
    f["truncated"] = folder / "truncated.png"
    f["truncated"].write_bytes(data[: len(data) // 2])
    f["zero_byte"] = folder / "zero_byte.png"
    f["zero_byte"].write_bytes(b"")
    f["text_as_png"] = folder / "text_as_png.png"
    f["text_as_png"].write_text("this is not an image")
    f["html"] = folder / "page.html"
    f["html"].write_text("<html><script>alert(1)</script></html>")
    f["random_bytes"] = folder / "noise.jpg"
    f["random_bytes"].write_bytes(os.urandom(5000))
    png_bomb(folder / "bomb.png")
    f["bomb"] = folder / "bomb.png"
    save("huge_pixels", Image.new("L", (9000, 9000), 128))  # compresses small, 81 megapixels
    save("one_pixel", Image.new("RGB", (1, 1), (200, 10, 10)))
    save("thin", Image.new("RGB", (2000, 3), (10, 200, 10)))
    save("palette", rgb.convert("P"))
    save("cmyk", rgb.convert("CMYK"), "JPEG")
    save("grey16", Image.fromarray((np.arange(96 * 96).reshape(96, 96) * 7).astype(np.uint16)))
    save("rgba_transparent", Image.new("RGBA", (64, 64), (0, 0, 0, 0)))
    save("la", rgb.convert("LA"))
    save("one_bit", rgb.convert("1"))
    save("webp", rgb, "WEBP")
    save("tiff", rgb, "TIFF")
    save("bmp", rgb, "BMP")
    frames = [Image.new("RGB", (64, 64), (i * 40, 0, 0)) for i in range(4)]
    f["animated_gif"] = folder / "anim.gif"
    frames[0].save(f["animated_gif"], save_all=True, append_images=frames[1:], duration=100)
    exif = rgb.copy()
    save("exif_rotated", exif, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00")
    # extreme sides and aspects: a few KB each, within the pixel limit (16 x 60000 is under 1 MP)
    for name, size in EXTREME_SIZES.items():
        save(name, Image.new("L", size, 200))
    # corrupt or foreign files
    pages = [Image.new("RGB", (64, 64), (0, i * 90, 0)) for i in range(2)]
    two = io.BytesIO()
    pages[0].save(two, format="TIFF", save_all=True, append_images=pages[1:])
    f["tiff_multipage_corrupt"] = folder / "two_pages.tif"
    f["tiff_multipage_corrupt"].write_bytes(scramble_second_ifd(two.getvalue()))
    qoi = io.BytesIO()
    rgb.save(qoi, format="QOI")
    f["qoi_corrupt"] = folder / "qoi_named.png"  # the header, then a scrap of the pixel stream (.png: past the type filter)
    f["qoi_corrupt"].write_bytes(qoi.getvalue()[:14] + bytes(64))
    avif = io.BytesIO()
    rgb.save(avif, format="AVIF")
    f["avif_corrupt"] = folder / "corrupt.avif"  # the container whole, the coded picture cut short
    f["avif_corrupt"].write_bytes(avif.getvalue()[: len(avif.getvalue()) * 3 // 5])
    save("lab_tiff", Image.new("LAB", (64, 64), (50, 10, 10)), "TIFF")
    eps = ("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 20000 20000\n%%EndComments\n"
           "newpath 0 0 moveto 100 100 lineto stroke showpage\n%%EOF\n")
    f["eps"] = folder / "drawing.eps"
    f["eps"].write_text(eps)
    f["eps_as_png"] = folder / "eps_named.png"  # past the file-type filter: the decoder whitelist must refuse it
    f["eps_as_png"].write_text(eps)
    rgb.save(folder / "doc.pdf", format="PDF")
    f["pdf"] = folder / "doc.pdf"
    f["pdf_as_png"] = folder / "pdf_named.png"
    f["pdf_as_png"].write_bytes(f["pdf"].read_bytes())
    f["psd_header"] = folder / "layers_named.png"  # a Photoshop header claiming 30000 x 30000 x 4 channels
    f["psd_header"].write_bytes(b"8BPS" + struct.pack(">H6xHIIHH", 1, 4, 30000, 30000, 8, 3) + bytes(64))
    f["svg"] = folder / "vector.svg"
    f["svg"].write_text('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000">'
                        '<rect width="100000" height="100000" fill="red"/></svg>')
    f["svg_as_png"] = folder / "vector_named.png"
    f["svg_as_png"].write_text(f["svg"].read_text())
    info = PngInfo()
    info.add_text("comment", "x" * HUGE_TEXT_BYTES)
    save("png_huge_text", rgb, pnginfo=info)
    save("jpeg_huge_exif_icc", rgb, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + os.urandom(60_000),
         icc_profile=os.urandom(4 * 2**20))
    many = [Image.new("L", (32, 32), i % 200) for i in range(1000)]
    for i, frame in enumerate(many):
        frame.putpixel((i % 32, i // 32 % 32), 255)  # no two frames alike (PIL merges equal ones)
    f["gif_1000_frames"] = folder / "many_frames.gif"
    many[0].save(f["gif_1000_frames"], save_all=True, append_images=many[1:], duration=20)
    png = bytearray((folder / "ok_rgb.png").read_bytes())
    png[29] ^= 0xFF  # the IHDR chunk's CRC (bytes 29-32)
    f["png_bad_crc"] = folder / "bad_crc.png"
    f["png_bad_crc"].write_bytes(bytes(png))
    return f


def scramble_second_ifd(tiff: bytes) -> bytes:
    """A little-endian TIFF with the bytes of its second IFD (the second page's directory) scrambled."""
    assert tiff[:2] == b"II", "PIL writes little-endian TIFF"
    first = struct.unpack_from("<I", tiff, 4)[0]
    entries = struct.unpack_from("<H", tiff, first)[0]
    second = struct.unpack_from("<I", tiff, first + 2 + 12 * entries)[0]
    data = bytearray(tiff)
    rng = random.Random(7)
    for i in range(second + 2, min(second + 2 + 12 * 8, len(data))):
        data[i] = rng.randrange(256)
    return bytes(data)


def sketch_files(folder: Path) -> dict[str, Path]:
    """Sketchpad layers: a 9000 x 9000 RGBA layer (a few hundred KB as PNG), a small one, a text file."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"huge": folder / "layer_9000.png", "small": folder / "layer_64.png", "text": folder / "layer_text.png"}
    Image.new("RGBA", (9000, 9000), (0, 0, 0, 0)).save(out["huge"], compress_level=1)
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(out["small"])
    out["text"].write_text("not a drawing")
    return out


GOOD_FILE_KINDS = ("ok_rgb", "one_pixel", "palette", "cmyk", "grey16", "la", "one_bit", "webp", "tiff", "bmp",
                   "animated_gif", "exif_rotated", "rgba_transparent", "thin", "lab_tiff", "png_huge_text",
                   "jpeg_huge_exif_icc", "gif_1000_frames")
SERVED_FILE_KINDS = {("super_resolve", "png_huge_text")}  # must be served (and its outputs small: no text copied)
SMALL_OUTPUT_BYTES = 2 * 2**20  # a served output file larger than this carried the upload's metadata along


class Up:
    """A file a raw API request uploads first (POST /gradio_api/upload) and then names as Gradio FileData."""

    def __init__(self, path):
        self.path = str(path)

    def __repr__(self) -> str:
        return f"Up({Path(self.path).name})"


@dataclass
class Request:
    kind: str  # catalogue name
    task: str  # an endpoint (sent with gradio_client) | api (raw JSON to /gradio_api/call) | http | upload | probe
    args: tuple = ()
    expect: str = "any"  # "served", "refused" or "any" (an odd but valid input may be served or refused)
    check: str = ""  # small_outputs: served files under SMALL_OUTPUT_BYTES; short_message: a refusal under 500 chars


# arguments after the image(s) of each endpoint, as a visitor leaves them (small steps: the soak is about inputs)
GOOD_ARGS = {
    "views_to_3d": (True, 0.75, 2, "dbim", 1.0, 0.0, 0, False, 0.5, 1),
    "new_view": (True, 0.75, 90, 25, 2, "dbim", 1.0, 0.0, 0, False),
    "orbit": (True, 0.75, 25, 4, 1, "dbim", 1.0, 0.0, 0, False),
    "super_resolve": ("×4", 2, "dbim", 1.0, 0.0, 0, False, "downscale", 1),
    "printed_to_handwritten": (2, 4, "dbim", 1.0, 0.5, 0, False, 1),
    "sketch_to_printed": ("none", 0.0, 1.0, 2, 4, "dbim", 1.0, 0.5, 0, False, 1),
    "translate_vector": (0.1, -0.2, 0.3, 4, "heun", 1.0, 0.0, 0),
}
GALLERY_TASKS = ("views_to_3d", "new_view", "orbit")
IMAGE_TASKS = ("super_resolve", "printed_to_handwritten")
# position of each named argument in the full argument list (the image / views / sketch first)
ARG_INDEX = {
    "views_to_3d": dict(remove_background=1, object_size=2, steps=3, sampler=4, guidance=5, randomness=6, seed=7,
                        random_seed=8, threshold=9, samples=10),
    "new_view": dict(remove_background=1, object_size=2, azimuth=3, elevation=4, steps=5, sampler=6, seed=9,
                     random_seed=10),
    "orbit": dict(elevation=3, count=4, steps=5, seed=9),
    "super_resolve": dict(scale=1, steps=2, sampler=3, guidance=4, randomness=5, seed=6, random_seed=7, large_images=8,
                          ensemble=9),
    "printed_to_handwritten": dict(samples=1, steps=2, sampler=3, seed=6, random_seed=7, candidates=8),
    "sketch_to_printed": dict(label=1, sketch_weight=2, label_weight=3, samples=4, steps=5, seed=9, random_seed=10,
                              candidates=11),
    "translate_vector": dict(centre_x=0, radius=2, steps=3, seed=7),
}
EXTREME_SIZES = {"strip_16x60000": (16, 60000), "strip_60000x16": (60000, 16), "aspect_40x8000": (40, 8000),
                 "wide_8200x400": (8200, 400)}
HUGE_TEXT_BYTES = 20 * 2**20
BIG_STRING = "x" * (5 * 2**20)


def finite(value) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def catalogue(files: dict[str, Path], examples: list[list[str]], sr_images: list[str], *,
              nv_views: list[str] | None = None, printed: list[str] | None = None, handwritten: list[str] | None = None,
              sketch: dict[str, Path] | None = None, sr8: int = 0) -> list[Request]:
    """Good requests and the bad-input catalogue (one Request per kind)."""
    from gradio_client import handle_file

    def gallery(paths):
        return [{"image": handle_file(str(p)), "caption": None} for p in paths]

    def raw_gallery(paths):
        return [{"image": Up(p), "caption": None} for p in paths]

    good3d, goodsr = GOOD_ARGS["views_to_3d"], GOOD_ARGS["super_resolve"]
    views = examples[0][:4]
    nv_views = nv_views or views
    printed = printed or sr_images
    first = {"views_to_3d": views[:1], "new_view": nv_views[:1], "orbit": nv_views[:1],
             "super_resolve": sr_images[0], "printed_to_handwritten": printed[0]}

    def full(task: str, raw: bool = False, image=None) -> list:
        """The task's good argument list, its image(s) first (uploaded by the client or, raw, by us)."""
        if task in GALLERY_TASKS:
            paths = first[task] if image is None else [image]
            head = raw_gallery(paths) if raw else gallery(paths)
        elif task in IMAGE_TASKS:
            path = first[task] if image is None else image
            head = Up(path) if raw else handle_file(str(path))
        elif task == "sketch_to_printed":
            path = handwritten[0] if handwritten else printed[0]
            head = {"background": None, "layers": [], "composite": Up(path) if raw else handle_file(str(path))}
        else:
            return list(GOOD_ARGS[task])
        return [head, *GOOD_ARGS[task]]

    out = [Request("good_3d", "views_to_3d", (gallery(views), *good3d), "served"),
           Request("good_sr", "super_resolve", (handle_file(sr_images[0]), *goodsr), "served"),
           Request("good_new_view", "new_view", tuple(full("new_view")), "served"),
           Request("good_p2h", "printed_to_handwritten", tuple(full("printed_to_handwritten")), "served")]
    if handwritten:
        out.append(Request("good_sketch", "sketch_to_printed", tuple(full("sketch_to_printed")), "served"))
    # every bad or odd file to every endpoint that takes one: the extreme sizes to all five
    for name, path in files.items():
        expect = "any" if name in GOOD_FILE_KINDS else "refused"
        prefix = {"views_to_3d": "3d", "super_resolve": "sr", "printed_to_handwritten": "p2h",
                  "new_view": "nv", "orbit": "orbit"}
        tasks = ["views_to_3d", "super_resolve"] + (["printed_to_handwritten"] if expect == "refused" else [])
        if name in EXTREME_SIZES:
            tasks += ["new_view", "orbit"]
        for task in tasks:
            if name == "png_huge_text" and task != "super_resolve":
                continue  # one 20 MB upload is enough
            served = (task, name) in SERVED_FILE_KINDS
            out.append(Request(f"{prefix[task]}_file_{name}", task, tuple(full(task, image=path)),
                               "served" if served else expect,
                               "small_outputs" if task == "super_resolve" else ""))
    out += [Request("3d_no_views", "views_to_3d", ([], *good3d), "refused"),
            Request("3d_too_many_views", "views_to_3d", (gallery(views * 4), *good3d), "refused"),
            Request("sr_no_file", "super_resolve", (None, *goodsr), "refused")]

    def numeric(task: str, prefix: str, table: dict) -> None:
        """Absurd values, by argument name; non-finite ones go out raw (as NaN / Infinity JSON: the client's
        JSON encoder refuses them, so through gradio_client they would never reach the server)."""
        for name, values in table.items():
            for v in values:
                raw = not finite(v) or isinstance(v, (str, list, bool)) and ARG_INDEX[task][name] not in (
                    ARG_INDEX[task].get("sampler"), ARG_INDEX[task].get("scale"), ARG_INDEX[task].get("label"))
                args = full(task, raw=raw)
                args[ARG_INDEX[task][name]] = v
                label = f"{prefix}_{name}_{v if not isinstance(v, str) or len(v) < 20 else f'{len(v)}_chars'}"
                check = "short_message" if isinstance(v, str) and len(v) > 1000 else ""
                out.append(Request(label, "api" if raw else task, (task, args) if raw else tuple(args), "refused", check))

    numeric("views_to_3d", "3d", {
        "object_size": [float("nan"), -1, 50, "abc", float("-inf")], "steps": [0, 10**6, float("nan"), 2.5, "abc", [1, 2], True],
        "guidance": [float("nan"), 1e9], "randomness": [-1, 7, float("nan"), float("inf")],
        "seed": [1e23, -5, float("nan"), 2**40, "abc", False, float("inf")], "threshold": [2.0, -0.5, float("nan"), "abc"],
        "samples": [0, 100, float("nan"), "abc"], "remove_background": ["false"], "random_seed": ["false", 1],
        "sampler": ["fast", "euler", "", BIG_STRING]})
    numeric("super_resolve", "sr", {
        "scale": ["×3", "", BIG_STRING], "steps": [0, 10**6, float("nan"), "abc", [2]], "seed": [1e23, -1, "abc", float("inf")],
        "random_seed": ["false"], "sampler": [BIG_STRING], "large_images": ["stretch"],
        "ensemble": [3, 0, 100, float("nan"), "abc"]})
    numeric("new_view", "nv", {"azimuth": ["abc", float("nan"), 1e6], "elevation": [float("inf"), -10],
                               "remove_background": ["false"]})
    numeric("orbit", "orbit", {"count": ["abc", 10**6, float("nan")]})
    numeric("printed_to_handwritten", "p2h", {"samples": ["abc", float("nan"), 1000], "candidates": [float("inf"), 0],
                                              "random_seed": ["false"]})
    numeric("sketch_to_printed", "sketch", {"label": ["abc", "11"], "label_weight": ["abc", float("nan"), 1e9],
                                            "samples": [True]})
    numeric("translate_vector", "vector", {"centre_x": ["abc", float("nan")], "radius": [float("inf"), [0.1]],
                                           "steps": ["abc"]})
    # files that are not uploads: other server paths, URLs the server would fetch, data: URLs
    meta = {"_type": "gradio.FileData"}
    refs = {"etc_passwd": {"path": "/etc/passwd", "meta": meta},
            "app_py_no_meta": {"path": str(ROOT / "app.py")},
            "data_url": {"path": None, "url": "data:image/png;base64," + "iVBORw0KGgo=", "meta": meta},
            "localhost_url": {"path": "http://127.0.0.1:{port}/gradio_api/file=app.py",
                              "url": "http://127.0.0.1:{port}/config", "meta": meta}}
    for name, ref in refs.items():
        for task, prefix in (("views_to_3d", "3d"), ("super_resolve", "sr"), ("printed_to_handwritten", "p2h")):
            args = full(task, raw=True)
            args[0] = [{"image": ref, "caption": None}] if task in GALLERY_TASKS else ref
            out.append(Request(f"{prefix}_ref_{name}", "api", (task, args), "refused"))
    if handwritten:
        args = full("sketch_to_printed", raw=True)
        args[0] = {"background": None, "layers": [refs["etc_passwd"]], "composite": None}
        out.append(Request("sketch_ref_etc_passwd", "api", ("sketch_to_printed", args), "refused"))
    # the Sketchpad: huge layers (tiny as PNG), too many layers, a text file as a layer
    if sketch and handwritten:
        def pad(background=None, layers=(), composite=None):
            args = full("sketch_to_printed")
            args[0] = {"background": background and handle_file(str(background)),
                       "layers": [handle_file(str(p)) for p in layers],
                       "composite": composite and handle_file(str(composite))}
            return tuple(args)

        out += [Request("sketch_six_9000px_layers", "sketch_to_printed", pad(layers=[sketch["huge"]] * 6), "refused"),
                Request("sketch_one_9000px_layer", "sketch_to_printed", pad(layers=[sketch["huge"]]), "refused"),
                Request("sketch_9000px_composite", "sketch_to_printed", pad(composite=sketch["huge"]), "refused"),
                Request("sketch_9000px_background", "sketch_to_printed", pad(background=sketch["huge"]), "refused"),
                Request("sketch_ten_small_layers", "sketch_to_printed", pad(layers=[sketch["small"]] * 10), "refused"),
                Request("sketch_text_layer", "sketch_to_printed", pad(layers=[sketch["text"]]), "refused"),
                Request("sketch_nothing", "sketch_to_printed", pad(), "refused")]
    out.append(Request("upload_over_limit", "upload", (26 * 2**20,), "refused"))
    for probe in ("app.py", "checkpoints/multiview3d/model_index.json", "/etc/passwd", "../app.py", "..%2Fapp.py",
                  "%2Fetc%2Fpasswd", "lddbm/../app.py", "/proc/self/environ"):
        out.append(Request(f"probe_{probe}", "probe", (probe,), "refused"))
    for check in HTTP_CHECKS:
        out.append(Request(f"http_{check}", "http", (check,), "refused"))
    # ×8 on the shipped ×4 examples: served, with a sentence instead of PSNR against the (×4) original
    if sr8:
        for path in sr_images[:sr8]:
            args = list(goodsr)
            args[0], args[1] = "×8", 1
            out.append(Request(f"sr8_example_{Path(path).parent.name}", "super_resolve",
                               (handle_file(path), *args), "served", "small_outputs"))
    return out


# ---- raw HTTP ------------------------------------------------------------------------------------------


def file_data(server_path: str, name: str) -> dict:
    return {"path": server_path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def upload(http, path: str) -> str:
    """Upload one file the ordinary way; its path on the server."""
    with open(path, "rb") as fh:
        r = http.post("gradio_api/upload", files={"files": (Path(path).name, fh, "application/octet-stream")})
    r.raise_for_status()
    return r.json()[0]


def resolve(http, data, port: int):
    """``data`` with every Up uploaded (FileData in its place) and {port} filled into strings."""
    if isinstance(data, Up):
        return file_data(upload(http, data.path), Path(data.path).name)
    if isinstance(data, dict):
        return {k: resolve(http, v, port) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [resolve(http, v, port) for v in data]
    if isinstance(data, str) and "{port}" in data and len(data) < 200:
        return data.replace("{port}", str(port))
    return data


def error_text(data) -> str | None:
    """The message in an SSE error event's data (Gradio sends {"error": ...} or a string or null)."""
    if isinstance(data, dict):
        data = data.get("error") or data.get("message")
    return data if isinstance(data, str) and data.strip() else None


def call_api(http, api: str, data: list, timeout: float = 180) -> tuple[str, str, object]:
    """POST /gradio_api/call/<api> with ``data`` as JSON (NaN and Infinity as such), then read the result
    stream: (served | refused | failed, message, output data)."""
    body = json.dumps({"data": data})
    r = http.post(f"gradio_api/call/{api}", content=body, headers={"content-type": "application/json"})
    if r.status_code != 200:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text
        message = detail if isinstance(detail, str) else json.dumps(detail)[:300]
        ok = 400 <= r.status_code < 500 or r.status_code in (503, 507)
        return ("refused" if ok and message.strip() else "failed"), f"HTTP {r.status_code}: {message}", None
    event_id = r.json()["event_id"]
    event = None
    with http.stream("GET", f"gradio_api/call/{api}/{event_id}", timeout=timeout) as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line[5:].strip() or "null")
                if event == "complete":
                    return "served", "", payload
                message = error_text(payload)
                return ("refused" if message else "failed"), message or f"an error with no message: {payload!r}", None
    return "failed", "the result stream ended without a result", None


def raw_http(port: int, method: str, path: str, headers: dict | None = None, body=b"", *, chunked: bool = False,
             length: int | None = None, timeout: float = 60) -> tuple[int, str]:
    """One HTTP/1.1 request on a plain socket, so a server that answers before reading the whole body (a
    refused upload) is heard: the body (bytes, or an iterable of chunks) is sent while nothing has come
    back. Content-Length is ``length`` (default the body's size) unless ``chunked``. (status, body text);
    status 0 when the connection broke before any answer."""
    import select

    chunks = [body] if isinstance(body, (bytes, bytearray)) else body
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    elif method != "GET":
        head.append(f"Content-Length: {len(body) if length is None else length}")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    answer = b""
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for chunk in chunks:
            for i in range(0, len(chunk), 2**20):
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered already
                piece = chunk[i:i + 2**20]
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                except OSError:
                    break
            else:
                continue
            break
        else:
            if chunked:
                try:
                    sock.sendall(b"0\r\n\r\n")
                except OSError:
                    pass
        while True:
            try:
                got = sock.recv(65536)
            except OSError:
                break
            if not got:
                break
            answer += got
    finally:
        sock.close()
    if not answer.startswith(b"HTTP/"):
        return 0, answer[:200].decode("latin-1")
    status = int(answer.split(b" ", 2)[1])
    text = answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""
    return status, text.decode("utf-8", "replace")


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "soakboundary") -> tuple[dict, bytes]:
    """(headers, body) of a multipart/form-data request; a part's file name None leaves it out entirely."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: image/png\r\n\r\n").encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


def _ok_4xx(status: int, text: str, allowed=range(400, 500)) -> tuple[bool, str]:
    return status in allowed, f"HTTP {status}: {text[:160]}"


def check_part_without_filename(ctx) -> tuple[bool, str]:
    headers, body = multipart([("files", None, b"\x89PNG not really")])
    return _ok_4xx(*raw_http(ctx.port, "POST", "/gradio_api/upload", {**ctx.headers, **headers}, body))


def check_empty_filename(ctx) -> tuple[bool, str]:
    headers, body = multipart([("files", "", b"\x89PNG not really")])
    status, text = raw_http(ctx.port, "POST", "/gradio_api/upload", {**ctx.headers, **headers}, body)
    return status in (200, 400), f"HTTP {status}: {text[:160]}"


def check_malformed_multipart(ctx) -> tuple[bool, str]:
    """A part that never ends: refused (4xx), or read as no file at all (200 with an empty list)."""
    body = b"--soakboundary\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\nno end"
    status, text = raw_http(ctx.port, "POST", "/gradio_api/upload",
                            {**ctx.headers, "Content-Type": "multipart/form-data; boundary=soakboundary"}, body)
    return 400 <= status < 500 or status == 200 and text.strip() == "[]", f"HTTP {status}: {text[:160]}"


def check_multipart_without_boundary(ctx) -> tuple[bool, str]:
    return _ok_4xx(*raw_http(ctx.port, "POST", "/gradio_api/upload",
                             {**ctx.headers, "Content-Type": "multipart/form-data"}, b"abc"))


def check_upload_without_length(ctx) -> tuple[bool, str]:
    headers, body = multipart([("files", "a.png", b"\x89PNG" + bytes(1000))])
    status, text = raw_http(ctx.port, "POST", "/gradio_api/upload", {**ctx.headers, **headers}, body, chunked=True)
    return status == 411 or 400 <= status < 500, f"HTTP {status}: {text[:160]}"


def check_upload_length_too_big(ctx) -> tuple[bool, str]:
    """A Content-Length over the per-request limit, and no body: refused at once (413), nothing reserved."""
    headers, _ = multipart([])
    status, text = raw_http(ctx.port, "POST", "/gradio_api/upload", {**ctx.headers, **headers}, b"", length=400 * 2**20,
                            timeout=20)
    return status == 413, f"HTTP {status}: {text[:160]}"


def _served_file(ctx) -> str:
    return upload(ctx.http, str(ctx.files["ok_rgb"]))


def check_multi_range(ctx) -> tuple[bool, str]:
    path = _served_file(ctx)
    r = ctx.http.get(f"gradio_api/file={path}", headers={"Range": "bytes=0-1,5-6"})
    return r.status_code in (200, 206), f"HTTP {r.status_code}: {len(r.content)} bytes"


def check_range_unsatisfiable(ctx) -> tuple[bool, str]:
    path = _served_file(ctx)
    r = ctx.http.get(f"gradio_api/file={path}", headers={"Range": "bytes=99999999-"})
    return r.status_code in (200, 206, 416), f"HTTP {r.status_code}"


def check_range_garbage(ctx) -> tuple[bool, str]:
    path = _served_file(ctx)
    r = ctx.http.get(f"gradio_api/file={path}", headers={"Range": "bytes=-,x-y,,"})
    return r.status_code in (200, 206, 400, 416), f"HTTP {r.status_code}"


def check_component_server_20mb(ctx) -> tuple[bool, str]:
    status, text = raw_http(ctx.port, "POST", "/gradio_api/component_server",
                            {**ctx.headers, "Content-Type": "application/json"}, b"{" + b" " * (20 * 2**20) + b"}")
    return status == 413, f"HTTP {status}: {text[:160]}"


def check_component_server_chunked(ctx) -> tuple[bool, str]:
    status, text = raw_http(ctx.port, "POST", "/gradio_api/component_server",
                            {**ctx.headers, "Content-Type": "application/json"}, b"{}", chunked=True)
    return 400 <= status < 500, f"HTTP {status}: {text[:160]}"


def check_call_bad_json(ctx) -> tuple[bool, str]:
    r = ctx.http.post("gradio_api/call/views_to_3d", content=b"{not json", headers={"content-type": "application/json"})
    return 400 <= r.status_code < 500, f"HTTP {r.status_code}: {r.text[:160]}"


def check_call_data_not_list(ctx) -> tuple[bool, str]:
    r = ctx.http.post("gradio_api/call/super_resolve", json={"data": "abc"})
    return 400 <= r.status_code < 500, f"HTTP {r.status_code}: {r.text[:160]}"


def check_call_too_few_args(ctx) -> tuple[bool, str]:
    result, message, _ = call_api(ctx.http, "views_to_3d", [[]])
    return result == "refused", message[:160]


def _post_json(ctx, path: str, value) -> tuple[bool, str]:
    """POST JSON on a fresh connection (after a 500 uvicorn closes the connection, and a pooled one breaks)."""
    return _ok_4xx(*raw_http(ctx.port, "POST", path, {**ctx.headers, "Content-Type": "application/json"},
                             json.dumps(value).encode()))


def check_call_unknown_api(ctx) -> tuple[bool, str]:
    return _post_json(ctx, "/gradio_api/call/no_such_endpoint", {"data": []})


def check_queue_join_without_session(ctx) -> tuple[bool, str]:
    return _post_json(ctx, "/gradio_api/queue/join", {"data": [], "fn_index": 0})


def check_queue_join_bad_fn(ctx) -> tuple[bool, str]:
    return _post_json(ctx, "/gradio_api/queue/join", {"data": [], "fn_index": 99999, "session_hash": "soakbadfn"})


HTTP_CHECKS = {
    "upload_part_without_filename": check_part_without_filename,
    "upload_empty_filename": check_empty_filename,
    "upload_malformed_multipart": check_malformed_multipart,
    "upload_multipart_without_boundary": check_multipart_without_boundary,
    "upload_without_content_length": check_upload_without_length,
    "upload_content_length_over_limit": check_upload_length_too_big,
    "file_multi_range": check_multi_range,
    "file_range_unsatisfiable": check_range_unsatisfiable,
    "file_range_garbage": check_range_garbage,
    "component_server_20mb": check_component_server_20mb,
    "component_server_chunked": check_component_server_chunked,
    "call_bad_json": check_call_bad_json,
    "call_data_not_a_list": check_call_data_not_list,
    "call_too_few_arguments": check_call_too_few_args,
    "call_unknown_endpoint": check_call_unknown_api,
    "queue_join_without_session": check_queue_join_without_session,
    "queue_join_unknown_fn": check_queue_join_bad_fn,
}


# ---- the server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def launch(store: Path, cap_mb: float, mem_cap_gb: float = 0) -> tuple[subprocess.Popen, str, Path]:
    """``python app.py`` behind a (pretend) proxy, so each soak client is told apart by X-Forwarded-For;
    its address space capped at ``mem_cap_gb`` GiB (RLIMIT_AS; 0: no cap). (process, url, log)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(store), "LDDBM_DISK_CAP_MB": str(cap_mb), "GRADIO_ANALYTICS_ENABLED": "False",
           "LDDBM_BEHIND_PROXY": "1"}
    limit = int(mem_cap_gb * 2**30)

    def cap_memory() -> None:
        if limit:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    log = store.parent / "server.log"
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, preexec_fn=cap_memory,
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    url = f"http://127.0.0.1:{port}/"
    import httpx

    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return proc, url, log
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start within 180 s")


HEAVY_LINE = re.compile(r"heavy work started: (\w+) \(running (\d+), peak (\d+)\)")


def logged_errors(text: str, limit: int = 40) -> list[str]:
    """Each ERROR / CRITICAL line of the server log with the exception its traceback ends in (Gradio logs
    every gr.Error with a traceback at INFO: those are not listed)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith(("ERROR", "CRITICAL")):
            continue
        cause = next((nxt for nxt in lines[i + 1:i + 400] if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", nxt)
                      or nxt.startswith(("INFO", "ERROR", "WARNING"))), "")
        out.append(f"{line[:200]} | {cause[:300]}")
    return out[:limit]


def heavy_lines(log: Path, start: int = 0) -> list[tuple[str, int, int]]:
    """(handler, running, peak) of every "heavy work started" line in the server log from byte ``start``."""
    with open(log, "rb") as fh:
        fh.seek(start)
        text = fh.read().decode("utf-8", "replace")
    return [(m[1], int(m[2]), int(m[3])) for m in HEAVY_LINE.finditer(text)]


# ---- the clients --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    task: str
    result: str  # served | refused | failed
    seconds: float
    message: str = ""
    message_chars: int = 0


@dataclass
class Ctx:
    """What a client's raw requests need: its httpx client and headers, the server's port, the files."""
    http: object
    headers: dict
    port: int
    files: dict


def output_files(value) -> list[Path]:
    """Files named anywhere in a gradio_client result (downloaded copies of what the server returned)."""
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, str) and len(item) < 4096 and os.path.isfile(item):
            found.append(Path(item))
    return found


def classify(req: Request, result: str, message: str) -> str:
    if req.expect == "served" and result != "served" or req.expect == "refused" and result == "served":
        return "failed"
    if result == "refused" and req.check == "short_message" and len(message) >= 500:
        return "failed"
    return result


@dataclass
class Soak:
    url: str
    requests: list[Request]
    files: dict = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def run_one(self, client, http, req: Request, headers: dict | None = None) -> Outcome:
        start = time.perf_counter()
        message = ""
        try:
            if req.task == "probe":
                r = http.get(f"gradio_api/file={req.args[0]}")
                ok = r.status_code in (403, 404)
                return Outcome(req.kind, req.task, "refused" if ok else "failed", time.perf_counter() - start,
                               f"HTTP {r.status_code}")
            if req.task == "upload":
                r = http.post("gradio_api/upload", files={"files": ("big.png", b"\x89PNG" + b"0" * req.args[0], "image/png")})
                # over the per-file limit (413), or over what the disk cap has room for right now (507)
                ok = (r.status_code == 413 and "size" in r.text.lower()) or (r.status_code == 507 and "try again" in r.text)
                return Outcome(req.kind, req.task, "refused" if ok else "failed", time.perf_counter() - start,
                               f"HTTP {r.status_code}: {r.text[:120]}")
            if req.task == "http":
                ok, message = HTTP_CHECKS[req.args[0]](Ctx(http, headers or {}, self.port, self.files))
                return Outcome(req.kind, req.task, "refused" if ok else "failed", time.perf_counter() - start,
                               message[:300], len(message))
            if req.task == "api":
                api, data = req.args
                result, message, _ = call_api(http, api, resolve(http, data, self.port))
                if result == "refused" and any(s in message for s in TRACEBACK_SIGNS):
                    result = "failed"
            else:
                value = client.predict(*req.args, api_name=f"/{req.task}")
                result = "served"
                if req.check == "small_outputs":
                    big = [(p.name, p.stat().st_size) for p in output_files(value) if p.stat().st_size > SMALL_OUTPUT_BYTES]
                    if big:
                        result, message = "failed", f"outputs over {SMALL_OUTPUT_BYTES >> 20} MB: {big}"
        except Exception as err:  # the client raises with the server's message
            message = str(err)
            if type(err).__name__ in ("ConnectError", "ConnectionError", "ReadTimeout", "RemoteProtocolError",
                                      "ReadError", "WriteError"):
                result = "failed"
            elif "not JSON compliant" in message:
                result = "failed"  # refused by the client's own encoder: the server never saw it
            else:
                shown = message.strip()
                result = "refused" if shown and not any(s in shown for s in TRACEBACK_SIGNS) else "failed"
        return Outcome(req.kind, req.task, classify(req, result, message), time.perf_counter() - start, message[:300],
                       len(message))

    def client_loop(self, n: int, deadline: float, k: int, clients: int, good_every: int = 2) -> None:
        """Client k of ``clients`` (its own X-Forwarded-For address): its share of the catalogue (every kind
        is sent once by some client), with a good request every ``good_every``-th, then good and catalogue
        requests at random until ``n``."""
        import httpx
        from gradio_client import Client

        headers = {"X-Forwarded-For": f"10.1.{k // 250}.{k % 250 + 1}"}
        client = Client(self.url, verbose=False, headers=headers)
        rng = random.Random(k)
        good = [r for r in self.requests if r.kind.startswith("good")]
        mine = self.requests[k::clients]
        with httpx.Client(base_url=self.url, timeout=180, headers=headers) as http:
            sent, i = 0, -1  # catalogue requests so far, requests so far
            while sent < len(mine) or i + 1 < n:
                i += 1
                if time.time() > deadline:
                    return
                if i % good_every == 0:
                    req = rng.choice(good)
                else:
                    req = mine[sent] if sent < len(mine) else rng.choice(self.requests)
                    sent += 1
                outcome = self.run_one(client, http, req, headers)
                with self.lock:
                    self.outcomes.append(outcome)


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


# ---- scenarios: memory, concurrency, disk, abandoned jobs -------------------------------------------------


def warm_up(soak: Soak) -> dict:
    """One good request per endpoint, in turn (models loaded, caches filled): seconds per kind."""
    import httpx
    from gradio_client import Client

    headers = {"X-Forwarded-For": "10.9.0.1"}
    client = Client(soak.url, verbose=False, headers=headers)
    out = {}
    with httpx.Client(base_url=soak.url, timeout=180, headers=headers) as http:
        for req in soak.requests:
            if req.kind.startswith("good"):
                o = soak.run_one(client, http, req, headers)
                out[req.kind] = {"result": o.result, "seconds": round(o.seconds, 2), "message": o.message[:200]}
    return out


def concurrent_heavy(soak: Soak, log: Path, count: int, files: dict) -> dict:
    """``count`` heavy requests at once, each from its own session and X-Forwarded-For, spread over
    /views_to_3d, /super_resolve, /orbit, /new_view and the private views-upload handler (POST
    /gradio_api/queue/join with its fn_index from /config); then the log's largest "peak"."""
    import httpx
    from gradio_client import Client

    cfg = httpx.get(soak.url + "config", timeout=30).json()
    uploaded = next((d["id"] for d in cfg["dependencies"] if d.get("api_name") == "views_uploaded"), None)
    kinds = ["views_to_3d", "super_resolve", "orbit", "new_view", "views_uploaded"]
    if uploaded is None:
        kinds.remove("views_uploaded")
    good = {r.task: r for r in soak.requests if r.kind.startswith("good")}
    orbit_args = list(good["new_view"].args[:1]) + list(GOOD_ARGS["orbit"])
    barrier = threading.Barrier(count)
    results: list[dict] = []

    def one(i: int) -> None:
        kind = kinds[i % len(kinds)]
        headers = {"X-Forwarded-For": f"10.2.0.{i + 1}"}
        start = None
        try:
            with httpx.Client(base_url=soak.url, timeout=300, headers=headers) as http:
                if kind == "views_uploaded":
                    data = resolve(http, [[{"image": Up(p), "caption": None} for p in files["views"][:2]],
                                          *GOOD_ARGS["views_to_3d"]], soak.port)
                    session = f"soakheavy{i}{random.randrange(10**9)}"
                    barrier.wait()
                    start = time.perf_counter()
                    r = http.post("gradio_api/queue/join", json={"data": data, "fn_index": uploaded, "session_hash": session,
                                                                 "trigger_id": None, "event_data": None})
                    if r.status_code != 200:
                        results.append({"kind": kind, "result": "refused", "message": f"HTTP {r.status_code}: {r.text[:200]}"})
                        return
                    result, message = "failed", "the stream ended without a result"
                    with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as s:
                        for line in s.iter_lines():
                            if not line.startswith("data:"):
                                continue
                            msg = json.loads(line[5:])
                            if msg.get("msg") == "process_completed":
                                ok = msg.get("success")
                                result = "served" if ok else "refused"
                                message = "" if ok else str(error_text(msg.get("output")) or msg.get("output"))[:200]
                                break
                else:
                    client = Client(soak.url, verbose=False, headers=headers)
                    args = orbit_args if kind == "orbit" else good[kind].args
                    barrier.wait()
                    start = time.perf_counter()
                    try:
                        client.predict(*args, api_name=f"/{kind}")
                        result, message = "served", ""
                    except Exception as err:
                        result, message = "refused", str(err)[:200]
        except Exception as err:
            result, message = "failed", f"{type(err).__name__}: {err}"[:200]
        results.append({"kind": kind, "result": result, "message": message,
                        "seconds": round(time.perf_counter() - start, 2) if start else None})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = heavy_lines(log)
    return {"requests": count, "kinds": kinds, "served": sum(r["result"] == "served" for r in results),
            "not_served": [r for r in results if r["result"] != "served"],
            "heavy_peak": max((p for _, _, p in lines), default=0), "heavy_starts": len(lines)}


def per_client_cap(soak: Soak, n: int = 8) -> dict:
    """One client (one X-Forwarded-For) sends ``n`` /super_resolve jobs at once: at most PER_CLIENT (4)
    are taken, the rest refused with a message; the taken ones are then read to the end."""
    import httpx

    headers = {"X-Forwarded-For": "10.3.0.1"}
    sr = next(r for r in soak.requests if r.kind == "good_sr")
    barrier = threading.Barrier(n)
    answers: list[tuple[int, str]] = []
    with httpx.Client(base_url=soak.url, timeout=300, headers=headers) as http:
        data = resolve(http, [Up(sr_path(sr)), *GOOD_ARGS["super_resolve"]], soak.port)

        def post() -> None:
            body = json.dumps({"data": data})
            barrier.wait()
            r = http.post("gradio_api/call/super_resolve", content=body, headers={"content-type": "application/json"})
            answers.append((r.status_code, r.text))

        threads = [threading.Thread(target=post) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        taken = [json.loads(text)["event_id"] for status, text in answers if status == 200]
        refused = [(status, text[:200]) for status, text in answers if status != 200]
        finished = 0
        for event_id in taken:
            with http.stream("GET", f"gradio_api/call/super_resolve/{event_id}") as s:
                finished += any(line.startswith("event: complete") for line in s.iter_lines())
    problems = []
    if len(taken) > 4:
        problems.append(f"{len(taken)} of {n} jobs from one client taken (at most 4)")
    for status, text in refused:
        if status not in (429, 503) or "already have" not in text:
            problems.append(f"refused without the per-client message: HTTP {status}: {text}")
    if finished != len(taken):
        problems.append(f"{len(taken) - finished} taken jobs did not complete")
    return {"sent": n, "taken": len(taken), "refused": len(refused), "completed": finished,
            "message": refused[0][1] if refused else "", "problems": problems}


def sr_path(req: Request) -> str:
    """The local path of a gradio_client-style request's file (handle_file's dict)."""
    first = req.args[0]
    return first["path"] if isinstance(first, dict) else str(first)


def unread_jobs(soak: Soak, log: Path, n: int) -> dict:
    """``n`` POSTs to /gradio_api/call/super_resolve (each from its own X-Forwarded-For) whose results
    nobody reads, then one ordinary request: its latency, and how many of the ``n`` ran."""
    import httpx
    from gradio_client import Client

    sr = next(r for r in soak.requests if r.kind == "good_sr")
    with httpx.Client(base_url=soak.url, timeout=60) as http:
        data = resolve(http, [Up(sr_path(sr)), *GOOD_ARGS["super_resolve"]], soak.port)
        offset = log.stat().st_size
        t0 = time.time()
        statuses = []
        for i in range(n):
            r = http.post("gradio_api/call/super_resolve", json={"data": data},
                          headers={"X-Forwarded-For": f"10.4.{i // 250}.{i % 250 + 1}"})
            statuses.append(r.status_code)
    client = Client(soak.url, verbose=False, headers={"X-Forwarded-For": "10.4.255.1"})
    start = time.perf_counter()
    try:
        client.predict(*sr.args, api_name="/super_resolve")
        result, message = "served", ""
    except Exception as err:
        result, message = "failed", str(err)[:200]
    latency = time.perf_counter() - start
    # an unread job is dropped LISTEN_GRACE_S (15 s) after it joined: after that none of them starts
    time.sleep(max(0.0, t0 + 17 - time.time()))
    ran = sum(fn == "super_resolve" for fn, _, _ in heavy_lines(log, offset)) - (result == "served")
    return {"posted": n, "accepted": sum(s == 200 for s in statuses), "ran": ran, "normal_result": result,
            "normal_message": message, "normal_seconds": round(latency, 2)}


def disk_flood(soak: Soak, store: Path, cap_mb: float, waves: list[tuple[int, int, int]]) -> dict:
    """Waves of concurrent upload POSTs, (requests, files per request, MB per file), each wave at once,
    while the store's disk use is sampled every 0.1 s. Every answer must be 200, or 507 / 413 with a message."""
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(tree_bytes(store) / 2**20 if store.exists() else 0)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    answers: list[dict] = []
    for w, (requests, per_request, mb) in enumerate(waves):
        blob = b"\x89PNG" + bytes(mb * 2**20 - 4)
        headers, body = multipart([("files", f"flood{i}.png", blob) for i in range(per_request)], f"flood{w}")

        def post(i: int) -> None:
            status, text = raw_http(soak.port, "POST", "/gradio_api/upload",
                                    {**headers, "X-Forwarded-For": f"10.5.{w}.{i + 1}"}, body, timeout=120)
            answer = {"wave": w, "status": status, "mb": len(body) / 2**20, "text": text[:200]}
            if status == 200:  # every file it names must be there right after (not swept by another upload)
                try:
                    answer["missing"] = sum(not Path(p).exists() for p in json.loads(text))
                except (ValueError, TypeError):
                    answer["missing"] = -1
            answers.append(answer)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        del body, blob
    time.sleep(0.3)
    stop.set()
    sampler.join()
    problems = []
    for a in answers:
        if a["status"] == 200:
            if a.get("missing"):
                problems.append(f"upload of {a['mb']:.0f} MB answered 200 but {a['missing']} of its files were gone "
                                "right after (removed by another request's room-making)")
            continue
        try:
            detail = json.loads(a["text"]).get("detail", "")
        except ValueError:
            detail = ""
        if a["status"] not in (413, 507) or not isinstance(detail, str) or len(detail) < 20:
            problems.append(f"upload of {a['mb']:.0f} MB answered HTTP {a['status']}: {a['text'][:160]}")
    largest = max((per * mb for _, per, mb in waves), default=0)
    return {"cap_mb": cap_mb, "max_mb": round(max(samples, default=0), 1), "largest_request_mb": largest,
            "answers": {str(s): sum(a["status"] == s for a in answers) for s in sorted({a["status"] for a in answers})},
            "message_507": next((a["text"] for a in answers if a["status"] == 507), ""), "problems": problems}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200,
                    help="total, shared by the clients (at least twice the catalogue: every kind is sent once)")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--good-every", type=int, default=2, help="every N-th request of a client is a good one")
    ap.add_argument("--disk-cap-mb", type=float, default=50)
    ap.add_argument("--mem-cap-gb", type=float, default=12, help="the server's address-space limit (RLIMIT_AS; 0: none)")
    ap.add_argument("--heavy-at-once", type=int, default=12, help="scenario B: simultaneous heavy requests (0: skip)")
    ap.add_argument("--unread-jobs", type=int, default=30, help="scenario D: jobs posted and never read (0: skip)")
    ap.add_argument("--flood", default="3x10x20,3x2x10",
                    help="scenario C: waves of concurrent uploads, REQUESTSxFILESxMB each, comma-separated ('': skip)")
    ap.add_argument("--sr8-examples", type=int, default=5, help="×8 on this many of the ×4 examples (0: none)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lddbm-soak-"))
    store = work / "store"
    store.mkdir()
    files = make_files(work / "inputs")
    sketch = sketch_files(work / "sketch")
    examples = [sorted(str(p) for p in d.glob("view_*.png")) for d in sorted((ROOT / "assets" / "multiview3d").iterdir())
                if d.is_dir()]
    examples = [e for e in examples if e]
    nv_views = next((sorted(str(p) for p in d.glob("view_*.png")) for d in sorted((ROOT / "assets" / "novelview").iterdir())
                     if d.is_dir() and any(d.glob("view_*.png"))), None)
    sr_images = sorted(str(p) for p in (ROOT / "assets" / "sr4x").glob("*/lr.png"))
    printed = sorted(str(p) for p in (ROOT / "assets" / "digits" / "printed").glob("*.png"))
    handwritten = sorted(str(p) for p in (ROOT / "assets" / "digits" / "handwritten").glob("*.png"))
    sr8 = args.sr8_examples if (ROOT / "checkpoints" / "sr8x").is_dir() else 0
    proc, url, log = launch(store, args.disk_cap_mb, args.mem_cap_gb)
    requests = catalogue(files, examples, sr_images, nv_views=nv_views, printed=printed, handwritten=handwritten,
                         sketch=sketch, sr8=sr8)
    soak = Soak(url, requests, files)
    samples: list[dict] = []
    stop = threading.Event()
    phase = {"name": "start"}

    def monitor() -> None:
        t0 = time.time()
        while not stop.is_set():
            samples.append({"t": round(time.time() - t0, 2), "phase": phase["name"], "requests": len(soak.outcomes),
                            "rss_mb": rss_bytes(proc.pid) / 2**20,
                            "disk_mb": (tree_bytes(store) if store.exists() else 0) / 2**20, "alive": proc.poll() is None})
            stop.wait(0.25)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    start = time.time()
    phase["name"] = "warm-up"
    warm = warm_up(soak)
    time.sleep(1.0)
    warm_rss = rss_bytes(proc.pid) / 2**20
    phase["name"] = "catalogue"
    deadline = time.time() + args.max_seconds
    per_client = math.ceil(args.requests / args.clients)
    threads = [threading.Thread(target=soak.client_loop, args=(per_client, deadline, k, args.clients, args.good_every))
               for k in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    catalogue_seconds = time.time() - start
    scenarios: dict[str, dict] = {}
    if proc.poll() is None:
        phase["name"] = "per-client cap"
        scenarios["per_client_cap"] = per_client_cap(soak)
    if proc.poll() is None and args.heavy_at_once:
        phase["name"] = "concurrent heavy"
        scenarios["concurrent_heavy"] = concurrent_heavy(soak, log, args.heavy_at_once,
                                                         {"views": examples[0]})
    if proc.poll() is None and args.unread_jobs:
        phase["name"] = "unread jobs"
        scenarios["unread_jobs"] = unread_jobs(soak, log, args.unread_jobs)
    waves = [tuple(int(x) for x in w.split("x")) for w in args.flood.split(",") if w.strip()]
    if proc.poll() is None and waves:
        phase["name"] = "disk flood"
        scenarios["disk_flood"] = disk_flood(soak, store, args.disk_cap_mb, waves)
    wall = time.time() - start
    time.sleep(0.5)
    stop.set()
    watcher.join()
    alive = proc.poll() is None
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_text = log.read_text(errors="replace") if log.exists() else ""
    lines = heavy_lines(log) if log.exists() else []
    log_errors = logged_errors(log_text)
    if args.json and log.exists():
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, Path(args.json).with_suffix(".server.log"))
    if alive:  # keep the inputs, store and server log when it died
        shutil.rmtree(work, ignore_errors=True)

    by_kind: dict[str, dict] = {}
    for o in soak.outcomes:
        k = by_kind.setdefault(o.kind, {"task": o.task, "served": 0, "refused": 0, "failed": 0, "message": "",
                                        "message_chars": 0})
        k[o.result] += 1
        if o.message and (o.result == "failed" or not k["message"]):
            k["message"], k["message_chars"] = o.message[:200], o.message_chars
    rss_after_warm = [s["rss_mb"] for s in samples if s["rss_mb"] and s["phase"] not in ("start", "warm-up")]
    rss = [s["rss_mb"] for s in samples if s["rss_mb"]]
    at = {n: next((s["rss_mb"] for s in samples if s["requests"] >= n), None) for n in (100, 200)}
    problems = [f"{name}: {p}" for name, s in scenarios.items() for p in s.get("problems", [])]
    problems += [f"concurrent_heavy: {r['kind']} {r['result']}: {r['message']}"
                 for r in scenarios.get("concurrent_heavy", {}).get("not_served", [])]
    if scenarios.get("unread_jobs", {}).get("normal_result", "served") != "served":
        problems.append(f"unread_jobs: the ordinary request failed: {scenarios['unread_jobs']['normal_message']}")
    problems += [f"warm-up {k}: {v['result']}: {v['message']}" for k, v in warm.items() if v["result"] != "served"]
    flood = scenarios.get("disk_flood", {})
    report = {
        "clients": args.clients, "requests": len(soak.outcomes), "wall_seconds": round(wall, 1),
        "catalogue_seconds": round(catalogue_seconds, 1),
        "served": sum(o.result == "served" for o in soak.outcomes),
        "refused_with_message": sum(o.result == "refused" for o in soak.outcomes),
        "failed": sum(o.result == "failed" for o in soak.outcomes),
        "server_alive": alive,
        "server_alive_throughout": alive and all(s["alive"] for s in samples),
        "bad_input_kinds": sum(1 for r in soak.requests if r.expect != "served"),
        "good_kinds": sum(1 for r in soak.requests if r.expect == "served"),
        "kinds_sent": len(by_kind),
        "generic_errors": {k: v["message"] for k, v in by_kind.items() if "went wrong on the server" in v["message"]},
        "heavy_peak": max((p for _, _, p in lines), default=0), "heavy_starts": len(lines),
        "scenario_problems": problems,
        "latency_seconds": {task: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)}
                            for task in ("views_to_3d", "super_resolve", "new_view", "printed_to_handwritten",
                                         "sketch_to_printed")
                            for v in [[o.seconds for o in soak.outcomes if o.task == task and o.result == "served"]]},
        "rss_mb": {"start": rss[0] if rss else None, "warm": warm_rss, "max": max(rss) if rss else None,
                   "peak_over_warm": (max(rss_after_warm) - warm_rss) if rss_after_warm else None,
                   "end": rss[-1] if rss else None, "at_request_100": at[100], "at_request_200": at[200],
                   "mem_cap_gb": args.mem_cap_gb},
        "disk_mb": {"max": max((s["disk_mb"] for s in samples), default=0), "flood_max": flood.get("max_mb"),
                    "cap": args.disk_cap_mb, "largest_upload_request_mb": flood.get("largest_request_mb"),
                    "end": samples[-1]["disk_mb"] if samples else 0},
        "warm_up": warm,
        "scenarios": scenarios,
        "server_log_errors": log_errors,
        "timeline": samples[::8],
        "by_kind": by_kind,
    }
    report["disk_mb"]["max"] = max(report["disk_mb"]["max"], flood.get("max_mb") or 0)
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    summary = {k: report[k] for k in ("requests", "wall_seconds", "served", "refused_with_message", "failed",
                                       "server_alive_throughout", "bad_input_kinds", "good_kinds", "kinds_sent",
                                       "heavy_peak", "scenario_problems", "generic_errors", "latency_seconds", "rss_mb",
                                       "disk_mb")}
    summary["scenarios"] = {k: {kk: vv for kk, vv in v.items() if kk != "problems"} for k, v in scenarios.items()}
    summary["failures"] = {k: v["message"] for k, v in by_kind.items() if v["failed"]}
    print(json.dumps(summary, indent=1))
    return report


if __name__ == "__main__":
    main()
