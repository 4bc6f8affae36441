"""A task is one package under lddbm/tasks/: the registry finds it, and its presets, data config, eval
options, commands and data builders reach training and the command line with no other file edited."""

from __future__ import annotations

import textwrap

import pytest

import lddbm.presets as presets
import lddbm.tasks as tasks
from lddbm.__main__ import main
from lddbm.errors import ConfigError

NEW_TASK = '''
"""A task written for the test: the synthetic task's networks under another name and data kind."""
import dataclasses

from lddbm.tasks.base import Command, Option
from lddbm.tasks.synthetic import TASK as SYNTHETIC, SyntheticData, synthetic

SAID = []


@dataclasses.dataclass
class EchoData(SyntheticData):
    kind: str = "echo"


def echo():
    return dataclasses.replace(synthetic(), name="echo", data=EchoData())


def _hello_arguments(p):
    p.add_argument("--who", required=True)


def _hello(args):
    SAID.append(args.who)
    return 0


TASK = dataclasses.replace(
    SYNTHETIC, name="echo", data_kinds=("echo",), data_config=EchoData, presets={"echo": echo}, default_preset="echo",
    eval_options=(Option("loudness", "how loud", int),), commands=(Command("echo-hello", "say hello", _hello_arguments, _hello),),
    data_builders=(Command("echo", "build nothing", _hello_arguments, _hello),))
'''


@pytest.fixture
def echo_task(tmp_path, monkeypatch):
    """A package `echo` dropped next to the built-in tasks (on lddbm.tasks' search path), discovered."""
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "__init__.py").write_text(textwrap.dedent(NEW_TASK))
    monkeypatch.setattr(tasks, "__path__", [*tasks.__path__, str(tmp_path)])
    monkeypatch.setattr(tasks, "TASKS", {})  # the registry, presets and data configs as a fresh process has them
    monkeypatch.setattr(presets, "PRESETS", {})
    monkeypatch.setattr(presets, "DATA_CONFIGS", {})
    monkeypatch.delitem(__import__("sys").modules, "lddbm.tasks.echo", raising=False)
    tasks._discover()
    yield __import__("sys").modules["lddbm.tasks.echo"]
    __import__("sys").modules.pop("lddbm.tasks.echo", None)


def test_a_new_task_package_reaches_presets_and_the_command_line(echo_task, capsys):
    assert list(tasks.TASKS) == ["digits", "echo", "multiview3d", "novelview", "superres", "synthetic"]
    preset = presets.get_preset("echo")
    assert tasks.get_task(preset).name == "echo" and tasks.preset_for_name("echo") == "echo"
    assert presets.Preset.from_dict(preset.to_dict()).data == preset.data  # a saved preset.json loads back
    assert main(["echo-hello", "--who", "world"]) == 0
    assert main(["build-data", "echo", "--who", "data"]) == 0
    assert echo_task.SAID == ["world", "data"]
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "--loudness" in capsys.readouterr().out


def test_two_tasks_may_not_claim_one_name_or_data_kind(echo_task):
    import dataclasses

    with pytest.raises(ConfigError, match="Two tasks"):
        tasks.register(echo_task.TASK)
    with pytest.raises(ConfigError, match="data kind"):
        tasks.register(dataclasses.replace(echo_task.TASK, name="echo2", presets={}))


def test_a_task_option_exists_only_while_its_task_is_registered(capsys):
    assert main(["eval", "synthetic", "--checkpoint", "x", "--loudness", "3"]) == 2
    assert "Unknown option --loudness" in capsys.readouterr().err


def test_sample_options_pass_the_samplers_own_and_drop_their_randomness():
    from lddbm.tasks import SampleOptions

    opts = SampleOptions(steps=4, sampler="heun", options={"churn": 0.3, "guidance": 1.5})
    assert opts.sampler_kwargs() == {"num_inference_steps": 4, "sampler": "heun", "churn": 0.3, "guidance": 1.5}
    assert opts.without_randomness().options == {"churn": 0.0, "guidance": 1.5}
    assert SampleOptions(options={"eta": 0.5}).without_randomness().options == {"eta": 0.0}
