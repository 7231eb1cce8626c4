"""Training and evaluation reliability: bad option values and bad checkpoints are one line with the
README's exit code; a crash in torch.save leaves no temporary; --resume repairs metrics.csv and
extends a finished run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fixtures.npy_dataset import write_npy_dataset
from sunprep.cli import app
from sunprep.errors import BadInput
from sunprep.train import checkpoint
from sunprep.train.checkpoint import load_checkpoint
from sunprep.train.config import FINETUNE_EPOCHS, FINETUNE_LR
from sunprep.train.loop import TrainConfig, train

FAST = {"width": 8, "poolings": 2, "batch_size": 4, "lr": 1e-2, "device": "cpu"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inputs")
    data = write_npy_dataset(root / "data", 8, 4, seed=1)
    return data, train(TrainConfig(data=data, out=root / "run", epochs=1, **FAST))


def _one_line(args: list[str], code: int, message: str) -> None:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == code, res.output
    assert res.output.startswith("error: ") and message in res.output and res.output.count("\n") == 1, res.output


@pytest.mark.parametrize(
    "option, value, message",
    [("--width", "0", "--width 0: must be at least 1"), ("--lr", "-1", "--lr -1.0: must be a finite number"),
     ("--lr", "nan", "--lr nan: must be a finite number"), ("--epochs", "0", "--epochs 0")],  # choices: test_cli_conventions
)
def test_bad_train_option_values_exit_2(run: tuple[Path, Path], tmp_path: Path, option: str, value: str, message: str) -> None:
    data, _ = run
    _one_line(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--quiet", option, value], 2, message)


def test_bad_evaluate_options_exit_2(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, ckpt = run
    base = ["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--quiet"]
    _one_line([*base, "--batch-size", "0"], 2, "--batch-size 0: must be at least 1")
    (tmp_path / "file").write_text("x")
    _one_line([*base, "--out", str(tmp_path / "file")], 2, f"{tmp_path / 'file'}: is a file, not a folder")
    _one_line([*base, "--out", str(tmp_path / "file" / "sub")], 2, "is a file, not a folder (on the way to")


def _damaged(ckpt: Path, tmp_path: Path) -> dict[str, Path]:
    state = load_checkpoint(ckpt)
    data = ckpt.read_bytes()
    files = {"zero bytes": b"", "garbage": b"\x00garbage" * 50, "truncated": data[: len(data) // 2]}
    out = {}
    for name, content in files.items():
        (tmp_path / f"{name}.pt").write_bytes(content)
        out[name] = tmp_path / f"{name}.pt"
    variants = {
        "missing keys": {**state, "model": {k: v for k, v in state["model"].items() if "down.0" not in k}},
        "mismatched shapes": {**state, "model": {**state["model"], "down.0.0.weight": torch.zeros(3, 3)}},
        "no arch": {k: v for k, v in state.items() if k != "arch"},
    }
    for name, content in variants.items():
        torch.save(content, tmp_path / f"{name}.pt")
        out[name] = tmp_path / f"{name}.pt"
    return out


def test_bad_checkpoints_are_one_line_exit_5(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, ckpt = run
    expect = {"zero bytes": "not a readable checkpoint (empty file)", "garbage": "not a readable checkpoint",
              "truncated": "not a readable checkpoint", "missing keys": "weights do not fit the architecture it declares (missing 12: down.0.0.weight",
              "mismatched shapes": "weights do not fit the architecture it declares (wrong shape 1: down.0.0.weight (3, 3) (want (8, 3, 3, 3))", "no arch": "damaged checkpoint ('arch' missing"}  # fmt: skip
    for name, path in _damaged(ckpt, tmp_path).items():
        _one_line(["evaluate", "--checkpoint", str(path), "--data", str(data), "--quiet"], 5, f"{path}: {expect[name]}")
        _one_line(["train", "--data", str(data), "--out", str(tmp_path / name), "--init", str(path), "--epochs", "1",
                   "--width", "8", "--poolings", "2", "--quiet"], 5, str(path))  # fmt: skip


def test_crash_inside_torch_save_leaves_no_temporary(run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, _ = run
    cfg = TrainConfig(data=data, out=tmp_path / "run", epochs=2, **FAST)
    train(replace(cfg, epochs=1))
    before = (tmp_path / "run" / "last.pt").read_bytes()

    def half_then_fail(obj: object, f: Path) -> None:
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        train(replace(cfg, resume=True))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "curves.png", "last.pt", "metrics.csv"]
    assert (tmp_path / "run" / "last.pt").read_bytes() == before


def test_resume_repairs_the_metrics_row_a_kill_lost(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = run
    cfg = TrainConfig(data=data, out=tmp_path / "run", epochs=2, **FAST)
    train(cfg)
    metrics = tmp_path / "run" / "metrics.csv"
    whole = metrics.read_text()
    metrics.write_text("\n".join(whole.splitlines()[:2]) + "\n")  # killed between last.pt and this row
    train(replace(cfg, resume=True))
    assert metrics.read_text() == whole


def test_resume_with_more_epochs_extends_and_with_fewer_refuses(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = run
    cfg = TrainConfig(data=data, out=tmp_path / "run", epochs=2, **FAST)
    train(cfg)
    notes: list[str] = []
    ckpt = load_checkpoint(train(replace(cfg, epochs=3, resume=True), on_note=notes.append))
    assert ckpt["epoch"] == 3 and [int(r["epoch"]) for r in ckpt["history"]] == [1, 2, 3]
    assert any("finished run of 2 epochs continues to 3: the poly schedule is recomputed" in n for n in notes)
    assert ckpt["schedule_changes"] == [{"at_epoch": 2, "epochs_before": 2, "epochs_after": 3}]
    assert ckpt["history"][2]["lr"] == 0.0 and ckpt["history"][1]["lr"] == 0.0  # each leg ends at 0
    assert '"epochs_after": 3' in (tmp_path / "run" / "config.json").read_text()
    with pytest.raises(BadInput, match="has finished 3 of 3 epochs; pass more than 3"):
        train(replace(cfg, epochs=2, resume=True))


def test_fine_tuning_has_its_own_default_rate_and_epochs(run: tuple[Path, Path], tmp_path: Path) -> None:
    """`--init` without `--lr`/`--epochs` takes the fine-tuning defaults; config.json records what ran."""
    assert TrainConfig.schedule(None, None, None) == (TrainConfig.epochs, TrainConfig.lr)
    assert TrainConfig.schedule(tmp_path, None, None) == (FINETUNE_EPOCHS, FINETUNE_LR)
    assert TrainConfig.schedule(tmp_path, 3, 0.5) == (3, 0.5)
    assert (TrainConfig.epochs, TrainConfig.lr) != (FINETUNE_EPOCHS, FINETUNE_LR)
    data, ckpt = run
    common = ["--data", str(data), "--epochs", "1", "--width", "8", "--poolings", "2", "--batch-size", "4", "--device", "cpu", "--quiet"]
    for name, extra, lr in (("tuned", ["--init", str(ckpt)], FINETUNE_LR), ("scratch", [], TrainConfig.lr)):
        res = CliRunner().invoke(app, ["train", "--out", str(tmp_path / name), *extra, *common])
        assert res.exit_code == 0, res.output
        saved = json.loads((tmp_path / name / "config.json").read_text())
        assert saved["lr"] == lr and saved["epochs"] == 1
        assert load_checkpoint(tmp_path / name / "last.pt")["history"][0]["lr"] == 0.0  # the schedule ran to its end
