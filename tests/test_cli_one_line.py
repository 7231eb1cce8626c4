"""Failures that used to print tracebacks: one line naming the file, the exit code README promises."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sunprep.export.formats as formats
from fixtures.scenes import write_dataset
from sunprep.cli.app import app

SIZE = (12, 16)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, 5, seed=3, size=SIZE)
    return root


def export(root: Path, out: Path, *extra: str):
    args = ["export", "--root", str(root), "--out", str(out), "--size", "8x16", "--workers", "1", "--quiet", *extra]
    return CliRunner().invoke(app, args)


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") or "Invalid value" in lines[0] or lines[0].startswith("Usage"), lines[0]
    return lines[0]


def test_out_under_a_file_is_exit_2(data, tmp_path) -> None:
    (tmp_path / "afile").write_text("x")
    result = export(data, tmp_path / "afile" / "out")
    assert result.exit_code == 2
    assert str(tmp_path / "afile") in one_error_line(result)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway: chmod cannot stop it")
def test_unwritable_out_is_exit_2(data, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = export(data, locked / "out")
    finally:
        locked.chmod(0o700)
    line = one_error_line(result)
    assert result.exit_code == 2 and f"{locked}: not writable" in line and "re-run" not in line


def test_a_permission_denied_mid_run_says_not_writable_not_re_run(data, tmp_path, monkeypatch) -> None:
    """Re-running cannot help a permission error: the line says what is wrong instead."""

    def denied(folder, name, data_, **kw):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder / name))

    monkeypatch.setattr(formats, "stage_bytes", denied)
    result = export(data, tmp_path / "out")
    line = one_error_line(result)
    assert result.exit_code == 2 and "not writable (Permission denied)" in line and "re-run" not in line


def test_full_disk_is_one_line_and_the_rerun_resumes(data, tmp_path, monkeypatch) -> None:
    real = formats.stage_bytes
    calls = {"n": 0}

    def full_after_six(folder, name, data_, **kw):
        calls["n"] += 1
        if calls["n"] > 6:  # two samples' files, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / name))
        return real(folder, name, data_, **kw)

    monkeypatch.setattr(formats, "stage_bytes", full_after_six)
    out = tmp_path / "out"
    result = export(data, out)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "cannot write (No space left on device)" in line and "re-run to resume" in line
    monkeypatch.setattr(formats, "stage_bytes", real)
    again = export(data, out)
    assert again.exit_code == 0, again.output
    clean = export(data, tmp_path / "clean")
    assert clean.exit_code == 0
    for f in (tmp_path / "clean").rglob("*.npy"):
        assert (out / f.relative_to(tmp_path / "clean")).read_bytes() == f.read_bytes()


@pytest.mark.parametrize("size", ["60000x120000", "4097x16", "0x16", "axb"])
def test_size_refused_before_allocating(data, tmp_path, size) -> None:
    result = CliRunner().invoke(app, ["export", "--root", str(data), "--out", str(tmp_path / "o"), "--size", size])
    assert result.exit_code == 2 and "--size" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content", [b"", b"kv2/kinect2data/a\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 600])
def test_split_file_text_empty_or_hdf5_is_exit_2(data, tmp_path, content) -> None:
    split = tmp_path / "allsplit.mat"
    split.write_bytes(content)
    result = export(data, tmp_path / "o", "--split-file", str(split))
    assert result.exit_code == 2 and one_error_line(result).startswith(f"error: {split}: ")


@pytest.mark.parametrize(
    "body",
    [
        "raw_label,class\n" + "x" * (200 * 1024) + ",wall\n",  # a field over the csv module's 128 KiB limit
        "original_labels,clean_label,number of images,seg37list index,seg37list label\nwall,wall,inf,1,wall\n",
        "original_labels,clean_label,number of images,seg37list index,seg37list label\nwall,wall,3,inf,wall\n",
    ],
)
def test_bad_mapping_csv_is_exit_4(tmp_path, body) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text(body)
    names = tmp_path / "names.txt"
    names.write_text("wall\n")
    result = CliRunner().invoke(app, ["normalize", "--mapping", str(csv), "--labels", str(names)])
    assert result.exit_code == 4 and one_error_line(result).startswith(f"error: {csv}:")


def test_garbage_seg2d_order_is_exit_2(data, tmp_path) -> None:
    seg2d = tmp_path / "SUNRGBD2Dseg.mat"
    seg2d.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(2000))
    order = tmp_path / "SUNRGBDMeta.mat"
    order.write_bytes(b"MATLAB 5.0 MAT-file" + b" " * 105 + b"\x00\x01IM" + os.urandom(300))
    for extra in (["--seg2d", str(seg2d), "--seg2d-order", str(order)], ["--seg2d", str(seg2d)]):
        result = CliRunner().invoke(app, ["scan", str(data), *extra])
        assert result.exit_code == 2 and one_error_line(result).startswith("error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "{root}", "--depth", "bogus"],
        ["export", "--root", "{root}", "--out", "{out}", "--format", "bogus"],
        ["export", "--root", "{root}", "--out", "{out}", "--fit", "bogus"],
        ["export", "--root", "{root}", "--out", "{out}", "--val-fraction", "1.5"],
        ["export", "--root", "{root}", "--out", "{out}", "--val-fraction", "nan"],
        ["export", "--root", "{root}", "--out", "{out}", "--workers", "0"],
        ["export", "--root", "{root}", "--out", "{out}", "--shard-mb", "0"],
        ["export", "--root", "{root}", "--out", "{out}", "--depth", "bogus"],
        ["export", "--root", "{root}", "--out", "{out}", "--depth-encoding", "bogus"],
        ["export", "--root", "{root}", "--out", "{out}", "--seed", "x"],
        ["normalize", "--root", "{root}", "--labels", "{root}/none.txt"],
        ["normalize"],
    ],
)
def test_bad_option_values_are_exit_2(data, tmp_path, args) -> None:
    argv = [a.format(root=data, out=tmp_path / "o") for a in args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
