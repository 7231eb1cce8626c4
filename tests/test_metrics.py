"""Dataset-level metrics: the confusion matrix against a naive loop, the scores against torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from sunprep.train.metrics import confusion, scores

N = 6


def _tm(gt: torch.Tensor, pred: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    """torchmetrics' figures; `macro` IoU there averages classes whose union is non-empty, like ours."""
    kw = {"num_classes": n, "ignore_index": -1}
    return {
        "iou": MulticlassJaccardIndex(average=None, **kw)(pred, gt).double(),
        "miou": MulticlassJaccardIndex(average="macro", **kw)(pred, gt).double(),
        "acc": MulticlassAccuracy(average=None, **kw)(pred, gt).double(),
        "pixel_acc": MulticlassAccuracy(average="micro", **kw)(pred, gt).double(),
    }


def _compare(gt: torch.Tensor, pred: torch.Tensor, n: int = N) -> None:
    """Per-class IoU is compared on classes present in gt or prediction (torchmetrics writes 0, we
    write NaN, for the others); per-class accuracy on classes present in gt; mIoU against
    torchmetrics' macro average, mean accuracy against the mean of its per-class accuracy over the
    classes present in gt; pixel accuracy against its micro average."""
    s = scores(confusion(gt, pred, n))
    ref = _tm(gt, pred, n)
    valid = gt >= 0
    present = torch.zeros(n, dtype=torch.bool)
    present[gt[valid].unique()] = True
    present[pred[valid].unique()] = True
    in_gt = torch.zeros(n, dtype=torch.bool)
    in_gt[gt[valid].unique()] = True
    assert np.array_equal(~np.isnan(s.iou), present.numpy())
    np.testing.assert_allclose(s.iou[present.numpy()], ref["iou"][present].numpy(), atol=1e-6)
    np.testing.assert_allclose(s.acc[in_gt.numpy()], ref["acc"][in_gt].numpy(), atol=1e-6)
    if valid.any():
        assert s.miou == pytest.approx(float(ref["miou"]), abs=1e-6)
        assert s.pixel_acc == pytest.approx(float(ref["pixel_acc"]), abs=1e-6)
        assert s.mean_acc == pytest.approx(float(ref["acc"][in_gt].mean()), abs=1e-6)
    else:
        assert np.isnan(s.miou) and np.isnan(s.pixel_acc) and np.isnan(s.mean_acc) and s.pixels == 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), void=st.floats(0, 0.9), absent=st.lists(st.integers(0, N - 1), max_size=3))
def test_scores_match_torchmetrics_on_random_inputs(seed: int, void: float, absent: list[int]) -> None:
    g = np.random.default_rng(seed)
    allowed = [c for c in range(N) if c not in absent] or [0]
    gt = torch.from_numpy(g.choice(allowed, size=(3, 7, 9)))
    pred = torch.from_numpy(np.where(g.random(gt.shape) < 0.6, gt.numpy(), g.choice(allowed, size=gt.shape)))
    gt[torch.from_numpy(g.random(gt.shape) < void)] = -1
    _compare(gt, pred)


@pytest.mark.parametrize(
    "gt, pred",
    [
        (torch.full((4, 5), -1), torch.randint(0, N, (4, 5), generator=torch.Generator().manual_seed(0))),  # all void
        (torch.full((4, 5), 2), torch.full((4, 5), 2)),  # one class, all right
        (torch.full((4, 5), 2), torch.full((4, 5), 4)),  # one class, all wrong: IoU 0 for both
        (torch.tensor([[0, 0, -1, 1]]), torch.tensor([[0, 1, 5, 1]])),  # class 5 only under void: not scored
    ],
    ids=["all-void", "one-class", "one-class-wrong", "pred-under-void"],
)
def test_scores_match_torchmetrics_on_edge_cases(gt: torch.Tensor, pred: torch.Tensor) -> None:
    _compare(gt, pred)


def test_edge_case_values() -> None:
    s = scores(confusion(torch.tensor([[0, 0, -1, 1]]), torch.tensor([[0, 1, 5, 1]]), N))
    assert s.iou[0] == pytest.approx(0.5) and s.iou[1] == pytest.approx(0.5)
    assert np.isnan(s.iou[2:]).all() and s.miou == pytest.approx(0.5) and s.pixels == 3
    wrong = scores(confusion(torch.full((2, 2), 2), torch.full((2, 2), 4), N))
    assert wrong.iou[2] == 0 and wrong.iou[4] == 0 and wrong.miou == 0 and wrong.mean_acc == 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 7))
def test_confusion_equals_naive_loop(seed: int, n: int) -> None:
    g = np.random.default_rng(seed)
    gt = g.integers(-1, n, size=50)
    pred = g.integers(0, n, size=50)
    naive = np.zeros((n, n), np.int64)
    for a, b in zip(gt, pred):
        if a >= 0:
            naive[a, b] += 1
    got = confusion(torch.from_numpy(gt), torch.from_numpy(pred), n)
    assert got.dtype == torch.int64 and np.array_equal(got.numpy(), naive)


def test_dataset_level_miou_is_not_the_mean_of_batch_mious() -> None:
    """Two batches: summing confusions first differs from averaging per-batch mIoU (the notebook bug)."""
    a_gt, a_pr = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 0, 0])
    b_gt, b_pr = torch.tensor([1]), torch.tensor([1])
    total = scores(confusion(a_gt, a_pr, 2) + confusion(b_gt, b_pr, 2)).miou
    per_batch = (scores(confusion(a_gt, a_pr, 2)).miou + scores(confusion(b_gt, b_pr, 2)).miou) / 2
    ref = float(MulticlassJaccardIndex(num_classes=2, average="macro")(torch.cat([a_pr, b_pr]), torch.cat([a_gt, b_gt])))
    assert total == pytest.approx(ref, abs=1e-6) and total != pytest.approx(per_batch)
