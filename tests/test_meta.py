"""Meta-learned starts (inr/meta.py, `insp meta-learn`, `insp fit fit.init=...`): the functa inner step against
a hand-computed SGD step, modulated SIRENs as plain SIRENs (values and jets), refusals in one line, and a tiny
meta-learned initialisation beating a random one on held-out test digits."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.meta import Functa, MetaINR, fit_latents, functa_loss, hidden_bias_slots, latent_grad
from insp_cli.inr.meta_file import load_meta, read_meta
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.inr.store import INRStore
from insp_cli.jets.derivative_network import siren_jet
from insp_cli.jets.reference import jet_relative_error, nested_autograd_jet
from insp_cli.training import save_checkpoint


def _functa(spec, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = hidden_bias_slots(spec).numel()
    return Functa(spec, init_params(spec, 1, generator=g)[0], torch.randn(d, s, generator=g) * 0.02,
                  torch.randn(s, generator=g) * 0.01, torch.rand(d, generator=g) * 5 + 1)


def _modulated_forward(spec, f, z, x):
    """A shift-modulated SIREN written layer by layer: h = sin(omega0 (W h + b + s_l)), then W_L h + b_L."""
    s = f.shifts(z)  # (N, S)
    h, off, layer = x, 0, 0
    for name, shape, o in spec.layout:
        if name.startswith("W"):
            w = f.base[o:o + shape[0] * shape[1]].view(*shape)
            continue
        b = f.base[o:o + shape[0]]
        if layer < spec.depth:
            h = torch.sin(spec.omega0 * (h @ w.T + b + s[:, None, off:off + shape[0]]))
            off += shape[0]
        else:
            h = h @ w.T + b
        layer += 1
    return h


def test_one_latent_step_equals_the_hand_computed_sgd_step():
    """One sine layer: Phi(x) = W1 sin(a) + b1, a = omega0 (W0 x + b0 + s), s = z W_mod + b_mod, L = mean_q r_q^2.
    dL/ds = (2/Q) sum_q r_q * W1 * omega0 cos(a_q); dL/dz = W_mod dL/ds; from z = 0: z1 = -alpha * dL/dz."""
    spec = SirenSpec(2, 1, 6, 1)
    f = _functa(spec, 4)
    coords = grid_coords(5).double()
    f = Functa(spec, *(t.double() for t in (f.base, f.w_mod, f.b_mod, f.lrs)))
    pix = torch.rand(3, 25, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = pix * 2 - 1
    lay = {n: f.base[o:o + int(np.prod(s))].view(*s) for n, s, o in spec.layout}
    want = []
    for i in range(3):
        s = f.b_mod  # z = 0
        a = spec.omega0 * (coords @ lay["W0"].T + lay["b0"] + s)  # (Q, H)
        r = (torch.sin(a) @ lay["W1"].T + lay["b1"])[:, 0] - y[i, :, 0]  # (Q,)
        ds = (2.0 / 25) * (r[:, None] * lay["W1"][0] * spec.omega0 * torch.cos(a)).sum(0)  # (H,)
        want.append(-f.lrs * (f.w_mod @ ds))
    got = fit_latents(f, pix, coords, steps=1).latents
    assert torch.allclose(got, torch.stack(want), rtol=1e-10, atol=1e-13)
    # and the hand-written latent gradient equals autograd at a non-zero latent (deeper net, float32)
    spec3 = SirenSpec(2, 1, 8, 3)
    f3 = _functa(spec3, 5, seed=2)
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(3)) * 0.3
    c3 = grid_coords(6)
    t3 = torch.rand(3, 36, 1, generator=torch.Generator().manual_seed(4)) * 2 - 1
    mse, g = latent_grad(f3, z, c3, t3)
    zz = z.clone().requires_grad_(True)
    ref = (siren_forward(spec3, f3.expand(zz), c3) - t3).pow(2).mean((1, 2))
    (g_ref,) = torch.autograd.grad(ref.sum(), zz)
    assert torch.allclose(mse, ref.detach(), rtol=1e-5) and torch.allclose(g, g_ref, rtol=1e-4, atol=1e-7)


def test_expanded_functa_is_a_plain_siren_values_and_jets():
    spec = SirenSpec(2, 1, 12, 3)
    f = _functa(spec, 6)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(5))
    x = grid_coords(7).unsqueeze(0).expand(3, -1, -1)
    params = f.expand(z)
    assert params.shape == (3, spec.num_params)
    mod = _modulated_forward(spec, f, z, x)
    assert torch.allclose(siren_forward(spec, params, x), mod, atol=2e-6)
    jet = siren_jet(spec, params.detach(), x, 3)
    ref = nested_autograd_jet(lambda xx: _modulated_forward(spec, f, z, xx), x, 3)
    assert jet_relative_error(jet, ref) < 1e-5


def test_functa_meta_loss_falls_and_is_differentiable():
    spec = SirenSpec(2, 1, 16, 2)
    m = MetaINR(spec, "functa", latent_dim=8, inner_lr=10.0, generator=torch.Generator().manual_seed(0))
    y = torch.rand(4, 49, 1, generator=torch.Generator().manual_seed(1)) * 2 - 1
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(10):
        loss, _ = functa_loss(m.functa(), grid_coords(7), y, 2)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
        assert float(m.lrs.grad.abs().sum()) > 0  # the Meta-SGD rates learn
        opt.step()
    assert float(loss.detach()) < 0.7 * first


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """A tiny learned initialisation (weights mode, Reptile) and a functa file, on 160 MNIST train digits."""
    from insp_cli.jobs.meta_learn import run_meta_learn

    root = tmp_path_factory.mktemp("meta")
    os.environ["INSP_WANDB_MODE"] = "disabled"
    out = {}
    for mode, extra in (("weights", ["meta.steps=30", "meta.batch_size=32", "meta.inner_steps=5"]),
                        ("functa", ["meta.steps=12", "meta.batch_size=16", "meta.latent_dim=16"])):
        path = root / f"{mode}.safetensors"
        cfg = compose("meta_learn", [f"meta={mode}", "data.limit=192", "meta.val=32", f"init={path}",
                                     "tracking.mode=disabled", *extra])
        run_meta_learn(cfg, root / f"run-{mode}")
        out[mode] = path
    out["root"] = root
    return out


def test_learned_init_beats_random_init_on_held_out_test_digits(learned):
    from insp_cli.data import load_images

    mi = load_meta(learned["weights"])
    assert mi.meta["source"]["split"] == "train" and mi.meta["complete"] and mi.meta["modality"] == "images"
    test = load_images("mnist", "test", limit=48)
    pix = torch.from_numpy(test.images).reshape(48, 784, 1)
    st = FitSettings(steps=5, lr=5e-3, lr_final=1.5e-4, retries=0)
    rand = fit_inrs(mi.spec, pix, grid_coords(28), st, seed=0).psnr.mean()
    meta = fit_inrs(mi.spec, pix, grid_coords(28), st, seed=0, start=mi.init).psnr.mean()
    assert meta > rand + 3.0, (float(meta), float(rand))


def test_fit_from_init_and_functa_store_through_the_job(learned, tmp_path, monkeypatch):
    from insp_cli.jobs.fit import run_fit

    monkeypatch.setenv("INSP_WANDB_MODE", "disabled")
    base = ["data.split=test", "data.limit=24", "tracking.mode=disabled", "samples=0"]
    run_fit(compose("fit", base + [f"store={tmp_path}/w", f"fit.init={learned['weights']}", "fit.steps=5"]),
            tmp_path / "r1")
    run_fit(compose("fit", base + [f"store={tmp_path}/rand", "fit.steps=5"]), tmp_path / "r2")
    run_fit(compose("fit", base + [f"store={tmp_path}/f", f"fit.init={learned['functa']}", "fit.mode=functa",
                                   "fit.steps=3"]), tmp_path / "r3")
    w, rand, f = (INRStore.open(tmp_path / k) for k in ("w", "rand", "f"))
    assert w.psnr.mean() > rand.psnr.mean() + 3.0
    assert w.header.fit["init"]["sha256"] == load_meta(learned["weights"]).sha256
    # the functa store: ordinary SIREN params (decoded by the store) and one latent per INR
    mi = load_meta(learned["functa"])
    assert f.latents.shape == (24, 16) and f.header.fit["mode"] == "functa"
    again = mi.functa.expand(torch.from_numpy(f.latents))
    assert torch.allclose(again, f.params, atol=1e-6)
    pix = f.decode()[..., 0].reshape(24, 784)
    assert torch.allclose(pix, (siren_forward(mi.spec, again, grid_coords(28))[..., 0] * 0.5 + 0.5).clamp(0, 1),
                          atol=1e-5)
    assert f.psnr.mean() > 10.0
    # the functa paper's classifier reads the latents; a store without them is refused in one line
    from insp_cli.jobs.classify import run_classify
    cls = ["classifier=functa_mlp", "epochs=2", "classifier.hidden=32", "tracking.mode=disabled"]
    acc = run_classify(compose("classify", cls + [f"train_store={tmp_path}/f", f"test_store={tmp_path}/f",
                                                  "train_limit=16", "test_offset=16"]), tmp_path / "c1")
    assert 0.0 <= acc <= 1.0
    with pytest.raises(InspError, match="holds no latents"):
        run_classify(compose("classify", cls + [f"train_store={tmp_path}/w", f"test_store={tmp_path}/w",
                                                "train_limit=16", "test_offset=16"]), tmp_path / "c2")


def test_bad_init_files_are_refused_in_one_line(learned, tmp_path):
    env = {**os.environ, "INSP_WANDB_MODE": "disabled", "INSP_RUNS": str(tmp_path / "runs"),
           "INSP_STORES": str(tmp_path / "stores"), "PYTHONPATH": os.pathsep.join(sys.path)}
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    damaged = tmp_path / "damaged.safetensors"
    meta, tensors = read_meta(learned["weights"])
    m = MetaINR(SirenSpec(2, 1, 32, 3), "weights")
    m.init.data = tensors["meta.init"] + 1e-3  # the tensors change, the recorded sha256 does not
    save_checkpoint(damaged, "insp-meta-init", 1,
                    {k: v for k, v in meta.items() if k not in ("format", "version", "optimizer_groups")}, m, "meta.")
    cases = [
        (["fit.init=" + str(tmp_path / "missing.safetensors")], "does not exist"),
        (["fit.init=" + str(junk)], "not an insp meta-learned initialisation"),
        (["fit.init=" + str(damaged)], "is damaged"),
        (["fit.init=" + str(learned["weights"]), "model.hidden=16"], "was learned for SIREN 3x32"),
        (["fit.init=" + str(learned["weights"]), "data.size=14"], "shape"),
    ]
    for extra, words in cases:
        r = _cli("fit", "data.split=test", "data.limit=4", f"store={tmp_path}/s", *extra, env=env)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and "Traceback" not in r.stderr, (extra, r.stderr[-800:])
        assert lines[-1].startswith("error: ") and words in lines[-1], (extra, lines)
    # the same contract in-process (cheaper than a process each): InspError, which the CLI prints as one line
    from insp_cli.jobs.fit import run_fit
    from insp_cli.jobs.meta_learn import run_meta_learn
    base = ["data.split=test", "data.limit=4", "tracking.mode=disabled", f"store={tmp_path}/s2"]
    for extra, words in ((["fit.init=" + str(learned["weights"]), "fit.mode=functa"], "pass fit.mode=weights"),
                         (["fit.mode=functa"], "needs fit.init")):
        with pytest.raises(InspError, match=words):
            run_fit(compose("fit", base + extra), tmp_path / "r")
    with pytest.raises(InspError, match="train split only"):
        run_meta_learn(compose("meta_learn", ["data.split=test", "tracking.mode=disabled"]), tmp_path / "r2")


def test_meta_learn_resumes_where_it_stopped_and_refuses_other_settings(tmp_path, monkeypatch):
    """An interrupted run resumes from its last save and ends with the same tensors as an uninterrupted one;
    a finished file is reported, not relearned; a file of other settings is refused."""
    import insp_cli.jobs.meta_learn as job

    over = ["meta=functa", "data.limit=40", "meta.val=8", "meta.steps=4", "meta.save_every=2", "meta.batch_size=4",
            "meta.latent_dim=4", "meta.inner_steps=2", "model.hidden=8", "tracking.mode=disabled"]
    whole, cut = tmp_path / "whole.safetensors", tmp_path / "cut.safetensors"
    job.run_meta_learn(compose("meta_learn", over + [f"init={whole}"]), tmp_path / "r0")
    real = job.save_meta

    def dies_after_step_2(path, model, meta, *a):
        real(path, model, meta, *a)
        if meta["step"] == 2 and not meta["complete"]:
            raise KeyboardInterrupt

    monkeypatch.setattr(job, "save_meta", dies_after_step_2)
    with pytest.raises(KeyboardInterrupt):
        job.run_meta_learn(compose("meta_learn", over + [f"init={cut}"]), tmp_path / "r1")
    monkeypatch.setattr(job, "save_meta", real)
    with pytest.raises(InspError, match="unfinished"):
        load_meta(cut)
    m = job._meta_learn(compose("meta_learn", over + [f"init={cut}"]), type("R", (), {"log": lambda *a, **k: None,
                                                                                         "dir": tmp_path})())
    assert m["resumed_from"] == 2
    a, b = load_meta(whole), load_meta(cut)
    assert a.sha256 == b.sha256  # bit-identical tensors
    again = job.run_meta_learn(compose("meta_learn", over + [f"init={whole}"]), tmp_path / "r2")
    assert again == a.meta["val_psnr"]
    with pytest.raises(InspError, match="holds another initialisation"):
        job.run_meta_learn(compose("meta_learn", over[:-1] + ["meta.steps=5", f"init={whole}",
                                                              "tracking.mode=disabled"]), tmp_path / "r3")


def test_reptile_inner_schedule_is_the_fits_and_old_files_keep_their_metadata():
    """meta.inner_warmup / inner_beta1 / inner_beta2 reach Reptile's inner loop (its surrogate's gradient is theta
    minus the mean of fit_inrs's fits under the same schedule, which differ from the torch-betas fits), and the
    file metadata names them only where they differ from the former inner loop, so older files still resume."""
    import insp_cli.jobs.meta_learn as job
    from insp_cli.inr.fit import inr_seed
    from insp_cli.inr.meta import reptile_loss

    m = dict(compose("meta_learn", ["meta.inner_steps=6", "meta.inner_lr=1e-2", "meta.inner_lr_final=1e-3",
                                    "meta.inner_warmup=3", "meta.inner_beta1=0.8", "meta.inner_beta2=0.9"]).meta)
    st = job.inner_settings(m)
    assert (st.steps, st.lr, st.lr_final, st.warmup, st.beta1, st.beta2, st.retries) == (6, 1e-2, 1e-3, 3, 0.8,
                                                                                        0.9, 0)
    assert job.inner_settings(dict(compose("meta_learn", []).meta)) == FitSettings(
        steps=20, lr=5e-3, lr_final=1.5e-4, warmup=0, beta1=0.9, beta2=0.999, retries=0)
    spec = SirenSpec(2, 1, 8, 2)
    g = torch.Generator().manual_seed(3)
    theta = torch.nn.Parameter(init_params(spec, 1, generator=g)[0])
    pix = torch.rand(4, 49, 1, generator=g)
    gens = [torch.Generator().manual_seed(inr_seed(0, i, 1)) for i in range(4)]
    loss, _ = reptile_loss(spec, theta, grid_coords(7), pix * 2 - 1, st, gens)
    loss.backward()
    phi = fit_inrs(spec, pix, grid_coords(7), st, seed=0, start=theta.detach()).params
    assert torch.allclose(theta.grad, theta.detach() - phi.mean(0), atol=1e-6)
    torch_betas = fit_inrs(spec, pix, grid_coords(7), job.inner_settings({**m, "inner_warmup": 0, "inner_beta1": 0.9,
                                                                          "inner_beta2": 0.999}),
                           seed=0, start=theta.detach()).params
    assert float((torch_betas - phi).abs().max()) > 1e-3
    sig = type("S", (), {"spec": spec, "source": {}, "indices": np.arange(10), "shape": (7, 7),
                         "targets": np.zeros((10, 49, 1))})()
    cfg = compose("meta_learn", [])
    named = job._file_meta(cfg, m, sig, 8, 2)["meta"]
    assert (named["inner_warmup"], named["inner_beta1"], named["inner_beta2"]) == (3, 0.8, 0.9)
    assert not {"inner_warmup", "inner_beta1", "inner_beta2"} & set(job._file_meta(cfg, dict(cfg.meta), sig, 8,
                                                                                   2)["meta"])


def test_resume_or_refuse_fresh_resumed_refused_finished(tmp_path):
    """The one resume of train-filter and meta-learn (training.resume_or_refuse): no file -> 0; an unfinished file
    of the same run -> its step, with the weights, optimizer state and generator restored; another run's file ->
    one line naming what differs; a finished file -> None and its metadata (reported, not redone)."""
    from insp_cli.training import differing, read_checkpoint, resume_or_refuse

    path = tmp_path / "ck.safetensors"
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(5)
    meta = {"task": "a", "step": 7, "complete": False}

    def args(m, o, g, new, overwrite=False):
        return (path, lambda p: read_checkpoint(p, "t-ck", 1, "test checkpoint", "redo"),
                lambda old: differing(old, new, ("task",)), "thing", "thing", m, "m.", o, g,
                lambda old: old["step"], overwrite)

    assert resume_or_refuse(*args(model, opt, gen, meta)) == (0, None)
    save_checkpoint(path, "t-ck", 1, meta, model, "m.", opt, gen)
    want = torch.randint(1000, (3,), generator=gen)  # what the saved generator draws next
    m2 = torch.nn.Linear(3, 2)
    o2, g2 = torch.optim.Adam(m2.parameters(), lr=1e-2), torch.Generator().manual_seed(0)
    start, old = resume_or_refuse(*args(m2, o2, g2, meta))
    assert start == 7 and old["task"] == "a"
    assert torch.equal(m2.weight, model.weight) and torch.equal(torch.randint(1000, (3,), generator=g2), want)
    assert torch.equal(o2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    with pytest.raises(InspError, match=r"holds another thing \(task differ\); pass another thing=PATH or "
                                        r"overwrite=true"):
        resume_or_refuse(*args(m2, o2, g2, {**meta, "task": "b"}))
    assert resume_or_refuse(*args(m2, o2, g2, {**meta, "task": "b"}, overwrite=True)) == (0, None)
    save_checkpoint(path, "t-ck", 1, {**meta, "complete": True}, model, "m.")
    start, old = resume_or_refuse(*args(m2, o2, g2, meta))
    assert start is None and old["complete"] is True


def test_flip_augmentation_is_a_grid_symmetry_and_is_recorded_only_when_set():
    """meta.augment=flips: each signal becomes one of the 8 symmetries of its square grid (4 flips of a non-square
    one, time reversal of a clip), each a permutation of its own samples; all 8 appear over many draws; the file
    metadata names `augment` only when set, so files learned before it still resume."""
    import insp_cli.jobs.meta_learn as job
    from insp_cli.inr.meta import flip_signals

    img = torch.arange(9.0).reshape(3, 3)
    want = {tuple(t.flatten().tolist()) for t in (img, img.flip(0), img.flip(1), img.flip(0).flip(1), img.T,
                                                  img.flip(0).T, img.flip(1).T, img.flip(0).flip(1).T)}
    assert len(want) == 8
    rows = flip_signals(img.reshape(1, 9, 1).repeat(200, 1, 1), (3, 3), torch.Generator().manual_seed(0))
    got = [tuple(r[:, 0].tolist()) for r in rows]
    assert set(got) == want and min(got.count(w) for w in want) > 10
    rect = torch.arange(12.0).reshape(3, 4)
    four = {tuple(t.flatten().tolist()) for t in (rect, rect.flip(0), rect.flip(1), rect.flip(0).flip(1))}
    rows = flip_signals(rect.reshape(1, 12, 1).repeat(64, 1, 1), (3, 4), torch.Generator().manual_seed(1))
    assert {tuple(r[:, 0].tolist()) for r in rows} == four
    clip = torch.randn(32, 10, 2, generator=torch.Generator().manual_seed(2))
    out = flip_signals(clip, (10,), torch.Generator().manual_seed(3))
    reversed_ = [bool(torch.equal(o, c.flip(0))) for o, c in zip(out, clip)]
    assert all(r or torch.equal(o, c) for r, o, c in zip(reversed_, out, clip)) and 5 < sum(reversed_) < 27
    sig = type("S", (), {"spec": SirenSpec(2, 1, 8, 2), "source": {}, "indices": np.arange(10), "shape": (7, 7),
                         "targets": np.zeros((10, 49, 1))})()
    cfg = compose("meta_learn", [])
    assert "augment" not in job._file_meta(cfg, dict(cfg.meta), sig, 8, 2)["meta"]
    on = compose("meta_learn", ["meta.augment=flips"])
    assert job._file_meta(on, dict(on.meta), sig, 8, 2)["meta"]["augment"] == "flips"


def test_flip_augmentation_reaches_the_outer_loop_and_a_resume_with_other_augment_is_refused(tmp_path):
    """The same seed and steps with meta.augment=flips learn other tensors than without; a file learned without
    it is refused by a run with it (the setting is part of the run)."""
    import insp_cli.jobs.meta_learn as job

    over = ["meta=functa", "data.limit=24", "meta.val=4", "meta.steps=2", "meta.batch_size=4", "meta.latent_dim=4",
            "meta.inner_steps=2", "model.hidden=8", "tracking.mode=disabled"]
    plain, flips = tmp_path / "plain.safetensors", tmp_path / "flips.safetensors"
    job.run_meta_learn(compose("meta_learn", over + [f"init={plain}"]), tmp_path / "r0")
    job.run_meta_learn(compose("meta_learn", over + ["meta.augment=flips", f"init={flips}"]), tmp_path / "r1")
    a, b = load_meta(plain), load_meta(flips)
    assert a.sha256 != b.sha256 and b.meta["meta"]["augment"] == "flips" and "augment" not in a.meta["meta"]
    with pytest.raises(InspError, match="holds another initialisation"):
        job.run_meta_learn(compose("meta_learn", over + ["meta.augment=flips", f"init={plain}"]),
                           tmp_path / "r2")


def test_meta_learn_without_held_out_signals_says_so(tmp_path, capsys):
    """meta.val=0 (the validation split decides, as for the whole-photo starts): the summary says that no train
    signals were held out, not a NaN PSNR."""
    import insp_cli.jobs.meta_learn as job

    job.run_meta_learn(compose("meta_learn", ["meta=functa", "data.limit=16", "meta.val=0", "meta.steps=1",
                                              "meta.batch_size=4", "meta.latent_dim=4", "meta.inner_steps=1",
                                              "model.hidden=8", "tracking.mode=disabled",
                                              f"init={tmp_path / 'f.safetensors'}"]), tmp_path / "run")
    out = capsys.readouterr().out
    assert "no train signals held out (meta.val=0)" in out and "nan" not in out
