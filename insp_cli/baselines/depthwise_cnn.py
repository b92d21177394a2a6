"""The paper's explicit baseline (Sec. 5.3, Table 1): a 2-layer depthwise CNN on images decoded from the INRs.

It mirrors INSP-ConvNet layer for layer so that the only difference is where the kernel lives: a depthwise
k x k convolution on pixels (first layer fans each input channel out to ``width // C`` filters) instead of
a combination of derivatives, then the same 1x1 mix, InstanceNorm (not in the last block), ReLU, mean pooling
and linear head.
A k x k kernel sees the same neighbourhood that derivatives up to order k - 1 describe (its moments up to
order k - 1 are what a Taylor expansion of the image sees), so kernel_size = order + 1 is the fair match.
"""

from __future__ import annotations

from torch import nn


class DepthwiseCNN(nn.Module):
    """images (N, C, H, W) in [0, 1] -> logits (N, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int, layers: int = 2, kernel_size: int = 3, width: int = 32):
        super().__init__()
        blocks, c_in = [], in_channels
        for i in range(layers):
            mult = max(1, width // c_in) if i == 0 else 1
            last = i == layers - 1
            blocks.append(nn.Conv2d(c_in, c_in * mult, kernel_size, padding=kernel_size // 2, groups=c_in,
                                    bias=False))
            # as in InspConvNet: InstanceNorm (which removes any bias) in every block but the last one, whose
            # scale the average pooling needs
            blocks.append(nn.Conv2d(c_in * mult, width, 1, bias=last))
            blocks += [nn.ReLU()] if last else [nn.InstanceNorm2d(width, affine=True), nn.ReLU()]
            c_in = width
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, num_classes)

    def forward(self, images):
        return self.head(self.body(images).mean(dim=(2, 3)))
