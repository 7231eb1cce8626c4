"""The conventions hands expect, in every command: --version, -h, completion, one meaning per
option name, and choices that the parser checks and `--help` lists."""

from __future__ import annotations

import inspect
import types
from collections import defaultdict
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

import pytest
from typer.models import OptionInfo
from typer.testing import CliRunner

from sunprep.cli import app

WIDE = {"COLUMNS": "300"}  # help on one line per option, so choices are not wrapped


def _value_type(t: object) -> object:
    """`list[X] | None` -> X: what one occurrence of the option takes."""
    while get_origin(t) in (Union, types.UnionType, list):
        t = next(a for a in get_args(t) if a is not type(None))
    return t


def options() -> list[tuple[str, tuple[str, ...], object]]:
    """(command, option names, value type) of every option, read from the command functions as typer does."""
    found = []
    for info in app.registered_commands:
        assert info.callback is not None
        command = info.name or info.callback.__name__
        for param in inspect.signature(info.callback, eval_str=True).parameters.values():
            if get_origin(param.annotation) is not Annotated:
                continue
            t, *meta = get_args(param.annotation)
            [opt] = [m for m in meta if isinstance(m, OptionInfo)] or [None]
            if opt is not None:
                # Under Annotated, typer takes Option's first argument (`default`) as the first name.
                decls = ((opt.default,) if isinstance(opt.default, str) else ()) + tuple(opt.param_decls or ())
                names = tuple(d for decl in decls for d in decl.split("/")) or (f"--{param.name.replace('_', '-')}",)
                found.append((command, names, _value_type(t)))
    return sorted(found, key=lambda o: (o[0], o[1]))


def choices(t: object) -> tuple[str, ...] | None:
    if get_origin(t) is Literal:
        return tuple(str(a) for a in get_args(t))
    if isinstance(t, type) and issubclass(t, Enum):
        return tuple(str(m.value) for m in t)
    return None


def kind(t: object) -> str:
    """What an option takes, coarsely: a flag, a choice, a path, a number, text."""
    if choices(t):
        return "choice"
    return {bool: "flag", Path: "path"}.get(t, getattr(t, "__name__", str(t)))  # type: ignore[call-overload]


COMMANDS = sorted({c for c, _, _ in options()})


def test_version_is_the_package_metadata() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"sunprep {version('sunprep')}\n"


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_dash_h_is_help_on_every_command(command: str) -> None:
    argv = [command] if command else []
    short, long = (CliRunner().invoke(app, [*argv, flag], env=WIDE) for flag in ("-h", "--help"))
    assert short.exit_code == long.exit_code == 0
    assert short.stdout == long.stdout and f"Usage: sunprep {command}".rstrip() in short.stdout


def test_shell_completion_is_installable_and_completes_choices() -> None:
    script = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="sunprep")
    assert script.exit_code == 0 and "complete -o default -F _sunprep_completion sunprep" in script.stdout
    env = {"_SUNPREP_COMPLETE": "complete_bash", "COMP_WORDS": "sunprep train --device ", "COMP_CWORD": "3"}
    done = CliRunner().invoke(app, [], prog_name="sunprep", env=env)
    assert done.stdout.split() == ["auto", "cpu", "cuda", "mps"]
    env = {"_SUNPREP_COMPLETE": "complete_bash", "COMP_WORDS": "sunprep cross", "COMP_CWORD": "1"}
    assert CliRunner().invoke(app, [], prog_name="sunprep", env=env).stdout.split() == ["crossdomain"]


def test_an_option_name_takes_one_kind_of_value_everywhere() -> None:
    """`--seg2d` is a file wherever it appears, `--workers` a count, `--depth` a choice..."""
    kinds: dict[str, set[str]] = defaultdict(set)
    longs: dict[str, set[str]] = defaultdict(set)
    for _, names, t in options():
        for name in names:
            kinds[name].add(kind(t))
        for short in (o for o in names if not o.startswith("--")):
            longs[short].update(o for o in names if o.startswith("--"))
    assert {n: k for n, k in kinds.items() if len(k) > 1} == {}
    assert {s: n for s, n in longs.items() if len(n) > 1} == {}, "a short flag standing for two long names"
    assert longs["-j"] == {"--workers"} and longs["-q"] == {"--quiet"}


def test_renamed_options_mean_one_thing() -> None:
    where = defaultdict(set)
    for command, names, _ in options():
        for name in names:
            where[name].add(command)
    assert where["--depth"] == {"export", "scan"}  # the depth source, nothing else
    assert where["--poolings"] == {"train", "crossdomain"}
    assert {"--a", "--b", "--jobs"}.isdisjoint(where)
    assert where["--domain-a"] == where["--domain-b"] == {"crossdomain"}
    assert where["--workers"] == {"analyze", "crossdomain", "evaluate", "export", "fetch", "train"}
    # fetch's download toggles are not the path options that read those files
    assert where["--with-toolbox"] == where["--with-seg2d"] == where["--with-mapping"] == {"fetch"}
    assert where["--seg2d"] == {"export", "normalize", "scan"} and where["--mapping"] == {"export", "normalize"}


CHOICES = {
    ("train", "--device"), ("train", "--precision"), ("train", "--class-weights"),
    ("evaluate", "--device"), ("evaluate", "--precision"), ("analyze", "--device"),
    ("crossdomain", "--device"), ("crossdomain", "--precision"),
    ("report", "--sort"), ("report", "--format"), ("report", "--method"),
    ("export", "--format"), ("export", "--depth"), ("scan", "--depth"),
}  # fmt: skip


def test_free_text_choices_are_choices() -> None:
    assert {(c, names[0]) for c, names, t in options() if choices(t)} >= CHOICES


@pytest.mark.parametrize(("command", "option", "values"), [(c, n[0], choices(t)) for c, n, t in options() if choices(t)])
def test_every_choice_is_listed_in_help_and_checked_by_the_parser(command: str, option: str, values: tuple[str, ...]) -> None:
    listed = "|".join(values)
    help_text = CliRunner().invoke(app, [command, "-h"], env=WIDE).stdout
    assert f"<{listed}>" in help_text or f"<list[{listed}]>" in help_text, (option, listed)
    bad = CliRunner().invoke(app, [command, option, "bogus"], env=WIDE)
    assert bad.exit_code == 2 and f"Invalid value for '{option}'" in bad.output, bad.output
