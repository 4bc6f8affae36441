"""Fetch and unpack Debian packages: the only place data builders get files from.

``apt-get download`` needs no root and no install; when the package lists are empty (a fresh
machine) the first lookup fails, so ``apt-get update`` is run once and the download retried.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)


def fetch_debian_package(package: str, dest: Path) -> Path:
    """apt-get download PACKAGE into dest (running apt-get update once if the lookup fails); cached."""
    dest.mkdir(parents=True, exist_ok=True)
    existing = sorted(dest.glob(f"{package}_*.deb"))
    if existing:
        return existing[-1]
    for attempt in range(2):
        result = subprocess.run(["apt-get", "download", package], cwd=dest, capture_output=True, text=True)
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if result.returncode == 0 and debs:
            return debs[-1]
        if attempt == 0:
            logger.info("apt-get download %s failed; running apt-get update and retrying", package)
            subprocess.run(["apt-get", "update"], capture_output=True, text=True)
    raise RuntimeError(
        f"Could not download the Debian package {package}: {result.stderr.strip()[-300:]}\n"
        f"Download it elsewhere (apt-get download {package}) and pass its folder with --source."
    )


def unpack_deb(deb: Path, work: Path) -> Path:
    """``dpkg-deb -x`` a package once into WORK/deb-<name> (a marker file makes it idempotent)."""
    unpacked = work / ("deb-" + deb.stem)
    if not (unpacked / ".unpacked").exists():
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        (unpacked / ".unpacked").touch()
    return unpacked


def fetch_and_unpack(package: str, work: Path, source: Path | None = None) -> Path:
    """The unpacked tree of ``package``: from ``source`` (a folder holding PACKAGE_*.deb) when it has
    one, else downloaded into WORK. Cached under WORK, so a resumed build unpacks nothing twice."""
    debs = sorted(source.glob(f"{package}_*.deb")) if source is not None and source.is_dir() else []
    deb = debs[-1] if debs else fetch_debian_package(package, work)
    return unpack_deb(deb, work)


def copyright_text(unpacked: Path, package: str) -> str:
    """The package's debian/copyright (usr/share/doc/PACKAGE/copyright), '' if it ships none."""
    path = unpacked / "usr" / "share" / "doc" / package / "copyright"
    return path.read_text(errors="replace") if path.is_file() else ""


def slug(text: str) -> str:
    """A file-system safe id fragment: 'Boeing 737-800 (KLM)' -> 'boeing-737-800-klm'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
