"""The paper's numbers (what our tables print beside ours) and the one set of display labels of insp's
method, dataset and baseline keys (tables, eval's table2.md and its picture titles)."""

from __future__ import annotations

# The paper's numbers (Sec. 5.3 Table 1: test accuracy %, INRs of the full datasets, 1,000 epochs;
# App. Table 2: 100 DIV2K test images, RGB Gaussian noise, PSNR dB / SSIM / LPIPS).
PAPER_TABLE1 = {"mnist": {"depthwise_cnn": 87.6, "pca_svm": 11.3, "weight_mlp": 9.8, "insp_convnet": 88.1},
                "cifar10": {"depthwise_cnn": 59.5, "pca_svm": 9.4, "weight_mlp": 10.1, "insp_convnet": 62.5}}
PAPER_TABLE2 = {"input": (20.51, 0.47, 0.40), "mprnet": (23.95, 0.72, 0.36), "maxim": (24.64, 0.74, 0.33),
                "mean_filter": (22.57, 0.60, 0.43), "insp_net": (23.86, 0.65, 0.38)}
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
          "weight_knn": "Nearest neighbour on weights",
          "gaussian": "Gaussian on the decoded grid", "taubin": "Taubin (trimesh)", "laplacian": "Laplacian (trimesh)"}


def label(key: str) -> str:
    return LABELS.get(key, str(key))
