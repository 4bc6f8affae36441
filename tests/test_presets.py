import ast
import dataclasses
import functools
from pathlib import Path

import pytest

from lddbm.presets import PRESETS, Preset, apply_overrides, get_preset, load_preset, save_preset

LIB = Path(__file__).resolve().parents[1] / "lddbm"


def all_fields(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from all_fields(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f.name


def read_paths(trees: list[ast.Module], sections: dict[str, str]) -> set[str]:
    """Dotted config paths "section.field" that the code reads: ``<...>.section.field``, or
    ``alias.field`` where, in the same function (or class, for ``self.alias``), ``alias`` was assigned
    ``<...>.section`` (``cfg = preset.train``; ``d, lat = preset.data, preset.latent``) or is a parameter annotated with the
    section's class (``cfg: SyntheticData``); ``asdict(<...>.section)`` reads every field.
    ``sections`` maps each section name and its class name to the section."""
    read: set[str] = set()
    for tree in trees:
        scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        for scope in scopes:
            aliases: dict[str, str] = {}
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in scope.args.args + scope.args.kwonlyargs:
                    hint = ast.unparse(arg.annotation) if arg.annotation is not None else ""
                    if hint.strip("'\"") in sections:
                        aliases[arg.arg] = sections[hint.strip("'\"")]
            for node in [*ast.walk(scope), *ast.walk(scope)]:  # twice: aliases of aliases (cfg = self.cfg)
                if isinstance(node, ast.Assign):
                    pairs = []
                    for target in node.targets:
                        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            pairs += zip(target.elts, node.value.elts)
                        else:
                            pairs.append((target, node.value))
                    for target, value in pairs:  # a name or an attribute (self.cfg = preset.train)
                        if not isinstance(target, (ast.Name, ast.Attribute)):
                            continue
                        if isinstance(value, ast.Attribute) and value.attr in sections:
                            aliases[ast.unparse(target)] = sections[value.attr]
                        elif isinstance(value, (ast.Name, ast.Attribute)) and ast.unparse(value) in aliases:
                            aliases[ast.unparse(target)] = aliases[ast.unparse(value)]
            for node in ast.walk(scope):
                if isinstance(node, ast.Attribute):
                    owner = node.value
                    if isinstance(owner, ast.Attribute) and owner.attr in sections:
                        read.add(f"{sections[owner.attr]}.{node.attr}")
                    elif isinstance(owner, (ast.Name, ast.Attribute)) and ast.unparse(owner) in aliases:
                        read.add(f"{aliases[ast.unparse(owner)]}.{node.attr}")
                if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "asdict":
                    arg = node.args[0] if node.args else None
                    if isinstance(arg, ast.Attribute) and arg.attr in sections:
                        read.add(f"{sections[arg.attr]}.*")
    return read


LIB_TREES = [ast.parse(p.read_text()) for p in LIB.rglob("*.py") if p.name != "presets.py"]


@functools.cache
def library_reads(sections: frozenset[tuple[str, str]]) -> frozenset[str]:
    """read_paths over the library, once per distinct set of section classes (presets share them)."""
    return frozenset(read_paths(LIB_TREES, dict(sections)))


def unread_fields(preset: Preset) -> list[str]:
    sections = {}
    for f in dataclasses.fields(preset):
        value = getattr(preset, f.name)
        if dataclasses.is_dataclass(value):
            sections[f.name] = f.name
            for cls in type(value).__mro__[:-1]:  # the class and its bases (a subclass in tests)
                sections.setdefault(cls.__name__, f.name)
    read = library_reads(frozenset(sections.items()))
    return [dotted for dotted, _ in all_fields(preset)
            if dotted != "name" and dotted not in read and f"{dotted.split('.')[0]}.*" not in read]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_config_field_is_read_somewhere(name):
    """A field nobody reads is a flag that lies; each dotted path must be read outside presets.py."""
    assert not unread_fields(get_preset(name)), "config fields never read"


def test_the_field_check_finds_an_unread_field():
    """The check above can fail: a field added to a section and read nowhere is reported by its
    dotted path, even when a same-named field of another section is read."""
    @dataclasses.dataclass
    class Train(type(get_preset("synthetic").train)):
        never_read_anywhere: int = 0
        eta: float = 0.0  # read as sampling.eta, never as train.eta

    preset = dataclasses.replace(get_preset("synthetic"), train=Train())
    assert unread_fields(preset) == ["train.never_read_anywhere", "train.eta"]


def test_overrides_are_typed_and_checked():
    p = apply_overrides(get_preset("synthetic"), {"train.steps": "7", "loss.strategy": "whole", "bridge.sigma_max": "40"})
    assert p.train.steps == 7 and p.loss.strategy == "whole" and p.bridge.sigma_max == 40.0
    assert get_preset("synthetic").train.steps != 7  # the preset itself is untouched
    with pytest.raises(ValueError, match="must be one of whole, iterative"):
        apply_overrides(p, {"loss.strategy": "sometimes"})
    with pytest.raises(ValueError, match="expects a int"):
        apply_overrides(p, {"train.steps": "many"})
    with pytest.raises(ValueError, match="Unknown option --train.stepz"):
        apply_overrides(p, {"train.stepz": "1"})
    with pytest.raises(ValueError, match="Unknown option --nothing"):
        apply_overrides(p, {"nothing": "1"})
    with pytest.raises(ValueError, match="sigma_min"):  # the bridge validates itself
        apply_overrides(p, {"bridge.sigma_max": "0.001"})


def test_preset_json_round_trip(tmp_path):
    p = apply_overrides(get_preset("synthetic"), {"train.lr": "0.5"})
    save_preset(p, tmp_path / "preset.json")
    assert load_preset(tmp_path / "preset.json") == p
    assert isinstance(Preset.from_dict(p.to_dict()).bridge, type(p.bridge))


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown preset 'nope'; available: .*synthetic"):
        get_preset("nope")


def test_the_sampling_section_is_the_schedulers_arguments():
    """preset.sampling goes to BridgeScheduler whole (lddbm.train.build_scheduler), and SamplingConfig is
    made from the scheduler's signature: the same settings with the same defaults, ``steps`` being
    ``num_inference_steps``, declared once."""
    import inspect

    from lddbm.presets import SamplingConfig
    from lddbm.scheduler import BridgeScheduler
    from lddbm.train import build_scheduler

    params = {k: v.default for k, v in inspect.signature(BridgeScheduler.__init__).parameters.items()
              if k not in ("self", "bridge")}
    defaults = {("num_inference_steps" if f.name == "steps" else f.name): f.default
                for f in dataclasses.fields(SamplingConfig)}
    assert set(defaults) == set(params)
    assert {k: v for k, v in defaults.items() if k != "num_inference_steps"} == \
        {k: v for k, v in params.items() if k != "num_inference_steps"}
    preset = get_preset("digits_h2p")
    config = build_scheduler(preset).config
    assert config.num_inference_steps == preset.sampling.steps and config.eta == preset.sampling.eta
    assert config.num_candidates == preset.sampling.num_candidates
