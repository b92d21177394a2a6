"""Image sources (MNIST, Fashion-MNIST, CIFAR-10, natural images) and the degradations of the paper's tasks."""

from insp_cli.data.degrade import KINDS as DEGRADATIONS
from insp_cli.data.degrade import Degraded, degrade
from insp_cli.data.imageset import ImageSet
from insp_cli.data.sources import DATASETS, load_images

__all__ = ["DATASETS", "DEGRADATIONS", "Degraded", "ImageSet", "degrade", "load_images"]
