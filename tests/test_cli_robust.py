"""What a new user's probe broke: numbers out of range, unwritable --out, Ctrl-C, wrapped paths,
bad --class, stale analyze panels, --resume of a finished run, a very long scene name."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

import sunprep.atomic
import sunprep.cli.export as export_cli
import sunprep.cli.fetch as fetch_cli
import sunprep.cli.normalize as normalize_cli
import sunprep.train.analyze as analyze_core
import sunprep.train.crossdomain as crossdomain_core
import sunprep.train.loop as loop
from fixtures.npy_dataset import write_npy_dataset
from fixtures.scenes import write_dataset
from sunprep.cli.app import ON_INTERRUPT, app
from sunprep.console import console
from sunprep.train.config import INT_RANGES

REPO = Path(__file__).resolve().parents[1]
FAST = ["--width", "8", "--poolings", "2", "--batch-size", "4", "--device", "cpu", "--quiet"]


# Checked after parsing, with a message the parser could not give (the split's range): tested below.
CHECKED_BY_THE_COMMAND = {("show", "--index")}
# Checked by the command's config in one `error: --option value: ...` line (sunprep.train.config),
# as the README's examples show them: (lowest, highest or None for no bound but finiteness).
FLOATS_OF_CONFIGS = {"--lr": (0.0, None), "--finetune-lr": (0.0, None), "--warmup": (0.0, 1.0), "--scale-min": (0.0, 4.0), "--scale-max": (0.0, 4.0)}


def numeric_options() -> list[tuple[str, str, object, object, bool]]:
    """(command, --flag, min, max, is_float) of every int and float option, from the parser or the config that checks it."""
    found = []
    for name, command in sorted(typer.main.get_command(app).commands.items()):  # type: ignore[attr-defined]
        for p in command.params:
            flag = p.opts[0]
            kind = re.search(r"annotation=(?:typing\.Optional\[)?<class '(int|float)'>|annotation=(int|float) \| None", repr(p.type_descriptor))
            if not kind or (name, flag) in CHECKED_BY_THE_COMMAND:
                continue
            low, high = p.min, p.max
            if low is None and high is None:  # left to the config, which names the option in its line
                low, high = INT_RANGES.get(p.name) or FLOATS_OF_CONFIGS.get(flag, (None, None))
            found.append((name, flag, low, high, "float" in kind.group(0)))
    return found


def required_args(command: str, tmp: Path) -> list[str]:
    """Enough for the parser to reach every option; nothing behind them exists, and nothing must run."""
    return {
        "analyze": ["--checkpoint", "c.pt", "--data", str(tmp)],
        "crossdomain": ["--domain-a", str(tmp), "--domain-b", str(tmp), "--out", str(tmp / "o")],
        "evaluate": ["--checkpoint", "c.pt", "--data", str(tmp)],
        "export": ["--root", str(tmp), "--out", str(tmp / "o")],
        "report": [str(tmp)],
        "show": [str(tmp)],
        "train": ["--data", str(tmp), "--out", str(tmp / "o")],
    }.get(command, [])


def test_every_number_an_option_takes_has_a_range() -> None:
    options = numeric_options()
    assert len(options) >= 30  # the audit found them all (train alone has ten)
    assert [o[:2] for o in options if o[2] is None] == []
    seeds = {(c, lo, hi) for c, flag, lo, hi, _ in options if flag == "--seed"}
    assert seeds == {(c, 0, 2**32 - 1) for c in ("crossdomain", "export", "train")}


@pytest.mark.parametrize("command,flag,low,high,is_float", numeric_options())
def test_out_of_range_numbers_are_refused_before_any_work(command, flag, low, high, is_float, tmp_path) -> None:
    bad = [str(low - 1)] + ([str(high + 1)] if high is not None else [])
    bad += ["nan", "inf"] if is_float else ["99999999999999999999"]
    for value in bad:
        result = CliRunner().invoke(app, [command, *required_args(command, tmp_path), flag, value])
        assert result.exit_code == 2, (flag, value, result.output)
        parser = f"Invalid value for '{flag}'" in result.output
        config = result.output.startswith("error: --") and f"{flag} " in result.output and result.output.count("\n") == 1
        assert "Traceback" not in result.output and (parser or config), result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("index", ["-1", "2", "99999999999999999999"])
def test_show_index_outside_the_split_is_one_line(index, tmp_path) -> None:
    data = write_npy_dataset(tmp_path / "d", 2, 2, size=(8, 16), seed=0)
    result = CliRunner().invoke(app, ["show", str(data), "--index", index, "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 2 and result.output == f"error: {data}: --index {index} outside 0..1, the 'val' split's samples\n"


def test_train_seed_past_numpy_and_torch_leaves_no_run_folder(tmp_path) -> None:
    data = write_npy_dataset(tmp_path / "d", 2, 1, size=(8, 16), seed=0)
    for seed in ("-1", "99999999999999999999", str(2**32)):
        result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--seed", seed, *FAST])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert not (tmp_path / "run").exists()


def _never(*_a, **_k):
    raise AssertionError("the work started before --out was checked")


OUT_CASES = [
    ("normalize", lambda t, out: ["normalize", "--root", str(t), "--out", str(out)], normalize_cli, "run_normalize"),
    ("analyze", lambda t, out: ["analyze", "--checkpoint", "c.pt", "--data", str(t), "--out", str(out)], analyze_core, "analyze"),
    ("crossdomain", lambda t, out: ["crossdomain", "--domain-a", str(t), "--domain-b", str(t), "--out", str(out)], crossdomain_core, "run_study"),
    ("fetch", lambda t, out: ["fetch", "--source", str(t), "--dest", str(out)], fetch_cli, "run_fetch"),
]


@pytest.mark.parametrize("command,argv,module,core", OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_out_is_checked_before_the_work(command, argv, module, core, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(module, core, _never)
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(app, argv(tmp_path, tmp_path / "afile" / "out"))
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {tmp_path / 'afile'}: is a file, not a folder (on the way to {tmp_path / 'afile' / 'out'})"
    # Not writable (as user nobody in a mode-555 folder): os.access says so, we are root here.
    real = sunprep.atomic.os.access
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(sunprep.atomic.os, "access", lambda p, mode: Path(p) != tmp_path / "ro" and real(p, mode))
    result = CliRunner().invoke(app, argv(tmp_path, tmp_path / "ro" / "l"))
    assert result.exit_code == 2 and result.output.strip() == f"error: {tmp_path / 'ro'}: not writable", result.output


def _interrupt(*_a, **_k):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "argv,module,core,line",
    [
        (["export", "--root", "{t}", "--out", "{t}/o", "--quiet"], export_cli, "run_export", "interrupted; re-run the same command to resume"),
        (["fetch", "--source", "{t}", "--dest", "{t}/o", "--quiet"], fetch_cli, "run_fetch", "interrupted; re-run the same command to resume"),
        (["train", "--data", "{t}", "--out", "{t}/o", "--quiet"], loop, "train", "interrupted; re-run it with --resume to continue from the last finished epoch (none finished: re-run it as it was)"),
        (["normalize", "--root", "{t}", "--quiet"], normalize_cli, "run_normalize", "interrupted"),
    ],
)
def test_ctrl_c_is_one_line_and_exit_130(argv, module, core, line, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(module, core, _interrupt)
    result = CliRunner().invoke(app, [a.format(t=tmp_path) for a in argv])
    assert result.exit_code == 130, result.output
    assert result.output.strip() == line


def test_interrupt_hints_name_real_commands() -> None:
    assert set(ON_INTERRUPT) <= set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_no_console_hard_wraps_a_path(capsys) -> None:
    long = "/data/" + "x" * 300 + "/index.json: repaired"
    console(stderr=True).print(f"warning: {long}", markup=False, highlight=False)
    assert capsys.readouterr().err == f"warning: {long}\n"
    # ...and every console of the project is made there.
    made = [p for p in (REPO / "sunprep").rglob("*.py") if "Console(" in p.read_text() and p.name != "console.py"]
    assert made == []


def test_normalize_warnings_keep_their_paths_whole(tmp_path) -> None:
    result = CliRunner().invoke(app, ["normalize", "--root", str(REPO / "example"), "--quiet"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) >= 3
    for line in warnings:
        assert re.fullmatch(r"warning: \S+/annotation2Dfinal/index\.json: .+", line), line


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labels") / "labels"
    assert CliRunner().invoke(app, ["normalize", "--root", str(REPO / "example"), "--out", str(out), "--quiet"]).exit_code == 0
    return out


@pytest.mark.parametrize("args", [["--class", "99"], ["--class", "foo"], ["--limit", "-1"], ["--min-count", "-1"]])
def test_report_bad_option_values_are_exit_2(resolved, args) -> None:
    result = CliRunner().invoke(app, ["report", str(resolved), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("run")
    data = write_npy_dataset(root / "d", 4, 4, size=(16, 32), seed=1)
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(root / "run"), "--epochs", "1", *FAST])
    assert result.exit_code == 0, result.output
    return data, root / "run"


def test_analyze_again_keeps_only_this_runs_panels(run, tmp_path) -> None:
    data, folder = run
    base = ["analyze", "--checkpoint", str(folder / "last.pt"), "--data", str(data), "--out", str(tmp_path / "a"),
            "--device", "cpu", "--quiet"]  # fmt: skip
    assert CliRunner().invoke(app, [*base, "--worst", "3"]).exit_code == 0
    assert len(list((tmp_path / "a" / "worst").iterdir())) == 3
    again = CliRunner().invoke(app, [*base, "--worst", "1"])
    assert again.exit_code == 0, again.output
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    [only] = summary["worst"]
    assert [p.name for p in (tmp_path / "a" / "worst").iterdir()] == [f"01_{only['id'].replace('/', '_')}.png"]


def test_resume_of_a_finished_run_changes_nothing(run) -> None:
    data, folder = run
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(folder), "--epochs", "1", "--resume", *FAST])
    assert result.exit_code == 0, result.output
    assert "the run is already complete (1 of 1 epochs); nothing changed" in result.output
    assert "epochs 2..1" not in result.output and "epoch 1 " not in result.output
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before


def test_scan_table_survives_a_250_character_scene_name(tmp_path) -> None:
    write_dataset(tmp_path / "d", 2, seed=0, size=(12, 16))
    [first, *_] = sorted(p for p in (tmp_path / "d").rglob("*") if (p / "image").is_dir())
    long = first.with_name("L" * 250)
    shutil.move(first, long)
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "d"), "--quiet"])
    rows = [line for line in result.stdout.splitlines() if "LLLL" in line]
    assert len(rows) == 1, result.stdout
    assert "…" in rows[0] and re.search(r"\d+x\d+", rows[0]) and ("ok" in rows[0] or "problem" in rows[0]), rows[0]
    header = next(line for line in result.stdout.splitlines() if "scene" in line and "status" in line)
    assert all(col in header for col in ("sensor", "size", "labels", "names", "type"))
