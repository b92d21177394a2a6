"""Quality metrics of the paper's tables, one module per modality (``images``: PSNR, SSIM, LPIPS; ``audio``: SNR, SI-SDR, PESQ, STOI), each tested
against its reference implementation (docs/metrics.md)."""

from insp_cli.metrics.images import (LPIPS_WEIGHTS_ENV, image_scores, lpips_distance, lpips_model, lpips_weights_path,
                                     psnr, psnr_where_missing, ssim)

__all__ = ["LPIPS_WEIGHTS_ENV", "image_scores", "lpips_distance", "lpips_model", "lpips_weights_path", "psnr",
           "psnr_where_missing", "ssim"]
