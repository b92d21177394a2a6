"""insp: signal processing directly on implicit neural representations (INSP-Net, NeurIPS 2022)."""

from .allocator import keep_freed_memory

__version__ = "0.1.0"

keep_freed_memory()  # every entry point (CLI, Hydra workers, scripts, the Python API): see allocator.py
