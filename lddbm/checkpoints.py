"""Where checkpoints are: a folder path as given, or a name under the folder ``LDDBM_CHECKPOINTS`` names.

The shipped models live in the repository's ``checkpoints/`` folder. Outside the repository (after
``pip install .``) a program names that folder once, through the environment::

    export LDDBM_CHECKPOINTS=/path/to/lddbm/checkpoints
    lddbm upscale --image photo.jpg --out big.png        # finds $LDDBM_CHECKPOINTS/sr4x

and ``LDDBMPipeline.load("sr4x")`` / ``from_pretrained("sr4x")`` find it the same way. A path that
exists is used as it is; ``checkpoints/NAME`` (the repository's spelling) also falls back to
``$LDDBM_CHECKPOINTS/NAME``. What is found nowhere is one ``CheckpointError`` that lists where it looked,
never a download attempt (``owner/name`` Hub ids are left to diffusers by ``from_pretrained``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import CheckpointError

__all__ = ["ENV", "candidates", "is_local_spelling", "locate", "replace_component"]

ENV = "LDDBM_CHECKPOINTS"


def candidates(name: str | os.PathLike) -> list[Path]:
    """The folders ``name`` may mean, in the order they are tried."""
    path = Path(name).expanduser()
    found = [path]
    root = os.environ.get(ENV)
    if root and not path.is_absolute():
        parts = path.parts
        found.append(Path(root).expanduser() / path)
        if len(parts) > 1 and parts[0] == "checkpoints":  # the repository's spelling, from another folder
            found.append(Path(root).expanduser().joinpath(*parts[1:]))
    return list(dict.fromkeys(found))


def is_local_spelling(name: str | os.PathLike) -> bool:
    """Whether ``name`` can only mean a folder here (not a Hub id ``owner/name``)."""
    text = os.fspath(name)
    parts = Path(text).parts
    return (isinstance(name, Path) or text.startswith((".", "/", "~")) or "\\" in text or len(parts) != 2
            or parts[0] == "checkpoints")


def locate(name: str | os.PathLike) -> Path:
    """The pipeline folder ``name`` means (one holding model_index.json), or a CheckpointError that says
    where it looked and how to point at the right place."""
    tried = candidates(name)
    for folder in tried:
        if (folder / "model_index.json").is_file():
            return folder
    for folder in tried:  # a folder without its index: check_folder names what is missing
        if folder.is_dir():
            return folder
    where = ", ".join(str(f.resolve()) for f in tried)
    hint = (f"{ENV} is {os.environ[ENV]!r}" if os.environ.get(ENV)
            else f"set {ENV} to the folder holding the checkpoints (the repository's checkpoints/)")
    raise CheckpointError(f"No pipeline folder {os.fspath(name)!r}: looked in {where}; pass the folder's path, or {hint}.")


def replace_component(target: str | os.PathLike, write) -> None:
    """Replace a pipeline component's folder by what ``write(target)`` puts there, keeping the
    folder's model card (``README.md``) when the new contents bring none: a card is written by hand
    and updated with the new model's figures, and deleting it with the old weights loses it."""
    import shutil

    target = Path(target)
    card = target / "README.md"
    kept = card.read_bytes() if card.is_file() else None
    shutil.rmtree(target, ignore_errors=True)
    write(target)
    if kept is not None and not card.exists():
        card.write_bytes(kept)
