"""The learning-rate schedule: a linear warm-up, then poly(0.9) decay to exactly 0.

Warm-up keeps the first steps of a from-scratch U-Net (BN statistics still settling, the loss
steep) from overshooting at the higher peak rate the measured defaults use; poly is DeepLab's and
mmsegmentation's, and reaching 0 at the end makes an N-epoch run a finished run, so runs of equal
length compare fairly (crossdomain).
"""

from __future__ import annotations

POWER = 0.9


def warmup_steps(total: int, fraction: float) -> int:
    """Warm-up length: `fraction` of the run, at least one step when there is any, never the whole run."""
    if fraction <= 0 or total <= 1:
        return 0
    return min(total - 1, max(1, round(total * fraction)))


def lr_at(step: int, total: int, warmup: int) -> float:
    """Factor of the peak rate for step `step` (0-based) of `total`; 0 once all `total` are done.

    Rises linearly over the first `warmup` steps (from 1/(warmup+1), never 0: every step learns),
    is 1 at step `warmup`, then decays as ((total - step) / (total - warmup)) ** 0.9.
    """
    if step >= total:
        return 0.0
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return ((total - step) / (total - warmup)) ** POWER
