"""The one set of display labels of insp's method, dataset and baseline keys (tables, eval's table2.md and its
picture titles). The paper's numbers live with their table (``table1``, ``table2``, ``inrr_table``,
``oinr_table``)."""

from __future__ import annotations

LABELS = {"mnist": "MNIST", "cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST",
          "depthwise_cnn": "Depthwise CNN", "pca_svm": "PCA + SVM", "weight_mlp": "MLP classifier",
          "insp_convnet": "INSP-ConvNet", "input": "Input (decoded from INR)", "mprnet": "MPRNet",
          "maxim": "MAXIM", "mean_filter": "Mean filter", "median_filter": "Median filter",
          "gaussian_filter": "Gaussian filter", "box_filter": "Box filter", "wiener": "Wiener filter",
          "insp_net": "INSP-Net", "scipy_wiener": "scipy.signal.wiener", "stft_wiener": "STFT Wiener (known sigma)",
          "spectral_subtraction": "Spectral subtraction", "speech": "Speech", "music": "Music",
          "nl_means": "Non-local means (known σ)", "tv_chambolle": "TV, Chambolle (known σ)",
          "wavelet": "Wavelet, BayesShrink (known σ)", "bm3d": "BM3D (known σ)",
          "dncnn": "DnCNN pixel twin (Π's budget)",
          "weight_knn": "Nearest neighbour on weights", "functa_mlp": "Functa MLP (on latents)",
          "gaussian": "Gaussian on the decoded grid", "taubin": "Taubin (trimesh)", "laplacian": "Laplacian (trimesh)"}


def label(key: str) -> str:
    return LABELS.get(key, str(key))
