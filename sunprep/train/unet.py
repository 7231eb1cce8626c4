"""U-Net (Ronneberger et al. 2015) in plain torch, with one output head per label space.

The encoder-decoder ("trunk") is shared; each label space (a class table, e.g. SUN RGB-D's 39
classes or Cityscapes' 19) gets its own 1x1-conv head, so a model pre-trained on one domain and
fine-tuned on another keeps a working head for both and can be evaluated on each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Architecture; saved in every checkpoint so a model can be rebuilt without the CLI."""

    width: int = 16  # channels at full resolution; doubles per level (measured: benchmarks/train.py)
    poolings: int = 4  # 128x256 -> an 8x16 bottleneck
    in_channels: int = 3  # RGB


def _block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv + BN + ReLU: the U-Net unit. No conv bias: BN's shift makes it redundant."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder-decoder with skip connections; `heads` maps a label-space key to its class count."""

    def __init__(self, cfg: UNetConfig, heads: Mapping[str, int]) -> None:
        super().__init__()
        if cfg.width < 1 or cfg.poolings < 1:
            raise ValueError(f"width and poolings must be >= 1, got {cfg.width}, {cfg.poolings}")
        self.cfg = cfg
        chans = [cfg.width * 2**i for i in range(cfg.poolings + 1)]
        self.down = nn.ModuleList([_block(cfg.in_channels, chans[0])])
        self.down.extend(_block(chans[i], chans[i + 1]) for i in range(cfg.poolings))
        # Transposed 2x2 conv halves the channels, as in the paper; the skip restores them.
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(cfg.poolings)))
        self.dec = nn.ModuleList(_block(2 * chans[i], chans[i]) for i in reversed(range(cfg.poolings)))
        self.heads = nn.ModuleDict()
        for key, n in heads.items():
            self.add_head(key, n)

    def add_head(self, key: str, n_classes: int) -> None:
        """A fresh 1x1 classifier for a new label space (fine-tuning onto another domain)."""
        self.heads[key] = nn.Conv2d(self.cfg.width, n_classes, 1)

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """Pad H, W up to a multiple of 2**poolings (replicate), so any image size works."""
        m = 2**self.cfg.poolings
        h, w = x.shape[-2:]
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        return x, h, w

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder output at full resolution, and the bottleneck features (for CKA / statistics)."""
        x, h, w = self._pad(x)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        bottleneck = x
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([up(x), skip], dim=1))
        return x[..., :h, :w], bottleneck

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        """Logits (B, n_classes, H, W) of the head for one label space."""
        return self.heads[head](self.trunk(x)[0])
