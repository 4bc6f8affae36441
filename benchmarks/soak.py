"""Soak test: launch the demo on 127.0.0.1 and drive it with concurrent gradio_client clients.

Each client sends, for a bounded count and time, a mix of good requests (views -> 3D from the
held-out examples, super-resolution of small images) and every entry of the bad-input catalogue
(broken, empty, wrong-type, huge and bomb files; palette / CMYK / 16-bit / animated images; absurd
seeds; NaN and out-of-range slider values; too many views; unknown samplers; uploads over the limit;
file-serving probes). Every answer is classed as

- served: a result came back;
- refused: an error message came back that says what to do and shows no traceback;
- failed: anything else (no message, a traceback or Python exception text shown, a dropped
  connection, a probe that served a file it should not, a dead server).

It writes JSON: counts, p50/p95 latency per task, the server's RSS and the result folder's disk
use over time, and the catalogue with each kind's outcome. The README's "Reliability" table
comes from it.

    python benchmarks/soak.py --clients 20 --requests 400 --max-seconds 900 --json results/soak.json
    python benchmarks/soak.py --clients 4 --requests 0 --good-every 12 --max-seconds 150  # CI: the catalogue once
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
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
    f["qoi_corrupt"] = folder / "corrupt.qoi"  # the header, then a scrap of the pixel stream
    f["qoi_corrupt"].write_bytes(qoi.getvalue()[:14] + bytes(64))
    avif = io.BytesIO()
    rgb.save(avif, format="AVIF")
    data = bytearray(avif.getvalue())
    mid = len(data) // 2
    data[mid:] = os.urandom(len(data) - mid)
    f["avif_corrupt"] = folder / "corrupt.avif"
    f["avif_corrupt"].write_bytes(bytes(data))
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
    many = [Image.new("P", (32, 32), i % 256) for i in range(1000)]
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
                   "animated_gif", "exif_rotated", "rgba_transparent", "thin")


@dataclass
class Request:
    kind: str  # catalogue name
    task: str  # views_to_3d | super_resolve | upload | probe
    args: tuple = ()
    expect: str = "any"  # "served", "refused" or "any" (an odd but valid input may be served or refused)


def catalogue(files: dict[str, Path], examples: list[list[str]], sr_images: list[str]) -> list[Request]:
    """Good requests and the bad-input catalogue (one Request per kind)."""
    from gradio_client import handle_file

    def gallery(paths):
        return [{"image": handle_file(str(p)), "caption": None} for p in paths]

    good3d = (True, 0.75, 2, "dbim", 1.0, 0.0, 0, False, 0.5, 1)
    goodsr = ("×4", 2, "dbim", 1.0, 0.0, 0, False)
    views = examples[0][:4]
    out = [Request("good_3d", "views_to_3d", (gallery(views), *good3d), "served"),
           Request("good_sr", "super_resolve", (handle_file(sr_images[0]), *goodsr), "served")]
    for name, path in files.items():
        expect = "any" if name in GOOD_FILE_KINDS else "refused"
        out.append(Request(f"3d_file_{name}", "views_to_3d", (gallery([path]), *good3d), expect))
        out.append(Request(f"sr_file_{name}", "super_resolve", (handle_file(str(path)), *goodsr), expect))
    out += [Request("3d_no_views", "views_to_3d", ([], *good3d), "refused"),
            Request("3d_too_many_views", "views_to_3d", (gallery(views * 4), *good3d), "refused"),
            Request("sr_no_file", "super_resolve", (None, *goodsr), "refused")]
    # absurd numbers: position in the argument tuple -> values
    numeric_3d = {"object_size": (1, [float("nan"), -1, 50]), "steps": (2, [0, 10**6, float("nan"), 2.5]),
                  "guidance": (4, [float("nan"), 1e9]), "randomness": (5, [-1, 7, float("nan")]),
                  "seed": (6, [1e23, -5, float("nan"), 2**40]), "threshold": (8, [2.0, -0.5, float("nan")]),
                  "samples": (9, [0, 100, float("nan")])}
    for name, (i, values) in numeric_3d.items():
        for v in values:
            args = list(good3d)
            args[i] = v
            out.append(Request(f"3d_{name}_{v}", "views_to_3d", (gallery(views[:1]), *args), "refused"))
    for sampler in ("fast", "euler", ""):
        args = list(good3d)
        args[3] = sampler
        out.append(Request(f"3d_sampler_{sampler or 'empty'}", "views_to_3d", (gallery(views[:1]), *args), "refused"))
    numeric_sr = {"scale": (0, ["×3", ""]), "steps": (1, [0, 10**6, float("nan")]), "seed": (5, [1e23, -1])}
    for name, (i, values) in numeric_sr.items():
        for v in values:
            args = list(goodsr)
            args[i] = v
            out.append(Request(f"sr_{name}_{v}", "super_resolve", (handle_file(sr_images[0]), *args), "refused"))
    out.append(Request("upload_over_limit", "upload", (26 * 2**20,), "refused"))
    for probe in ("app.py", "checkpoints/multiview3d/model_index.json", "/etc/passwd", "../app.py", "..%2Fapp.py",
                  "%2Fetc%2Fpasswd", "lddbm/../app.py", "/proc/self/environ"):
        out.append(Request(f"probe_{probe}", "probe", (probe,), "refused"))
    return out


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


def launch(store: Path, cap_mb: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(store), "LDDBM_DISK_CAP_MB": str(cap_mb), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(store.parent / "server.log", "w"))
    url = f"http://127.0.0.1:{port}/"
    import httpx

    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {store.parent / 'server.log'}")
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.kill()
    raise RuntimeError("the server did not start within 180 s")


# ---- the clients --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    task: str
    result: str  # served | refused | failed
    seconds: float
    message: str = ""


@dataclass
class Soak:
    url: str
    requests: list[Request]
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_one(self, client, http, req: Request) -> Outcome:
        start = time.perf_counter()
        try:
            if req.task == "probe":
                r = http.get(f"gradio_api/file={req.args[0]}")
                ok = r.status_code in (403, 404)
                return Outcome(req.kind, req.task, "refused" if ok else "failed", time.perf_counter() - start,
                               f"HTTP {r.status_code}")
            if req.task == "upload":
                r = http.post("gradio_api/upload", files={"files": ("big.png", b"\x89PNG" + b"0" * req.args[0], "image/png")})
                ok = r.status_code == 413 and "size" in r.text.lower()
                return Outcome(req.kind, req.task, "refused" if ok else "failed", time.perf_counter() - start,
                               f"HTTP {r.status_code}: {r.text[:120]}")
            client.predict(*req.args, api_name=f"/{req.task}")
            result, message = "served", ""
        except Exception as err:  # the client raises with the server's message
            message = str(err)
            if type(err).__name__ in ("ConnectError", "ConnectionError", "ReadTimeout", "RemoteProtocolError"):
                result = "failed"
            else:
                shown = message.strip()
                result = "refused" if shown and not any(s in shown for s in TRACEBACK_SIGNS) else "failed"
        if req.expect == "served" and result != "served" or req.expect == "refused" and result == "served":
            result = "failed"
        return Outcome(req.kind, req.task, result, time.perf_counter() - start, message[:300])

    def client_loop(self, n: int, deadline: float, k: int, clients: int, good_every: int = 2) -> None:
        """Client k of ``clients``: its share of the catalogue (every kind is sent once by some client),
        with a good request every ``good_every``-th, then good and catalogue requests at random until ``n``."""
        import httpx
        from gradio_client import Client

        client = Client(self.url, verbose=False)
        rng = random.Random(k)
        good = [r for r in self.requests if r.kind.startswith("good")]
        mine = self.requests[k::clients]
        with httpx.Client(base_url=self.url, timeout=120) as http:
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
                outcome = self.run_one(client, http, req)
                with self.lock:
                    self.outcomes.append(outcome)


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200,
                    help="total, shared by the clients (at least twice the catalogue: every kind is sent once)")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--good-every", type=int, default=2, help="every N-th request of a client is a good one")
    ap.add_argument("--disk-cap-mb", type=float, default=200)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lddbm-soak-"))
    store = work / "store"
    store.mkdir()
    files = make_files(work / "inputs")
    examples = [sorted(str(p) for p in d.glob("view_*.png")) for d in sorted((ROOT / "assets" / "multiview3d").iterdir())
                if d.is_dir()]
    sr_images = sorted(str(p) for p in (ROOT / "assets" / "sr4x").glob("*/lr.png"))
    proc, url = launch(store, args.disk_cap_mb)
    soak = Soak(url, catalogue(files, [e for e in examples if e], sr_images))
    samples: list[dict] = []
    stop = threading.Event()

    def monitor() -> None:
        t0 = time.time()
        while not stop.is_set():
            samples.append({"t": round(time.time() - t0, 1), "requests": len(soak.outcomes), "rss_mb": rss_bytes(proc.pid) / 2**20,
                            "disk_mb": (tree_bytes(store) if store.exists() else 0) / 2**20, "alive": proc.poll() is None})
            stop.wait(2)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    deadline = time.time() + args.max_seconds
    per_client = math.ceil(args.requests / args.clients)
    threads = [threading.Thread(target=soak.client_loop, args=(per_client, deadline, k, args.clients, args.good_every))
               for k in range(args.clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - start
    stop.set()
    watcher.join()
    alive = proc.poll() is None
    proc.terminate()
    proc.wait(timeout=30)
    if alive:  # keep the server log when it died
        shutil.rmtree(work, ignore_errors=True)  # inputs, the server's store and log

    by_kind: dict[str, dict] = {}
    for o in soak.outcomes:
        k = by_kind.setdefault(o.kind, {"task": o.task, "served": 0, "refused": 0, "failed": 0, "message": ""})
        k[o.result] += 1
        if o.message and (o.result == "failed" or not k["message"]):
            k["message"] = o.message[:200]
    rss = [s["rss_mb"] for s in samples if s["rss_mb"]]
    at = {n: next((s["rss_mb"] for s in samples if s["requests"] >= n), None) for n in (100, 200)}
    report = {
        "clients": args.clients, "requests": len(soak.outcomes), "wall_seconds": round(wall, 1),
        "served": sum(o.result == "served" for o in soak.outcomes),
        "refused_with_message": sum(o.result == "refused" for o in soak.outcomes),
        "failed": sum(o.result == "failed" for o in soak.outcomes),
        "server_alive": alive,
        "bad_input_kinds": sum(1 for r in soak.requests if r.expect != "served"),
        "kinds_sent": len(by_kind),
        "latency_seconds": {task: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)}
                            for task in ("views_to_3d", "super_resolve")
                            for v in [[o.seconds for o in soak.outcomes if o.task == task and o.result == "served"]]},
        "rss_mb": {"start": rss[0] if rss else None, "max": max(rss) if rss else None, "end": rss[-1] if rss else None,
                   "at_request_100": at[100], "at_request_200": at[200]},
        "disk_mb": {"max": max((s["disk_mb"] for s in samples), default=0), "cap": args.disk_cap_mb,
                    "end": samples[-1]["disk_mb"] if samples else 0},
        "timeline": samples,
        "by_kind": by_kind,
    }
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    summary = {k: report[k] for k in ("requests", "served", "refused_with_message", "failed", "server_alive",
                                       "bad_input_kinds", "latency_seconds", "rss_mb", "disk_mb")}
    print(json.dumps(summary, indent=1))
    return report


if __name__ == "__main__":
    main()
