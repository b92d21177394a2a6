"""One fitting step of N INRs with a regulariser (``fit.reg``): fidelity on the observed pixels + weight * R.

The fidelity term is the per-INR mean squared error over observed pixels (as in ``siren_mse_and_grad``); R is
one of ``regularisers`` evaluated on the INR decoded on the full ``shape`` grid, so every step decodes all
pixels (missing ones included) and takes gradients by autograd. The learned regularisers (AIR, INRR) own
parameters per INR, one set for rows and one for columns, trained jointly with the INR by their own Adam
(constant ``lr``) on the same loss, as in the paper; they are dropped after the fit (the store keeps the INR).
For AIR and INRR ``weight`` is both lambda_r and lambda_c of the paper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from . import regularisers as R
from .siren import SirenSpec, init_params, siren_backward, siren_forward_cached


@dataclass
class RegSettings:
    kind: str = "none"  # none | tv | l2 | air | inrr
    weight: float = 0.0  # lambda (for air/inrr: lambda_r = lambda_c)
    lr: float = 1e-3  # Adam learning rate of the AIR/INRR adjacency parameters (constant)
    tv_p: float = 1.0  # the norm of tv
    g_hidden: int = 32  # INRR's tiny SIREN g: width,
    g_depth: int = 2  # number of sine layers,
    g_omega0: float = 1.0  # omega0 (small: a smooth Laplacian),
    g_rank: int | None = None  # output size r (None = max(H, W), as in the paper)
    g_norm: str = "row"  # INRR adjacency: embed (the public code's A = P P^T) | row (row softmax) | global (paper)

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def to_dict(self) -> dict:
        return asdict(self)


class _Adam:
    """Plain Adam over a list of (N, ...) tensors whose leading rows can be dropped (early stop)."""

    def __init__(self, tensors, lr):
        self.m = [torch.zeros_like(t) for t in tensors]
        self.v = [torch.zeros_like(t) for t in tensors]
        self.lr, self.t = lr, 0

    def step(self, tensors, grads):
        self.t += 1
        for p, g, m, v in zip(tensors, grads, self.m, self.v):
            m.mul_(0.9).add_(g, alpha=0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            p.addcdiv_(m, (v / (1 - 0.999**self.t)).sqrt_().add_(1e-8), value=-self.lr / (1 - 0.9**self.t))

    def keep(self, rows):
        self.m, self.v = [m[rows] for m in self.m], [v[rows] for v in self.v]


class Regularised:
    """State of the regulariser for the rows of one ``_fit_once`` call (created per call, refits included)."""

    def __init__(self, reg: RegSettings, spec: SirenSpec, shape: tuple[int, int], generators, device):
        self.reg, self.spec, (self.h, self.w) = reg, spec, shape
        self.g_spec = None
        self.state: list[torch.Tensor] = []  # row then column parameters, (N, ...) each
        if reg.kind == "air":  # nn.Linear's default init of AIR's free matrices: U(-1/sqrt(m), 1/sqrt(m))
            for m in (self.h, self.w):
                self.state.append(torch.stack([(torch.rand(m, m, generator=g) * 2 - 1) / m**0.5
                                               for g in generators]).to(device))
        elif reg.kind == "inrr":
            r = reg.g_rank or max(self.h, self.w)
            self.g_spec = SirenSpec(in_features=1, out_features=r, hidden=reg.g_hidden, depth=reg.g_depth,
                                    omega0=reg.g_omega0)
            for _ in range(2):
                self.state.append(torch.cat([init_params(self.g_spec, 1, generator=g) for g in generators])
                                  .to(device))
        self.opt = _Adam(self.state, reg.lr) if self.state else None

    def penalty(self, params: torch.Tensor, x: torch.Tensor, state: list[torch.Tensor]) -> torch.Tensor:
        """params: (N, P); x: (N, C, H, W) decoded INRs -> (N,) R before weighting."""
        k = self.reg.kind
        if k == "tv":
            return R.tv(x, self.reg.tv_p)
        if k == "l2":
            return R.l2_last_layer(self.spec, params)
        if k == "air":
            return R.dirichlet(x, R.air_adjacency(state[0]), "rows") + R.dirichlet(x, R.air_adjacency(state[1]),
                                                                                 "cols")
        if k == "inrr":
            nm = self.reg.g_norm
            return (R.dirichlet(x, R.inrr_adjacency(self.g_spec, state[0], self.h, nm), "rows")
                    + R.dirichlet(x, R.inrr_adjacency(self.g_spec, state[1], self.w, nm), "cols"))
        raise ValueError(f"unknown regulariser {k!r}")

    def loss_and_grad(self, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                      mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """params: (N, P); coords: (H*W, 2) the full grid; targets: (N, H*W, c) in [-1, 1]; mask: (N, H*W).
        Returns the per-INR masked MSE (N,) and the gradient (N, P) of mse + weight * R; steps the
        regulariser's own parameters. The SIREN's backward is the hand-written one (``siren_backward``);
        autograd runs only through R, from the decoded image (and, for l2, the last layer)."""
        n = params.shape[0]
        out, cache = siren_forward_cached(self.spec, params, coords)  # (N, Q, c)
        diff = out - targets
        if mask is None:
            count = torch.full((n,), float(diff.shape[1] * diff.shape[2]), dtype=diff.dtype, device=diff.device)
        else:
            diff.mul_(mask.to(diff.dtype).unsqueeze(-1))
            count = mask.to(diff.dtype).sum(1).clamp_min(1) * diff.shape[2]
        mse = diff.pow(2).sum((1, 2)) / count
        g_out = diff.mul_((2.0 / count).view(n, 1, 1))
        with torch.enable_grad():
            x = out.detach().requires_grad_(True)
            p = params.detach().requires_grad_(True)
            st = [s.detach().requires_grad_(True) for s in self.state]
            img = x.view(n, self.h, self.w, -1).permute(0, 3, 1, 2)
            pen = self.reg.weight * self.penalty(p, img, st)
            leaves = [x, p, *st]
            grads = torch.autograd.grad(pen.sum(), leaves, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]
        grad = siren_backward(self.spec, cache, g_out.add_(grads[0])).add_(grads[1])
        if self.opt is not None:
            with torch.no_grad():
                self.opt.step(self.state, grads[2:])
        return mse, grad

    def keep(self, rows: torch.Tensor) -> None:
        self.state = [s[rows] for s in self.state]
        if self.opt is not None:
            self.opt.keep(rows)
