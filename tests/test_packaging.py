"""pyproject.toml: what ``pip install .`` makes of the package (version, data files, command, dependencies)."""

import ast
import fnmatch
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from packaging.requirements import Requirement  # noqa: E402
from packaging.version import Version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def data_files() -> list[Path]:
    """The package's files that are not Python source (what package-data must list). Type stubs count as
    source: Gradio writes one (git-ignored) beside a module that subclasses its components (lddbm/hosting.py)."""
    return [p for p in (ROOT / "lddbm").rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc", ".pyi")
            and "__pycache__" not in p.parts and not p.name.startswith(".")]


def test_the_version_comes_from_the_package_without_importing_it():
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lddbm.__version__"}
    tree = ast.parse((ROOT / "lddbm" / "__init__.py").read_text())
    assigned = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    assert isinstance(assigned["__version__"], ast.Constant)  # setuptools reads it without importing torch
    import lddbm

    assert assigned["__version__"].value == lddbm.__version__


def test_every_data_file_of_the_package_is_packaged():
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    files = data_files()
    assert ROOT / "lddbm" / "data" / "objects_split.json" in files
    for path in files:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        patterns = package_data.get(package, []) + package_data.get("*", [])
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), f"{path} is not in package-data"


def test_the_command_is_the_cli_main():
    from lddbm import __main__

    assert PROJECT["scripts"] == {"lddbm": "lddbm.__main__:main"}
    with pytest.raises(SystemExit) as exit_:
        __main__.main(["--help"])
    assert exit_.value.code == 0


def test_requirements_txt_satisfies_the_package():
    """Every package of requirements.txt is a dependency or an extra, and its pinned version is allowed."""
    declared = [Requirement(r) for r in PROJECT["dependencies"]]
    declared += [Requirement(r) for extra in PROJECT["optional-dependencies"].values() for r in extra]
    by_name = {r.name.lower(): r for r in declared}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        pinned = Requirement(line)
        assert pinned.name.lower() in by_name, f"{pinned.name} is in requirements.txt but not in pyproject.toml"
        for spec in pinned.specifier:
            if spec.operator == "==":
                assert Version(spec.version) in by_name[pinned.name.lower()].specifier, line


def test_the_render_extra_is_what_the_renderer_asks_for():
    """The renderer's install hint names the render extra's packages; plain pyrender pins PyOpenGL 3.1.0."""
    from lddbm.data.render import INSTALL_HINT

    render = [Requirement(r) for r in PROJECT["optional-dependencies"]["render"]]
    assert "pyrender" not in {r.name.lower() for r in render}
    assert all(r.name in INSTALL_HINT for r in render)
    assert "PyOpenGL==3.1.9" in INSTALL_HINT and "PyOpenGL==3.1.9" in PROJECT["optional-dependencies"]["render"]
    assert 'pip install -e ".[render]"' in INSTALL_HINT


def setuptools_version() -> Version:
    try:
        return Version(version("setuptools"))
    except PackageNotFoundError:
        return Version("0")


@pytest.mark.skipif(setuptools_version() < Version("77"), reason="building the wheel needs setuptools>=77")
def test_the_wheel_holds_the_package_its_data_and_the_command(tmp_path):
    """Build the wheel from a copy of the sources (nothing is written into the checkout)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "lddbm", src / "lddbm", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("lddbm-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "lddbm").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {p.relative_to(ROOT).as_posix() for p in data_files()}
    assert expected <= names
    assert "lddbm = lddbm.__main__:main" in entry_points
