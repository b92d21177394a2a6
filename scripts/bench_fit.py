"""Benchmark `insp fit` against the authors' recipe, in one run (ratios, not absolute promises).

MNIST: the authors' recipe (VITA-Group/INSP): one INR at a time, Adam lr 1e-4, full batch, 1,001 steps,
against ours (N INRs per batch, the recipe of conf/data/mnist.yaml) on the same digits.
Natural images: PSNR vs steps and seconds per step at 256x256 / width 256, and the CPU-scale recipe
(conf/data/images.yaml) on real photos, projected to 100 images.
Regularisers (fit.reg, INRR paper): seconds per step of each against reg=none (--skip mnist --skip images).
Shapes (--shapes N): seconds per SDF INR of the data=meshes recipe (exact-SDF regression) against the SIREN
point-cloud loss at the same steps and points.

    python scripts/bench_fit.py                       # defaults: 2,048 ours, 8 reference INRs
    python scripts/bench_fit.py --ours 70000 --batch 2048 --device cuda
    python scripts/bench_fit.py --skip mnist --skip images --photos 2   # the 128x128 photo recipes (Table 2)
    python scripts/bench_fit.py --skip mnist --skip images --skip regularisers --backbones 4   # SIREN/WIRE/MFN/O-INR
    python scripts/bench_fit.py --skip mnist --skip images --skip regularisers --shapes 2   # SDF INRs per shape
    python scripts/bench_fit.py --skip mnist --skip images --skip regularisers \
        --meta-init INIT --functa FUNCTA --meta-test 2048 --ref 4   # meta-learned starts on held-out TEST digits
    python scripts/bench_fit.py --skip mnist --skip images --skip regularisers \
        --curve photos=PHOTOS_INIT audio=AUDIO_INIT --figure docs/meta_psnr_vs_time.png   # learned vs random start
    OMP_NUM_THREADS=1 python scripts/bench_fit.py --skip mnist --skip images --skip regularisers --meta-test 1024 \
        --ref 2 --compile off on --recipe "fit.steps=60 fit.lr=5e-3 fit.lr_final=1.5e-4 fit.warmup=0 fit.beta1=0.9 \
        fit.beta2=0.999"   # held-out TEST digits: the default recipe and the former one, eager and compiled

Recipes on held-out TEST digits (--recipe, --compile): the authors' recipe, ours and further rows of our fit with
other overrides, each with the fitting step eager and/or compiled, in one run.

Meta-learned starts (--meta-init, --functa; files of `insp meta-learn`, docs/meta.md): on the same held-out MNIST
TEST digits, the authors' recipe, ours, a learned initialisation + K Adam steps (K = 0, 1, 3, 5, 10, 20, 40; each
K's learning rate chosen on the last 256 TRAIN digits, which `insp meta-learn`'s default meta.val holds out) and
functa (3 and 10 latent steps).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from insp_cli.config import compose, pick_device
from insp_cli.data import load_images
from insp_cli.inr.fit import FitSettings, encode_pixels, fit_inrs, psnr_of_fit, set_compile
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.jobs.fit import fit_settings


def authors_recipe(spec, pixels, coords, steps=1001, lr=1e-4):
    """One INR per optimisation, Adam lr 1e-4, full batch: how the paper's code fits its datasets."""
    out = []
    for i in range(pixels.shape[0]):
        p = init_params(spec, 1, generator=torch.Generator().manual_seed(i)).to(pixels.device).requires_grad_()
        opt = torch.optim.Adam([p], lr=lr)
        y = encode_pixels(pixels[i:i + 1])
        for _ in range(steps):
            loss = (siren_forward(spec, p, coords) - y).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append(p.detach())
    return torch.cat(out)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def summary(name, seconds, cpu_seconds, n, psnr):
    psnr = psnr.numpy()
    return {"name": name, "n": n, "ms_per_inr": 1000 * seconds / n, "cpu_ms_per_inr": 1000 * cpu_seconds / n,
            "psnr_mean": float(np.mean(psnr)),
            "psnr_p5": float(np.percentile(psnr, 5)), "psnr_min": float(psnr.min())}


def bench_mnist(args, device):
    cfg = compose("fit", ["data=mnist", *args.override])
    spec = SirenSpec(2, 1, int(cfg.model.hidden), int(cfg.model.depth))
    ours_settings = fit_settings(cfg)
    ims = load_images("mnist", "train", limit=max(args.ours, args.ref))
    pix = torch.from_numpy(ims.images).reshape(len(ims), 784, 1).to(device)
    coords = grid_coords(28, device=device)

    sync(device)
    t, c = time.perf_counter(), time.process_time()
    ref = authors_recipe(spec, pix[:args.ref], coords)
    sync(device)
    t_ref, c_ref = time.perf_counter() - t, time.process_time() - c
    ref_row = summary("authors (1 at a time, lr 1e-4, 1001 steps)", t_ref, c_ref, args.ref,
                      psnr_of_fit(spec, ref, coords, pix[:args.ref]))

    t, c = time.perf_counter(), time.process_time()
    psnrs = []
    for a in range(0, args.ours, args.batch):
        res = fit_inrs(spec, pix[a:a + args.batch], coords, ours_settings, seed=a)
        psnrs.append(res.psnr)
    sync(device)
    t_ours, c_ours = time.perf_counter() - t, time.process_time() - c
    psnr = torch.cat(psnrs)
    ours_row = summary(f"insp fit (batch {args.batch}, {ours_settings.steps} steps)", t_ours, c_ours, args.ours, psnr)
    same = psnr[:args.ref]
    print(f"\nMNIST 28x28, SIREN {spec.depth}x{spec.hidden}, device {device}")
    print(f"{'recipe':48s} {'INRs':>6s} {'ms/INR':>9s} {'cpu ms/INR':>11s} {'PSNR mean':>10s} {'p5':>7s} {'min':>7s}")
    for r in (ref_row, ours_row):
        print(f"{r['name']:48s} {r['n']:6d} {r['ms_per_inr']:9.2f} {r['cpu_ms_per_inr']:11.2f} {r['psnr_mean']:10.2f} "
              f"{r['psnr_p5']:7.2f} {r['psnr_min']:7.2f}")
    print(f"same {args.ref} digits, ours: PSNR mean {same.mean():.2f} dB (reference {ref_row['psnr_mean']:.2f} dB)")
    print(f"speed-up per INR: {ref_row['ms_per_inr'] / ours_row['ms_per_inr']:.1f}x wall, "
          f"{ref_row['cpu_ms_per_inr'] / ours_row['cpu_ms_per_inr']:.1f}x cpu time")
    print(f"projected 70,000 MNIST INRs: {70000 * ours_row['ms_per_inr'] / 60000:.1f} min wall as measured; "
          f"{70000 * ours_row['cpu_ms_per_inr'] / 60000 / torch.get_num_threads():.1f} min if the process had its "
          f"{torch.get_num_threads()} threads to itself (cpu time / threads); from {args.ours} measured")


def bench_images(args, device):
    print(f"\nNatural images, device {device}")
    if args.big_steps:
        ims = load_images("images", "train", limit=1, size=256)
        pix = torch.from_numpy(ims.images).reshape(1, -1, 3).to(device)
        spec = SirenSpec(2, 3, 256, 3)
        coords = grid_coords(256, device=device)
        checkpoints = sorted({s for s in (25, 50, 100, 200, 400, 800) if s <= args.big_steps} | {args.big_steps})
        print(f"256x256 / width 256 ({spec.num_params} params), full batch, lr 1e-3 constant: PSNR vs steps")
        done, t_total = 0, 0.0
        params = None
        for s in checkpoints:
            settings = FitSettings(steps=s - done, lr=1e-3, lr_final=1e-3)
            t = time.perf_counter()
            if params is None:
                res = fit_inrs(spec, pix, coords, settings)
            else:  # continue from the previous checkpoint
                from insp_cli.inr.fit import _fit_once
                p, _ = _fit_once(spec, encode_pixels(pix), coords, None, settings, params, torch.Generator(), None)
                res = type("R", (), {"params": p.detach()})()
            sync(device)
            t_total += time.perf_counter() - t
            params = res.params.to(device)
            done = s
            print(f"  steps {s:5d}  PSNR {float(psnr_of_fit(spec, params, coords, pix)[0]):6.2f} dB  "
                  f"{t_total / s:.3f} s/step")
    cfg = compose("fit", ["data=images"] + (["data.folder=" + args.images_folder, "data.split=all"]
                                            if args.images_folder else ["data.split=all"]))
    ims = load_images("images", "all", limit=args.images, size=int(cfg.data.size), folder=args.images_folder)
    n, size = len(ims), int(cfg.data.size)
    spec = SirenSpec(2, 3, int(cfg.model.hidden), int(cfg.model.depth))
    settings = fit_settings(cfg)
    coords = grid_coords(size, device=device)
    t = time.perf_counter()
    psnrs = []
    for a in range(0, n, int(cfg.fit.batch_size)):
        pix = torch.from_numpy(ims.images[a:a + int(cfg.fit.batch_size)]).reshape(-1, size * size, 3).to(device)
        psnrs.append(fit_inrs(spec, pix, coords, settings, seed=a).psnr)
    sync(device)
    secs = time.perf_counter() - t
    psnr = torch.cat(psnrs).numpy()
    print(f"CPU-scale recipe: {n} images {size}x{size}, SIREN {spec.depth}x{spec.hidden}, {settings.steps} steps: "
          f"{secs / n:.2f} s/INR, PSNR mean {psnr.mean():.2f} dB, min {psnr.min():.2f} dB, "
          f">= 30 dB: {(psnr >= 30).sum()}/{n}; projected 100 images: {100 * secs / n / 60:.1f} min")


def bench_regularisers(args, device):
    """Seconds per fitting step with each fit.reg against reg=none, same INRs, same images, in this run.
    reg=none uses the hand-written backward; a regulariser decodes the full grid and uses autograd."""
    from insp_cli.inr.regularised import RegSettings

    size, n = args.reg_size, args.reg_inrs
    ims = load_images("images", "all", limit=n, size=size, channels=1)
    pix = torch.from_numpy(ims.images).reshape(n, size * size, 1).to(device)
    mask = torch.rand(n, size * size, generator=torch.Generator().manual_seed(0)).to(device) > 0.5
    spec = SirenSpec(2, 1, args.reg_hidden, 3)
    coords = grid_coords(size, device=device)
    steps = args.reg_steps
    print(f"\nRegularisers: {n} INRs of {size}x{size} gray, SIREN 3x{args.reg_hidden}, {steps} steps, 50 % mask, "
          f"device {device}")
    base = None
    for kind in ("none", "tv", "l2", "air", "inrr"):
        reg = None if kind == "none" else RegSettings(kind=kind, weight=1e-6)
        settings = FitSettings(steps=steps, lr=1e-3, lr_final=1e-4, retries=0, reg=reg)
        fit_inrs(spec, pix, coords, FitSettings(steps=2, retries=0, reg=reg), mask=mask, shape=(size, size))
        sync(device)
        t = time.perf_counter()
        fit_inrs(spec, pix, coords, settings, mask=mask, shape=(size, size))
        sync(device)
        per = (time.perf_counter() - t) / steps
        base = per if base is None else base
        print(f"  reg={kind:5s} {1000 * per:8.1f} ms/step  x{per / base:.2f} of reg=none")
def bench_photos(args, device):
    """Noisy 128x128 photos (sigma 25/255): the 64x64 Table 2 recipe (300 steps, 1e-3) against the photo-set
    recipe of conf/experiment/table2_denoising/fit.yaml and wider SIRENs that may memorise the noise as the paper's INRs
    do (issue 13), on the same val photos: CPU time per INR, PSNR against the noisy target (memorisation) and
    against the clean photo."""
    from insp_cli.data.degrade import degrade
    from insp_cli.inr.fit import decode_pixels

    ims = load_images("photos", "val", limit=args.photos, size=128)
    noisy = degrade(ims.images, "noise", {"sigma": 25.0}, seed=0, indices=ims.indices).images
    pix = torch.from_numpy(noisy).reshape(len(ims), -1, 3).to(device)
    clean = torch.from_numpy(ims.images).reshape(len(ims), -1, 3).to(device)
    coords = grid_coords(128, device=device)
    noisy_db = float(-10 * torch.log10(((pix - clean) ** 2).mean((1, 2))).mean())
    print(f"\nNoisy photos 128x128 (sigma 25/255, {len(ims)} val photos, {noisy_db:.2f} dB), "
          f"device {device}, threads {torch.get_num_threads()}")
    rows = []
    recipes = [("3x128, 64x64 recipe: 300 steps 1e-3 -> 5e-5", 128, FitSettings(steps=300, lr=1e-3, lr_final=5e-5)),
               ("3x128, photos recipe: 150 steps 3e-3 -> 5e-5", 128, FitSettings(steps=150, lr=3e-3, lr_final=5e-5))]
    recipes += [(f"3x{w}, {n} steps {lr:g} -> 5e-5", w, FitSettings(steps=n, lr=lr, lr_final=5e-5))
                for w, n, lr in args.photo_wide]
    for name, width, st in recipes:
        spec = SirenSpec(2, 3, width, 3)
        t, c = time.perf_counter(), time.process_time()
        res = fit_inrs(spec, pix, coords, st, seed=0)
        sync(device)
        t, c = time.perf_counter() - t, time.process_time() - c
        with torch.no_grad():
            out = torch.stack([decode_pixels(siren_forward(spec, res.params[i:i + 1].to(device), coords))[0]
                               for i in range(len(ims))])
        vs_clean = float(-10 * torch.log10(((out - clean) ** 2).mean((1, 2))).mean())
        rows.append((name, t / len(ims), c / len(ims), float(res.psnr.mean()), vs_clean))
    for name, w, c, fit_db, clean_db in rows:
        print(f"  {name:45s} {w:6.2f} s/INR wall {c:6.2f} s/INR cpu  vs noisy {fit_db:6.2f} dB  vs clean "
              f"{clean_db:6.2f} dB")
    for row in rows[:1] + rows[2:]:
        print(f"  {row[0]} / photos recipe: {row[2] / rows[1][2]:.2f}x cpu time per INR")


def bench_backbones(args, device):
    """Fit time per image of the four backbones (inr/backbones.py) side by side at one parameter budget and one
    number of steps, on the same photos, in this run: seconds per image (wall and CPU) and the ratio to SIREN."""
    from insp_cli.inr.backbones import KINDS, SPECS, describe, match_params

    size, n = args.bb_size, args.backbones
    ims = load_images("images", "all", limit=n, size=size, channels=3)
    pix = torch.from_numpy(ims.images).reshape(n, size * size, 3).to(device)
    coords = grid_coords(size, device=device)
    print(f"\nBackbones: {n} photos {size}x{size} RGB in one batch, {args.bb_params} parameters, {args.bb_steps} "
          f"full-batch steps, device {device}, threads {torch.get_num_threads()}")
    rows = []
    for kind in KINDS:
        spec = match_params(SPECS[kind](**({"size": (size, size)} if kind == "oinr" else {}), out_features=3),
                            args.bb_params)
        lr = dict(zip(KINDS, args.bb_lrs))[kind]
        fit_inrs(spec, pix, coords, FitSettings(steps=2, lr=lr, retries=0))  # warm-up (allocations, kernels)
        sync(device)
        t, c = time.perf_counter(), time.process_time()
        res = fit_inrs(spec, pix, coords, FitSettings(steps=args.bb_steps, lr=lr, lr_final=lr / 10, retries=0))
        sync(device)
        rows.append((describe(spec), spec.num_params, (time.perf_counter() - t) / n, (time.process_time() - c) / n,
                     float(res.psnr.mean())))
    for name, p, w, c, db in rows:
        print(f"  {name:45s} {p:7d} params {w:7.2f} s/image wall {c:7.2f} s/image cpu  x{c / rows[0][3]:5.2f} of "
              f"SIREN (cpu)  PSNR {db:6.2f} dB")


def bench_shapes(args, device):
    """Per-shape cost of `insp fit data=meshes`: its recipe (exact-SDF regression, shapes batched) against the SIREN
    authors' oriented point-cloud loss (surface, normal, eikonal, off-surface terms) at the same steps and points."""
    from insp_cli.data.meshes import load_meshes, sdf_samples
    from insp_cli.inr.sdf import fit_sdfs
    from insp_cli.mesh import sample_surface

    cfg = compose("fit", ["data=meshes", *args.override])
    spec = SirenSpec(3, 1, int(cfg.model.hidden), int(cfg.model.depth))
    st = fit_settings(cfg)
    st.steps = args.shape_steps
    shapes = load_meshes("test", limit=args.shapes, root=cfg.data.root)
    t, c = time.perf_counter(), time.process_time()
    pts, sdf = zip(*[sdf_samples(m, int(cfg.data.points), seed=i) for i, m in enumerate(shapes.meshes)])
    t_s, c_s = time.perf_counter() - t, time.process_time() - c
    pts, sdf = torch.from_numpy(np.stack(pts)).to(device), torch.from_numpy(np.stack(sdf)).to(device)
    surf, nrm = zip(*[sample_surface(m, int(cfg.data.points) // 2, seed=i) for i, m in enumerate(shapes.meshes)])
    surf, nrm = (torch.from_numpy(np.stack(a)).float().to(device) for a in (surf, nrm))
    n = len(shapes)
    print(f"\nShapes ({', '.join(shapes.names)}), SIREN {spec.depth}x{spec.hidden}, {st.steps} steps of "
          f"{st.batch_pixels} points, device {device}; exact SDF at {cfg.data.points} points: "
          f"{t_s / n:.2f} s/shape wall, {c_s / n:.2f} s cpu")
    rows = []
    for loss in ("pointcloud", "regression"):
        t, c = time.perf_counter(), time.process_time()
        res = fit_sdfs(spec, pts, sdf, st, loss, surf, nrm, seed=0)
        sync(device)
        rows.append((loss, (time.perf_counter() - t) / n, (time.process_time() - c) / n, float(res.psnr.mean())))
    for loss, w, c, db in rows:
        print(f"  {loss:12s} {w:7.2f} s/shape wall {c:7.2f} s/shape cpu  PSNR vs exact SDF {db:6.2f} dB")
    print(f"  point-cloud loss / exact-SDF regression: {rows[0][2] / rows[1][2]:.2f}x cpu time per shape")


def bench_meta(args, device):
    """Held-out MNIST test digits: authors' recipe (first --ref digits), ours, learned init + K steps, functa."""
    from insp_cli.inr.meta import fit_latents
    from insp_cli.inr.meta_file import load_meta

    cfg = compose("fit", ["data=mnist", *args.override])
    spec = SirenSpec(2, 1, int(cfg.model.hidden), int(cfg.model.depth))
    ours = fit_settings(cfg)
    test = load_images("mnist", "test", limit=args.meta_test)
    val = load_images("mnist", "train", start=60000 - 256, limit=256)  # held out by meta.val=256
    pix = torch.from_numpy(test.images).reshape(len(test), 784, 1).to(device)
    vpix = torch.from_numpy(val.images).reshape(len(val), 784, 1).to(device)
    coords = grid_coords(28, device=device)
    n = len(test)
    rows = []

    def timed(name, fn, count):
        sync(device)
        t, c = time.perf_counter(), time.process_time()
        psnr = fn()
        sync(device)
        rows.append(summary(name, time.perf_counter() - t, time.process_time() - c, count, psnr.cpu()))
        return rows[-1]

    ref = timed(f"authors (1 at a time, lr 1e-4, 1001 steps), first {args.ref}",
                lambda: psnr_of_fit(spec, authors_recipe(spec, pix[:args.ref], coords), coords, pix[:args.ref]),
                args.ref)

    def batched(settings, start=None, on=pix):
        return torch.cat([fit_inrs(spec, on[a:a + args.batch], coords, settings, seed=0, start=start).psnr
                          for a in range(0, len(on), args.batch)])

    same = {}
    recipes = [("ours", ours)] + [(" ".join(o.split()), fit_settings(compose("fit", ["data=mnist", *o.split()])))
                                  for o in args.recipe]
    for label, st in recipes:
        for on in args.compile:
            set_compile(on == "on")
            if on == "on":  # the one compilation of a process (cached on disk afterwards), timed apart
                t = time.perf_counter()
                fit_inrs(spec, pix[:2], coords, FitSettings(steps=1, retries=0), seed=0)
                print(f"compiled step: first call {time.perf_counter() - t:.1f} s (compilation, not in the rows)")
            box = {}

            def fn(st=st, box=box):
                box["p"] = batched(st)
                return box["p"]

            sched = (f"{st.steps} steps {st.lr:g}->{st.lr_final:g}" + (f" wu {st.warmup}" if st.warmup else "")
                     + (f" betas {st.beta1:g}/{st.beta2:g}" if (st.beta1, st.beta2) != (0.9, 0.999) else ""))
            timed(f"ours {sched}" + (" compiled" if on == "on" else " eager"), fn, n)
            same[f"{label}{' compiled' if on == 'on' else ''}"] = float(box["p"][:args.ref].mean())
    set_compile(False)
    if args.meta_init:
        mi = load_meta(args.meta_init)
        init = mi.init.to(device)
        print(f"\nlearned init {args.meta_init} (sha256 {mi.sha256[:12]}, {mi.meta['meta']['steps']} outer steps, "
              f"{mi.meta.get('seconds')} s): lr per K chosen on {len(val)} held-out train digits")
        for k in args.meta_steps:
            if k == 0:
                timed("learned init, 0 steps", lambda: psnr_of_fit(spec, init.expand(n, -1), coords, pix), n)
                continue
            scores = {lr: float(batched(FitSettings(steps=k, lr=lr, lr_final=min(lr, 1.5e-4), retries=0), init,
                                        vpix).mean()) for lr in args.meta_lrs}
            lr = max(scores, key=scores.get)
            print(f"  K={k:3d}: val PSNR by lr " + ", ".join(f"{a:g}: {b:.2f}" for a, b in scores.items())
                  + f" -> lr {lr:g}")
            st = FitSettings(steps=k, lr=lr, lr_final=min(lr, 1.5e-4), retries=0)
            box = {}

            def fn():
                box["p"] = batched(st, init)
                return box["p"]

            timed(f"learned init + {k} steps (lr {lr:g})", fn, n)
            same[f"init+{k}"] = float(box["p"][:args.ref].mean())
    if args.functa:
        fm = load_meta(args.functa).functa
        fm = type(fm)(fm.spec, *(t.to(device) for t in (fm.base, fm.w_mod, fm.b_mod, fm.lrs)))
        for k in args.functa_steps:
            timed(f"functa, {k} latent steps (d={fm.latent_dim})",
                  lambda: torch.cat([fit_latents(fm, pix[a:a + args.batch], coords, k).psnr
                                     for a in range(0, n, args.batch)]), n)
    print(f"\nMNIST 28x28 held-out TEST digits, SIREN {spec.depth}x{spec.hidden}, device {device}, threads "
          f"{torch.get_num_threads()}")
    print(f"{'recipe':52s} {'INRs':>6s} {'ms/INR':>9s} {'cpu ms/INR':>11s} {'PSNR mean':>10s} {'p5':>7s} "
          f"{'min':>7s} {'x wall':>8s} {'x cpu':>8s}  (speed-up per INR over the authors' recipe)")
    for r in rows:
        print(f"{r['name']:52s} {r['n']:6d} {r['ms_per_inr']:9.2f} {r['cpu_ms_per_inr']:11.2f} {r['psnr_mean']:10.2f} "
              f"{r['psnr_p5']:7.2f} {r['psnr_min']:7.2f} {ref['ms_per_inr'] / r['ms_per_inr']:7.1f}x "
              f"{ref['cpu_ms_per_inr'] / r['cpu_ms_per_inr']:7.1f}x")
    print(f"same first {args.ref} test digits (authors {ref['psnr_mean']:.2f} dB): "
          + ", ".join(f"{k} {v:.2f}" for k, v in same.items()))
    good = [r for r in rows[1:] if r["psnr_mean"] >= ref["psnr_mean"]]
    if good:
        best = min(good, key=lambda r: r["cpu_ms_per_inr"])
        print(f"fastest recipe at >= the authors' mean PSNR: {best['name']}: "
              f"{ref['ms_per_inr'] / best['ms_per_inr']:.1f}x wall, "
              f"{ref['cpu_ms_per_inr'] / best['cpu_ms_per_inr']:.1f}x cpu time per INR; 70,000 INRs: {70000 * best['ms_per_inr'] / 60000:.1f} min wall as measured")
    return rows


def fit_curve(spec, pix, coords, settings, start, device):
    """One batched fit of N signals; returns (mean over the INRs of their PSNR before each step (from the training
    MSE), then the final PSNR appended: (steps + 1,), wall s per INR, cpu s per INR). PSNR in the signal's own
    units (peak 1), averaged in dB as ``psnr_of_fit``'s mean."""
    db = []

    def on_step(k, n, m):
        if len(db) < settings.steps:  # (a refit's steps, if any, are not part of the curve)
            db.append(float((-10 * torch.log10(m.clamp_min(1e-20))).mean()))

    sync(device)
    t, c = time.perf_counter(), time.process_time()
    res = fit_inrs(spec, pix, coords, settings, seed=0, start=start, on_step=on_step)
    sync(device)
    wall, cpu = (time.perf_counter() - t) / len(pix), (time.process_time() - c) / len(pix)
    curve = db + [float(res.psnr.mean())]
    return np.array(curve), wall, cpu


def bench_curves(args, device, figure_rows):
    """--curve DATA=INIT: PSNR against fitting steps on held-out TEST signals of DATA (photos, audio ...), the
    learned init of INIT (`insp meta-learn data=DATA`, learned on train) against the random start, same recipe."""
    from insp_cli.inr.meta_file import check_init_matches, load_meta
    from insp_cli.modalities import of_data

    for item in args.curve:
        name, path = item.split("=", 1)
        cfg = compose("fit", [f"data={name}", "data.split=test", f"data.limit={args.curve_test}",
                              f"fit.steps={args.curve_steps}", *args.curve_override])
        modality = of_data(name)
        sig = modality.signals(cfg)
        mi = load_meta(path)
        check_init_matches(mi, sig.spec, modality.name, tuple(sig.shape))
        pix = torch.from_numpy(sig.targets).to(device)
        coords = sig.coords.to(device)
        st = fit_settings(cfg)
        print(f"\n{name} {'x'.join(map(str, sig.shape))}: {len(pix)} held-out TEST signals, {mi.meta['backbone']}, "
              f"{st.steps} steps, lr {st.lr:g} -> {st.lr_final:g} (the fit recipe), device {device}, threads "
              f"{torch.get_num_threads()}; init {path} ({mi.meta['meta']['steps']} outer steps on train "
              f"{mi.meta['source'].get('indices')}, {mi.meta.get('seconds')} s)")
        curves = {}
        for label, start in (("random start", None), ("learned init", mi.init.to(device))):
            curves[label] = fit_curve(mi.spec, pix, coords, st, start, device)
        marks = [k for k in (0, 1, 3, 5, 10, 20, 30, 50, 100, 150, 300) if k <= st.steps]
        print(f"  {'start':14s} {'s/INR wall':>10s} {'cpu':>7s}  PSNR after K steps: "
              + " ".join(f"{k:>6d}" for k in marks))
        for label, (curve, wall, cpu) in curves.items():
            print(f"  {label:14s} {wall:10.3f} {cpu:7.3f}  {'':20s}" + " ".join(f"{curve[k]:6.2f}" for k in marks))
            per_step = wall / st.steps
            figure_rows.append((name, label, np.arange(len(curve)) * per_step, curve))
        final = curves["random start"][0][-1]
        reach = np.nonzero(curves["learned init"][0] >= final)[0]
        print(f"  learned init reaches the random start's {st.steps}-step PSNR ({final:.2f} dB) "
              + (f"after {int(reach[0])} steps" if len(reach) else "not within the fit"))


def save_figure(path, meta_rows, curve_rows):
    """PSNR against wall time per INR: MNIST recipes (points) and the photo/speech curves (lines)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from insp_cli.files import atomic_write

    panels = (["MNIST"] if meta_rows else []) + sorted({r[0] for r in curve_rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "MNIST":
            for r in meta_rows:
                ax.scatter(r["ms_per_inr"], r["psnr_mean"], s=14)
                ax.annotate(r["name"].split(" (")[0].replace("learned init", "init"), (r["ms_per_inr"], r["psnr_mean"]),
                            fontsize=6)
            ax.set_xscale("log")
            ax.set_xlabel("wall ms per INR (log)")
        else:
            for name, label, secs, curve in curve_rows:
                if name == panel:
                    ax.plot(secs, curve, label=label)
            ax.set_xlabel("wall s per INR")
            ax.legend()
        ax.set_title(f"{panel}: held-out test signals")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    print(f"figure: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", type=int, default=2048, help="MNIST INRs fitted with our recipe")
    ap.add_argument("--ref", type=int, default=8, help="MNIST INRs fitted with the authors' recipe")
    ap.add_argument("--batch", type=int, default=None,
                    help="MNIST INRs per batched fit (default: the MNIST recipe's fit.batch_size, 64)")
    ap.add_argument("--override", nargs="*", default=[], help="overrides of our MNIST recipe, e.g. fit.steps=60")
    ap.add_argument("--images", type=int, default=40, help="natural images for the CPU-scale recipe")
    ap.add_argument("--images-folder", default=None, help="a folder of photos instead of the bundled ones")
    ap.add_argument("--big-steps", type=int, default=100, help="steps of the 256x256/width-256 curve (0 = skip)")
    ap.add_argument("--reg-size", type=int, default=96, help="image side of the regulariser case")
    ap.add_argument("--reg-inrs", type=int, default=4)
    ap.add_argument("--reg-hidden", type=int, default=96)
    ap.add_argument("--reg-steps", type=int, default=30)
    ap.add_argument("--skip", choices=["mnist", "images", "regularisers"], action="append", default=[])
    ap.add_argument("--photos", type=int, default=0, help="noisy val photos for the 128x128 recipes (0 = skip)")
    ap.add_argument("--photo-wide", type=lambda v: tuple(t(x) for t, x in zip((int, int, float), v.split(":"))),
                    nargs="*", default=[(256, 300, 1e-3)], metavar="WIDTH:STEPS:LR",
                    help="further SIRENs 3xWIDTH in the photos case (memorising candidates)")
    ap.add_argument("--backbones", type=int, default=0, help="photos for SIREN/WIRE/MFN/O-INR side by side (0 = skip)")
    ap.add_argument("--bb-size", type=int, default=64)
    ap.add_argument("--bb-params", type=int, default=10000)
    ap.add_argument("--bb-steps", type=int, default=50)
    ap.add_argument("--bb-lrs", type=float, nargs=4, default=[2e-3, 2e-3, 2e-3, 8e-3],
                    help="learning rates of siren, oinr, wire, mfn (inr/backbones.KINDS order)")
    ap.add_argument("--shapes", type=int, default=0, help="test meshes for the per-shape SDF fitting case (0 = skip)")
    ap.add_argument("--shape-steps", type=int, default=100, help="steps of each SDF fit in that case")
    ap.add_argument("--meta-init", default=None, help="a weights-mode file of `insp meta-learn` (test digits case)")
    ap.add_argument("--functa", default=None, help="a functa file of `insp meta-learn meta=functa`")
    ap.add_argument("--meta-test", type=int, default=2048, help="held-out MNIST test digits of the meta case")
    ap.add_argument("--meta-steps", type=int, nargs="*", default=[0, 1, 3, 5, 10, 20, 40])
    ap.add_argument("--meta-lrs", type=float, nargs="*", default=[1e-3, 2e-3, 5e-3, 1e-2],
                    help="learning rates tried per K on the validation digits")
    ap.add_argument("--recipe", nargs="*", default=[], metavar="OVERRIDES",
                    help="further rows of the test-digits case: our fit with these overrides, e.g. "
                         "'fit.steps=60 fit.lr=5e-3 fit.warmup=0' (one quoted string per row)")
    ap.add_argument("--compile", nargs="*", choices=["off", "on"], default=["off"],
                    help="time each recipe of the test-digits case with the fitting step eager (off) and/or "
                         "compiled (on: torch.compile, as `insp fit compile=true`)")
    ap.add_argument("--functa-steps", type=int, nargs="*", default=[3, 10])
    ap.add_argument("--curve", nargs="*", default=[], metavar="DATA=INIT",
                    help="PSNR-vs-steps curves on held-out test signals of DATA from INIT vs a random start")
    ap.add_argument("--curve-test", type=int, default=8, help="test signals per curve")
    ap.add_argument("--curve-steps", type=int, default=150)
    ap.add_argument("--curve-override", nargs="*", default=[], help="overrides of the curves' fit recipe")
    ap.add_argument("--figure", default=None, help="write PSNR against wall time (png) of the meta/curve cases")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    if args.batch is None:
        args.batch = int(compose("fit", ["data=mnist", *args.override]).fit.batch_size)
    device = pick_device(args.device)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    if "mnist" not in args.skip:
        bench_mnist(args, device)
    if "images" not in args.skip:
        bench_images(args, device)
    if "regularisers" not in args.skip:
        bench_regularisers(args, device)
    if args.photos:
        bench_photos(args, device)
    if args.backbones:
        bench_backbones(args, device)
    if args.shapes:
        bench_shapes(args, device)
    meta_rows, curve_rows = [], []
    if args.meta_init or args.functa or args.recipe or "on" in args.compile:
        meta_rows = bench_meta(args, device)
    if args.curve:
        bench_curves(args, device, curve_rows)
    if args.figure and (meta_rows or curve_rows):
        save_figure(args.figure, meta_rows, curve_rows)


if __name__ == "__main__":
    main()
