"""Training: it learns, overfits, resumes exactly, reads every export layout, rejects bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures.npy_dataset import write_npy_dataset, write_official_dataset, write_parquet_dataset
from sunprep.errors import MappingError, TrainError
from sunprep.train.checkpoint import build_model, load_checkpoint, space_key
from sunprep.train.data import open_dataset
from sunprep.train.loop import TrainConfig, class_weights, train

# Small and fast: 32x64 images, width 8, two poolings; lr 1e-2 suits this tiny net.
FAST = {"width": 8, "poolings": 2, "batch_size": 4, "lr": 1e-2, "device": "cpu"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_npy_dataset(tmp_path_factory.mktemp("npy"), 64, 16, seed=0)


def _history(ckpt: Path) -> list[dict[str, float]]:
    return load_checkpoint(ckpt)["history"]


def test_learns_synthetic_data_to_high_miou(data: Path, tmp_path: Path) -> None:
    """5 epochs of 64 images: val mIoU 0.98 when written (threshold 0.9)."""
    curves: list[bytes] = []  # curves.png as it stands after each epoch
    ckpt = train(TrainConfig(data=data, out=tmp_path / "run", epochs=5, **FAST),
                 on_epoch=lambda row: curves.append((tmp_path / "run" / "curves.png").read_bytes()))  # fmt: skip
    assert len(set(curves)) == 5  # redrawn every epoch
    hist = _history(ckpt)
    assert [int(r["epoch"]) for r in hist] == [1, 2, 3, 4, 5]
    assert hist[-1]["val_miou"] >= 0.9
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    csv_rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert csv_rows[0].startswith("epoch,lr,train_loss") and len(csv_rows) == 6


def test_overfits_a_handful_of_images(tmp_path: Path) -> None:
    """4 images scored on themselves reach ~100 % (mIoU 0.993, pixel accuracy 0.997 when written)."""
    small = write_npy_dataset(tmp_path / "small", 4, 1, seed=3)
    cfg = TrainConfig(data=small, out=tmp_path / "run", epochs=60, val_split="train", flip=False, **FAST)
    last = _history(train(cfg))[-1]
    assert last["val_miou"] >= 0.98 and last["val_pixel_acc"] >= 0.99


def test_resume_after_interruption_equals_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=data, out=tmp_path / "full", epochs=2, **FAST)
    full = load_checkpoint(train(cfg))

    class Interrupt(Exception):
        pass

    def stop_in_second_epoch(desc: str, done: int, total: int) -> None:
        if desc.startswith("epoch 2") and done == 3:
            raise Interrupt

    cut = replace(cfg, out=tmp_path / "cut")
    with pytest.raises(Interrupt):
        train(cut, on_batch=stop_in_second_epoch)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 1
    resumed = load_checkpoint(train(replace(cut, resume=True)))
    assert resumed["epoch"] == 2
    for name, tensor in full["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    assert resumed["history"][1]["val_miou"] == full["history"][1]["val_miou"]


def test_seed_changes_the_weights(data: Path, tmp_path: Path) -> None:
    a = load_checkpoint(train(TrainConfig(data=data, out=tmp_path / "a", epochs=1, seed=1, **FAST)))
    b = load_checkpoint(train(TrainConfig(data=data, out=tmp_path / "b", epochs=1, seed=2, **FAST)))
    w = "down.0.0.weight"
    assert not torch.equal(a["model"][w], b["model"][w])


def test_resume_refuses_changed_settings_and_existing_runs(data: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=data, out=tmp_path / "run", epochs=1, **FAST)
    train(cfg)
    with pytest.raises(TrainError, match="exists; pass --resume"):
        train(cfg)
    with pytest.raises(TrainError, match="lr=0.01, now 0.02"):
        train(replace(cfg, resume=True, lr=0.02))
    with pytest.raises(TrainError, match="nothing to resume"):
        train(replace(cfg, out=tmp_path / "other", resume=True))


def test_checkpoint_from_before_the_poolings_rename_evaluates_and_resumes(data: Path, tmp_path: Path) -> None:
    """Runs saved when the U-Net's poolings were `depth` (arch and config) still load, resume and extend."""
    cfg = TrainConfig(data=data, out=tmp_path / "run", epochs=1, **FAST)
    ckpt_path = train(cfg)
    old = torch.load(ckpt_path, weights_only=True)
    old["arch"] = {("depth" if k == "poolings" else k): v for k, v in old["arch"].items()}
    old["config"] = {("depth" if k == "poolings" else k): v for k, v in old["config"].items()}
    torch.save(old, ckpt_path)
    loaded = load_checkpoint(ckpt_path)
    assert loaded["arch"]["poolings"] == 2 and "depth" not in loaded["arch"] and loaded["config"]["poolings"] == 2
    assert build_model(loaded, ckpt_path).cfg.poolings == 2
    assert load_checkpoint(train(replace(cfg, epochs=2, resume=True)))["epoch"] == 2


def test_fine_tuning_keeps_the_source_head_and_adds_the_target_head(data: Path, tmp_path: Path) -> None:
    src = train(TrainConfig(data=data, out=tmp_path / "a", epochs=1, **FAST))
    other = write_npy_dataset(tmp_path / "b", 8, 4, seed=7, n_classes=4)
    tuned = load_checkpoint(train(TrainConfig(data=other, out=tmp_path / "ab", epochs=1, init=src, **FAST)))
    a_key, b_key = space_key(open_dataset(data).classes), space_key(open_dataset(other).classes)
    assert set(tuned["heads"]) == {a_key, b_key} and tuned["head"] == b_key
    source = load_checkpoint(src)
    # The source head is carried along untouched; the shared trunk moved on.
    assert torch.equal(tuned["model"][f"heads.{a_key}.weight"], source["model"][f"heads.{a_key}.weight"])
    assert not torch.equal(tuned["model"]["down.0.0.weight"], source["model"]["down.0.0.weight"])
    with pytest.raises(TrainError, match="architecture"):
        train(TrainConfig(data=other, out=tmp_path / "bad", epochs=1, init=src, **{**FAST, "width": 4}))


def test_all_three_layouts_read_the_same_samples(tmp_path: Path) -> None:
    splits = [
        open_dataset(w(tmp_path / w.__name__, 5, 3, seed=11)).load("train")
        for w in (write_npy_dataset, write_parquet_dataset, write_official_dataset)
    ]
    layouts = [open_dataset(tmp_path / w).layout for w in ("write_npy_dataset", "write_parquet_dataset", "write_official_dataset")]
    assert layouts == ["cityscapes", "parquet", "cityscapes-official"]
    for s in splits[1:]:
        assert np.array_equal(s.images, splits[0].images) and np.array_equal(s.labels, splits[0].labels)
    assert splits[0].images.dtype == np.uint8 and (splits[0].labels == -1).any()


def test_release_without_classes_csv_is_read_as_cityscapes_19(tmp_path: Path) -> None:
    root = write_npy_dataset(tmp_path / "release", 3, 2, n_classes=19, with_classes=False, with_manifest=False)
    ds = open_dataset(root)
    assert len(ds.classes) == 19 and ds.classes.names[:2] == ("road", "sidewalk")
    assert ds.load("val").labels.max() <= 18


def test_float_images_that_are_not_8_bit_stay_float(tmp_path: Path) -> None:
    root = write_npy_dataset(tmp_path / "d", 3, 2)
    np.save(root / "train" / "image" / "1.npy", np.full((32, 64, 3), 0.1234567, np.float32))
    s = open_dataset(root).load("train")
    assert s.images.dtype == np.float32 and s.images[1, 0, 0, 0] == np.float32(0.1234567)
    assert np.allclose(s.images[0] * 255, np.rint(s.images[0] * 255), atol=1e-4)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (r / "classes.csv").unlink(), r"label value .* outside 0..18 .*classes.csv absent"),
        (lambda r: np.save(r / "train" / "label" / "2.npy", np.full((32, 64), 7)), r"label/2.npy: label value 7 outside 0..4"),
        (lambda r: np.save(r / "train" / "label" / "0.npy", np.full((32, 64), -3)), r"label value -3 outside"),
        (lambda r: (r / "train" / "label" / "1.npy").unlink(), r"label/1.npy: missing"),
        (lambda r: np.save(r / "train" / "label" / "3.npy", np.full((32, 64), 1.5, np.float32)), r"fractional label values"),
        (lambda r: (r / "train" / "image" / "1.npy").rename(r / "train" / "image" / "9.npy"), r"not 0..\d+.npy"),
    ],
    ids=["classes-missing", "label-too-high", "label-negative", "label-file-missing", "float-labels", "gap-in-names"],
)
def test_bad_data_is_one_clear_line(tmp_path: Path, damage, message: str) -> None:
    root = write_npy_dataset(tmp_path / "d", 4, 2, n_classes=5 if "classes" not in message else 25)
    damage(root)
    with pytest.raises(TrainError, match=message) as err:
        open_dataset(root).load("train")
    assert "\n" not in str(err.value)


def test_unknown_layout_and_bad_class_table(tmp_path: Path) -> None:
    (tmp_path / "x" / "train").mkdir(parents=True)
    with pytest.raises(TrainError, match="not a known layout"):
        open_dataset(tmp_path / "x")
    root = write_npy_dataset(tmp_path / "d", 2, 1)
    (root / "classes.csv").write_text("class_id,name\n0,wall\n")
    with pytest.raises(MappingError, match="classes.csv:2"):
        open_dataset(root)


def test_inverse_sqrt_class_weights() -> None:
    """Pixel counts 1 and 4 (class 2 absent): weights 1/sqrt(freq) scaled to mean 1 over present classes."""
    w = class_weights("inverse-sqrt", np.array([[0, 1, 1, 1, 1, -1]]), 3)
    assert w is not None and w.tolist() == pytest.approx([4 / 3, 2 / 3, 0.0])
    assert class_weights("none", np.zeros((1, 2)), 3) is None
    with pytest.raises(TrainError, match="inverse-sqrt"):
        class_weights("median", np.zeros((1, 2)), 3)


def test_all_void_batches_leave_the_weights_finite(tmp_path: Path) -> None:
    root = write_npy_dataset(tmp_path / "d", 8, 2)
    for i in range(4):  # the first batch of 4 (any order) may be all void
        np.save(root / "train" / "label" / f"{i}.npy", np.full((32, 64), -1))
    ckpt = load_checkpoint(train(TrainConfig(data=root, out=tmp_path / "run", epochs=2, **{**FAST, "batch_size": 1})))
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values() if t.is_floating_point())
    assert np.isfinite(ckpt["history"][-1]["train_loss"])
