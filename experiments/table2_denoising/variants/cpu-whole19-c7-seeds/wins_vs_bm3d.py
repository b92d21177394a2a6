"""Per-photo PSNR / LPIPS of INSP-Net against BM3D in eval runs' per_image.csv: mean, delta, wins."""
import csv, sys
from collections import defaultdict
for run in sys.argv[1:]:
    rows = defaultdict(dict)
    with open(f"{run}/per_image.csv") as f:
        for r in csv.DictReader(f):
            rows[r["method"]][int(r["index"])] = r
    for m in [k for k in ("insp_net", "insp_net_alone", "dncnn", "dncnn_alone") if k in rows]:
        ids = sorted(rows[m])
        p = [float(rows[m][i]["psnr"]) for i in ids]; b = [float(rows["bm3d"][i]["psnr"]) for i in ids]
        d = [x - y for x, y in zip(p, b)]
        lw = sum(float(rows[m][i]["lpips"]) < float(rows["bm3d"][i]["lpips"]) for i in ids if rows[m][i]["lpips"])
        print(f"{run}: {m} {sum(p)/len(p):.3f} dB vs bm3d {sum(b)/len(b):.3f} ({sum(d)/len(d):+.3f}), "
              f"psnr wins {sum(x > 0 for x in d)}/{len(d)}, lpips better {lw}/{len(d)}; per photo "
              + " ".join(f"{x:+.2f}" for x in d))
