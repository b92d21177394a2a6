"""INSP-Net filters (paper Sec. 3.1): a new INR Psi = Pi(jet of Phi).

Rooms: ``insp_net`` (pixel-unit jets, the fusions Pi, hand-made and learned, the filter that decodes Psi),
``context`` (the neighbouring points whose jets a context Pi reads: offsets, padded grid, gather),
``sampler`` (training pixels and jet augmentations), ``tasks`` (each task's inputs and targets),
``checkpoint`` (the filter file), ``handmade`` (hand-made Pi beside the pixel operators), ``baselines/``
(classical filters per modality: ``images``, ``audio``).
"""

from insp_cli.filters.context import dihedral_tables
from insp_cli.filters.insp_net import (HANDMADE, LUMA, FeatureScaler, INSPFilter, LearnedFusion, box_downsample,
                                       gradient_magnitude, jet_features, laplacian, pixel_jet, pixel_jets,
                                       subpixel_grid, unsharp)
from insp_cli.filters.sampler import PixelSampler, augment

__all__ = ["HANDMADE", "LUMA", "FeatureScaler", "INSPFilter", "LearnedFusion", "PixelSampler", "augment",
           "box_downsample", "dihedral_tables", "gradient_magnitude", "jet_features", "laplacian", "pixel_jet",
           "pixel_jets", "subpixel_grid", "unsharp"]
