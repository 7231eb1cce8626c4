"""What training minimises: cross-entropy over labelled pixels only.

Void (-1) is ignored, never shifted into a fake class: a void-only image adds no loss and no
gradient, and the mean is over labelled pixels, so a mostly void batch is not diluted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sunprep.labels.classes import VOID


def criterion(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
              reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of (B,C,H,W) logits against (B,H,W) labels, void ignored; computed in fp32."""
    return F.cross_entropy(logits.float(), labels, weight=weights, ignore_index=VOID, reduction=reduction)
