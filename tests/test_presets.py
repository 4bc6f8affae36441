import dataclasses
import re
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


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_config_field_is_read_somewhere(name):
    """A field nobody reads is a flag that lies; each must be read outside presets.py."""
    code = "\n".join(p.read_text() for p in LIB.rglob("*.py") if p.name != "presets.py")
    unused = [
        dotted for dotted, field in all_fields(get_preset(name))
        if dotted != "name" and not re.search(rf"\.{field}\b|\b{field}=", code)
    ]
    assert not unused, f"config fields never read: {unused}"


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
