"""One room per modality (images, audio, shapes) behind one protocol (``base.Modality``) and one registry.

Jobs look the modality up once — ``of_data(cfg.data.name)`` for `insp fit`, ``of_store(store)`` (the store
header) for `insp train-filter` and `insp eval`, ``of_filter(meta)`` for a filter file — and call its methods.
"""

from . import audio, images, shapes  # noqa: F401  (each registers its modality)
from .base import MODALITIES, Modality, Signals, check_finite_input, of_data, of_filter, of_store, register, spec_for

__all__ = ["MODALITIES", "Modality", "Signals", "check_finite_input", "of_data", "of_filter", "of_store", "register",
           "spec_for"]
