"""Baselines on the cached 16-val-clip fit of section 4 (pilot/README.md): decoded INR and raw noisy input.

    PYTHONPATH=$PWD:$PWD/experiments/fig15_audio/pilot python experiments/fig15_audio/pilot/baselines_val16.py
"""
import glob, numpy as np, torch
import fit_study
from insp_cli.filters.baselines import audio as B
from insp_cli.metrics.audio import snr
from insp_cli.inr.siren import SirenSpec, siren_forward
torch.set_num_threads(1)
p = [f for f in glob.glob('/tmp/fig15_cache/fit-val-16-*.pt')][0]
snaps = torch.load(p)
clean, noisy = fit_study.noisy_clips('val', 16, seed=0, root='/tmp/audroot')
spec = SirenSpec(in_features=1, out_features=1, hidden=64, depth=3)
coords = torch.linspace(-1, 1, clean.shape[1]).unsqueeze(1) * 100
with torch.no_grad():
    dec = torch.cat([siren_forward(spec, snaps[150][a:a+4], coords) for a in range(0, 16, 4)])[..., 0].numpy()
print(p, 'decoded', snr(clean, dec).mean())
for k in ('scipy_wiener', 'stft_wiener', 'spectral_subtraction'):
    print(k, 'on decoded %.2f' % snr(clean, B.BASELINES[k](dec, fit_study.SIGMA)).mean(), 'on raw noisy %.2f' % snr(clean, B.BASELINES[k](noisy, fit_study.SIGMA)).mean())
