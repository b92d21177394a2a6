"""A function run through ``torch.compile`` when switched on and eagerly otherwise, falling back to eager on any
compiler failure: the one switch of the jets' sin/cos recurrence (jets/taylor.py) and of the INR fitting step
(inr/fit.py), both set by ``compile=`` (config.py ``jets_compile``). Torch only."""

from __future__ import annotations

import warnings
from typing import Callable

import torch


class Compiled:
    """``fn`` compiled on its first call while ``enabled`` (``torch.compile(fn, **options)``), eagerly otherwise.
    Off by default. Where compiling or running the compiled code fails (no C++ compiler, ...), one warning
    ``torch.compile failed for WHAT (error); FALLBACK`` is printed, ``enabled`` turns False and ``fn`` runs eagerly
    from then on: the same math, so the same numbers to float rounding."""

    def __init__(self, fn: Callable, what: str, fallback: str, **options):
        self.fn, self.what, self.fallback, self.options = fn, what, fallback, options
        self.enabled = False
        self.compiled: Callable | None = None

    def __call__(self, *args):
        if self.enabled:
            if self.compiled is None:
                self.compiled = torch.compile(self.fn, **self.options)
            try:
                return self.compiled(*args)
            except Exception as e:  # noqa: BLE001 - any compiler failure: the same function, eagerly
                self.enabled = False
                first = str(e).splitlines()[0][:200] if str(e) else ""
                warnings.warn(f"torch.compile failed for {self.what} ({type(e).__name__}: {first}); {self.fallback}",
                              stacklevel=3)
        return self.fn(*args)
