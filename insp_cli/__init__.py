"""insp: signal processing directly on implicit neural representations (INSP-Net, NeurIPS 2022)."""

__version__ = "0.1.0"
