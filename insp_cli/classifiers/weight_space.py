"""The paper's implicit baselines (Sec. 5.3, Table 1): classifiers on the flattened INR weights.

PCA + SVM and an MLP see each INR only as its parameter vector (N, P). SIREN weights have permutation and
sign symmetries and every INR starts from its own random initialisation, so the same digit can sit anywhere
in weight space: the paper measured 11.3% (PCA + SVM) and 9.8% (MLP) on MNIST, i.e. chance.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class WeightStandardizer:
    """Per-coordinate standardisation of weight vectors, fitted on the training INRs: params (N, P)."""

    def __init__(self, params: torch.Tensor):
        self.mean = params.mean(dim=0)
        self.std = params.std(dim=0).clamp_min(1e-8)

    def __call__(self, params: torch.Tensor) -> torch.Tensor:
        return (params - self.mean.to(params)) / self.std.to(params)

    def state_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}


class WeightMLP(nn.Module):
    """Standardised weights (N, P) -> logits (N, num_classes): ``depth`` hidden ReLU layers with dropout. In
    training mode ``noise`` > 0 adds N(0, noise^2) to every input (an augmentation of the standardised
    vectors: functa latents, classifier.noise)."""

    def __init__(self, num_params: int, num_classes: int, hidden: int = 256, depth: int = 2, dropout: float = 0.1,
                 noise: float = 0.0):
        super().__init__()
        self.noise = float(noise)
        layers, d = [], num_params
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout)]
            d = hidden
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, weights):
        if self.training and self.noise > 0:
            weights = weights + self.noise * torch.randn_like(weights)
        return self.net(weights)


def weight_knn(train_x: np.ndarray, train_y: np.ndarray, k: int = 1, standardize: bool = False):
    """k nearest neighbours (Euclidean) on weight vectors (N, P), standardised per weight when asked; returns the
    fitted sklearn estimator (O-INR's weight-space baseline)."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    knn = KNeighborsClassifier(n_neighbors=int(k))
    return (make_pipeline(StandardScaler(), knn) if standardize else knn).fit(train_x, train_y)


def pca_svm(train_x: np.ndarray, train_y: np.ndarray, components: int = 64, c: float = 1.0, seed: int = 0):
    """Fit standardise -> PCA(components) -> RBF SVM on weight vectors (N, P); returns the sklearn pipeline."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    components = int(min(components, train_x.shape[0], train_x.shape[1]))
    model = make_pipeline(StandardScaler(), PCA(n_components=components, random_state=seed),
                          SVC(C=c, kernel="rbf", random_state=seed))
    return model.fit(train_x, train_y)
