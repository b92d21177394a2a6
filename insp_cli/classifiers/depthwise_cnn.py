"""The paper's explicit baseline (Sec. 5.3, Table 1): a 2-layer depthwise CNN on images decoded from the INRs.

It mirrors INSP-ConvNet layer for layer so that the only difference is where the kernel lives: a depthwise
k x k convolution on pixels (the first layer fans each input channel out to ``width // C`` filters) instead
of a combination of derivatives, then the same 1x1 mix, InstanceNorm, ReLU, average pooling over pool x pool
cells and linear head. A k x k kernel sees the same neighbourhood that derivatives up to order k - 1 describe
(its moments up to order k - 1 are what a Taylor expansion of the image sees): kernel_size = order + 1 is the
fair match.
"""

from __future__ import annotations

from torch import nn


class DepthwiseCNN(nn.Module):
    """images (N, C, H, W) in [0, 1] -> logits (N, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int, layers: int = 2, kernel_size: int = 3, width: int = 32,
                 pool: int = 4, final_norm: bool | None = None):
        super().__init__()
        final_norm = pool > 1 if final_norm is None else final_norm  # the same rule as InspConvNet
        blocks, c_in = [], in_channels
        for i in range(layers):
            mult = max(1, width // c_in) if i == 0 else 1
            norm = i < layers - 1 or final_norm
            blocks.append(nn.Conv2d(c_in, c_in * mult, kernel_size, padding=kernel_size // 2, groups=c_in,
                                    bias=False))
            blocks.append(nn.Conv2d(c_in * mult, width, 1, bias=not norm))  # InstanceNorm removes any bias
            blocks += [nn.InstanceNorm2d(width, affine=True), nn.ReLU()] if norm else [nn.ReLU()]
            c_in = width
        self.body = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(pool)
        self.head = nn.Linear(width * pool * pool, num_classes)

    def forward(self, images):
        # flattened (cell, channel) in the same order as InspConvNet's cells: x fastest, then y
        return self.head(self.pool(self.body(images)).permute(0, 2, 3, 1).flatten(1))
