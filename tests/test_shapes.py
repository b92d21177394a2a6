"""Shapes (m = 3): mesh checks, exact SDF, point-to-mesh Chamfer, marching cubes, SDF fitting, shape filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from insp_cli.data.meshes import normalise, read_mesh, sdf_samples, vertex_noise
from insp_cli.errors import InspError
from insp_cli.filters.context import gather, neighbourhood, offsets_tensor
from insp_cli.filters.shapes import (SNAP_TOLERANCE, apply_filter, check_grid, context_features, decode_grid,
                                     gaussian_sdf, grid_jets, grid_positions, snap_check, snapped_offsets,
                                     training_points, voxel_features, voxel_points)
from insp_cli.filters.insp_net import LearnedFusion
from insp_cli.inr.fit import FitSettings
from insp_cli.inr.sdf import fit_sdfs, pointcloud_loss
from insp_cli.inr.siren import SirenSpec, init_params, pixel_spacing
from insp_cli.jets import jet_space
from insp_cli.jets.reference import siren_jet_reference
from insp_cli.mesh import as_mesh, exact_sdf
from insp_cli.metrics.shapes import band_psnr, chamfer_l1, marching_cubes, normal_consistency


def sphere(r=0.5, sub=4):
    m = trimesh.creation.icosphere(subdivisions=sub, radius=r)
    return as_mesh(m.vertices, m.faces)


def box(side=1.0):
    m = trimesh.creation.box(extents=(side, side * 0.8, side * 0.6))
    return as_mesh(m.vertices, m.faces)


def test_exact_sdf_of_a_sphere():
    pts = np.random.default_rng(0).uniform(-1, 1, (2000, 3))
    sd = exact_sdf(pts, sphere(0.5))
    err = np.abs(sd - (np.linalg.norm(pts, axis=1) - 0.5))
    assert err.max() < 3e-3 and err.mean() < 1e-3  # the facets of a 4x subdivided icosphere lie inside by <= 2.4e-3
    assert (sd[np.linalg.norm(pts, axis=1) < 0.45] < 0).all()


def test_chamfer_to_itself_and_to_a_scaled_copy():
    s = sphere(0.5)
    assert chamfer_l1(s, s, 5000) < 1e-6
    assert normal_consistency(s, s, 5000) > 0.9999
    big = (s[0] * 1.1, s[1])  # a sphere of radius 0.55: every point is 0.05 from the other surface
    assert chamfer_l1(s, big, 5000) == pytest.approx(0.05, abs=1e-3)
    b = box()
    assert chamfer_l1(b, b, 5000) < 1e-6 and chamfer_l1(b, s, 5000) > 0.05


def test_marching_cubes_of_an_analytic_sdf_is_the_sphere_with_outward_normals():
    res = 40
    grid = (np.linalg.norm(voxel_points(np.arange(res**3), res), axis=1) - 0.6).reshape(res, res, res)
    v, f = marching_cubes(grid)
    assert np.abs(np.linalg.norm(v, axis=1) - 0.6).max() < 0.01
    centroid = v[f].mean(1)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert ((n * centroid).sum(1) > 0).mean() > 0.99
    # the grid is laid out as grid_coords: axis 0 = z, axis 2 = x
    shifted = (np.linalg.norm(voxel_points(np.arange(res**3), res) - [0.3, 0, 0], axis=1) - 0.4).reshape(res, res, res)
    assert marching_cubes(shifted)[0].mean(0)[0] == pytest.approx(0.3, abs=0.01)
    assert marching_cubes(np.ones((8, 8, 8))) is None


def test_band_psnr_and_gaussian_of_a_linear_sdf():
    ref = np.linspace(-1, 1, 1000)
    assert band_psnr(ref + 0.01, ref, 0.5) == pytest.approx(10 * np.log10(4 / 1e-4), abs=1e-6)
    res = 33
    plane = voxel_points(np.arange(res**3), res)[:, 0].reshape(res, res, res)  # SDF of the plane x = 0
    smooth = gaussian_sdf(plane, 0.1)
    assert np.abs(smooth - plane)[:, :, 8:-8].max() < 1e-5  # a Gaussian keeps linear functions (interior)


def _write(path, mesh):
    trimesh.Trimesh(vertices=mesh[0], faces=mesh[1], process=False).export(path)
    return path


def test_bad_meshes_are_one_line_errors(tmp_path, caplog):
    (tmp_path / "empty.off").write_text("OFF\n0 0 0\n")
    with pytest.raises(InspError, match="no triangles"):
        read_mesh(tmp_path / "empty.off")
    tri = tmp_path / "tri.off"
    tri.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    with pytest.raises(InspError, match="1 triangle"):
        read_mesh(tri)
    b = box()
    v = np.vstack([b[0], [[0, 0, 2.0]]])  # a fin on an edge of the box: that edge has three triangles
    e = b[1][0][:2]
    fin = as_mesh(v, np.vstack([b[1], [[e[0], e[1], len(v) - 1]]]))
    with pytest.raises(InspError, match="not manifold"):
        read_mesh(_write(tmp_path / "fin.off", fin))
    hole = _write(tmp_path / "hole.off", (b[0], b[1][1:]))
    with pytest.raises(InspError, match="not watertight .*data.repair=true"):
        read_mesh(hole)
    with caplog.at_level("WARNING", logger="insp"):
        v, f = read_mesh(hole, repair=True)
    assert len(f) == 12 and "fill_holes" in caplog.text
    with pytest.raises(InspError, match="cannot read mesh"):
        read_mesh(_write_text(tmp_path / "junk.ply", "not a mesh"))


def _write_text(path, text):
    path.write_text(text)
    return path


def test_normalise_and_noise():
    (v, f), c, s = normalise((box()[0] * 3 + 5, box()[1]))
    assert np.allclose(v.max(0)[0], 0.9) and np.allclose(v.min(0)[0], -0.9) and np.allclose(v.mean(0), 0)
    noisy = vertex_noise((v, f), 0.005, np.random.default_rng(0))
    assert np.std(noisy[0] - v) == pytest.approx(0.005 * 1.8, rel=0.3)


def test_grid_too_large_is_refused_with_an_estimate():
    with pytest.raises(InspError, match=r"2048\^3 grid needs about 192\.0 GB"):
        check_grid(2048, 6, 4.0)
    check_grid(64, 6, 4.0)


def test_fitted_sdf_of_a_sphere_and_batching():
    spec = SirenSpec(in_features=3, hidden=32, depth=2)
    shapes = [sphere(0.5, 3), box(1.0)]
    pts, sdf = zip(*[sdf_samples(m, 3000, seed=i) for i, m in enumerate(shapes)])
    pts, sdf = torch.from_numpy(np.stack(pts)), torch.from_numpy(np.stack(sdf))
    st = FitSettings(steps=150, lr=1e-3, lr_final=1e-4, batch_pixels=1024)
    both = fit_sdfs(spec, pts, sdf, st, indices=[3, 4])
    assert both.ok.all() and (both.psnr > 32).all() and (both.psnr > both.floor + 15).all()
    one = fit_sdfs(spec, pts[1:], sdf[1:], st, indices=[4])  # alone in its batch: the same INR
    assert torch.allclose(one.params[0], both.params[1], atol=1e-5)
    grid = decode_grid(spec, both.params[:1], 24)
    mesh = marching_cubes(grid)
    # 150 steps on 3,000 points: the surface is within ~half a voxel of 24^3, the far field has a few floaters
    assert chamfer_l1(mesh, shapes[0], 3000) < 0.04 < chamfer_l1(mesh, shapes[1], 3000)


def test_pointcloud_loss_is_small_for_the_true_sdf_and_trains():
    spec = SirenSpec(in_features=3, hidden=32, depth=2)
    s = sphere(0.5, 3)
    from insp_cli.mesh import sample_surface

    p, n = sample_surface(s, 512, 0)
    surf, nrm = torch.from_numpy(p).float()[None], torch.from_numpy(n).float()[None]
    pts, sdf = sdf_samples(s, 2000, 0)
    pts, sdf = torch.from_numpy(pts)[None], torch.from_numpy(sdf)[None]
    st = FitSettings(steps=120, lr=1e-3, lr_final=1e-4, batch_pixels=512)
    init = init_params(spec, 1, generator=torch.Generator().manual_seed(0))
    before = float(pointcloud_loss(spec, init, surf, nrm, torch.rand(1, 256, 3) * 2 - 1).detach())
    res = fit_sdfs(spec, pts, sdf, st, loss="pointcloud", surface=surf, normals=nrm)
    after = float(pointcloud_loss(spec, res.params, surf, nrm, torch.rand(1, 256, 3) * 2 - 1).detach())
    assert res.ok.all() and after < before / 3


def test_voxel_features_are_jets_in_voxel_units():
    spec = SirenSpec(in_features=3, hidden=16, depth=2)
    params = init_params(spec, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = torch.rand(6, 3, dtype=torch.float64) * 2 - 1
    ref = siren_jet_reference(spec, params, x, 2)[0, :, :, 0].T  # (Q, M)
    h = pixel_spacing(32)
    scale = torch.tensor([h ** d for d in jet_space(3, 2).degrees], dtype=torch.float64)
    got = voxel_features(spec, params, x, 2, 32)
    assert got.shape == (6, 10) and torch.allclose(got, ref * scale, rtol=1e-8, atol=1e-10)


def test_training_points_cover_the_band():
    res = 24
    grid = (np.linalg.norm(voxel_points(np.arange(res**3), res), axis=1) - 0.5).reshape(res, res, res)
    ids = training_points(grid, 0.1, 500, 100, seed=0)
    near = np.abs(grid.reshape(-1)[ids]) < 0.1
    assert 500 <= len(ids) <= 600 and near.sum() >= 500


def test_context_jets_gathered_on_the_padded_grid_are_the_jets_at_the_neighbours():
    """3-D context: jets computed once on the padded 12^3 grid and gathered = jets at x + o h computed directly,
    for every offset of a 3x3x3 cube of step 2 (voxels at the border read beyond [-1, 1]); reach 0 = pointwise."""
    spec = SirenSpec(in_features=3, hidden=16, depth=2)
    params = init_params(spec, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    res, offsets = 12, neighbourhood(2, 2, 3)
    assert len(offsets) == 27 and offsets[1] == (0, -2, -2)  # x varies fastest
    ids = np.array([0, 5, 77, 600, res**3 - 1])
    table = grid_jets(spec, params, res, 2, offsets, ids)
    assert table.shape == (1, 16, 16, 16, 10)[1:]
    pos = torch.from_numpy(grid_positions(ids, res))
    got = gather(table[None], torch.zeros(len(ids), dtype=torch.long), pos, offsets_tensor(offsets), 2)
    pts = torch.from_numpy(voxel_points(ids, res)).double()
    want = context_features(spec, params, pts, 2, res, offsets)
    assert got.shape == want.shape == (5, 270)
    assert torch.allclose(got.double(), want, rtol=1e-4, atol=1e-5)
    direct = voxel_features(spec, params, pts + torch.tensor([2.0, 0.0, -2.0], dtype=torch.float64) * 2 / 11, 2, res)
    k = offsets.index((2, 0, -2))
    assert torch.allclose(want[:, k * 10:(k + 1) * 10], direct)
    pointwise = context_features(spec, params, pts, 2, res, [(0, 0, 0)])
    assert torch.equal(pointwise, voxel_features(spec, params, pts, 2, res))


def test_a_3d_context_pi_applies_a_wide_gaussian_on_a_finer_grid():
    """A linear Pi reading the jets at a 3x3x3 cube of neighbours (step 2) fitted to a Gaussian of sigma 1.5
    voxels on a 16^3 grid reproduces it on the 29^3 grid (offsets not on that grid: jets read at x + o h) far
    better than the pointwise Pi fitted the same way, whose Taylor series cannot reach that wide."""
    spec = SirenSpec(in_features=3, hidden=24, depth=2, omega0=6.0)
    params = init_params(spec, 1, generator=torch.Generator().manual_seed(0))
    res, sigma = 16, 1.5 * pixel_spacing(16)
    grid = decode_grid(spec, params, res)
    ids = np.arange(res**3)
    inner = np.all((grid_positions(ids, res) >= 4) & (grid_positions(ids, res) < res - 4), axis=1)
    y = torch.from_numpy(gaussian_sdf(grid, sigma).reshape(-1)[inner]).double()
    fine = decode_grid(spec, params, 29)
    want = gaussian_sdf(fine, sigma)
    band = np.zeros_like(fine, dtype=bool)
    band[7:-7, 7:-7, 7:-7] = True
    errs = {}
    for reach in (0, 2):
        offsets = neighbourhood(reach, 2, 3)
        x = context_features(spec, params, torch.from_numpy(voxel_points(ids[inner], res)), 2, res, offsets).double()
        fusion = LearnedFusion(1, 2, m=3, hidden=4, layers=1, offsets=offsets).double()
        w = torch.linalg.lstsq(torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1), y[:, None]).solution
        fusion.mlp = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 1).double())  # a linear Pi: the least squares
        fusion.mlp[0].weight.data, fusion.mlp[0].bias.data = w[:-1].T.clone(), w[-1].clone()
        fusion.scaler.mean.zero_(), fusion.scaler.std.fill_(1.0)
        fusion.residual = False
        psi = apply_filter(fusion, spec, params.double(), fine.astype(np.float64), 2, res, 10.0)
        errs[reach] = float(np.sqrt(np.mean((psi - want)[band] ** 2)))
    assert errs[2] < errs[0] / 5, errs


def test_context_psi_on_a_grid_twice_as_fine_gathers_what_direct_evaluation_gives():
    """At 23^3 for a Pi trained on 12^3 (22 = 2 x 11) the neighbours x + o h_12 are voxels 2 o away: Psi gathers
    jets computed once per voxel; it equals Pi on the jets computed at each x + o h_12 directly."""
    spec = SirenSpec(in_features=3, hidden=16, depth=2, omega0=5.0)
    params = init_params(spec, 1, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    fusion = LearnedFusion(1, 2, m=3, hidden=8, layers=1, offsets=neighbourhood(2, 2, 3))
    torch.nn.init.normal_(fusion.mlp[-1].weight, std=0.1)
    grid = decode_grid(spec, params, 23)
    psi = apply_filter(fusion, spec, params, grid, 2, 12, band=0.3)
    ids = np.flatnonzero(np.abs(grid.reshape(-1)) < 0.3)
    with torch.no_grad():
        want = fusion(context_features(spec, params, torch.from_numpy(voxel_points(ids, 23)), 2, 12,
                                       fusion.offsets))[..., 0].numpy()
    assert 100 < len(ids) < 23**3 and np.abs(psi.reshape(-1)[ids] - want).max() < 1e-4
    assert np.abs(psi.reshape(-1)[ids] - grid.reshape(-1)[ids]).max() > 1e-3  # Pi did change the SDF there
    rest = np.setdiff1d(np.arange(23**3), ids)
    assert np.array_equal(psi.reshape(-1)[rest], grid.reshape(-1)[rest])


def test_snapped_offsets_and_the_change_they_make():
    """128^3 for 64^3 units: a neighbour 2 voxels away is read 4 voxels away, 0.79 % nearer; a 2 % move (res 103
    for units 51: f = 2.04) is refused and computed directly. snap_check measures what snapping changed."""
    offsets = neighbourhood(2, 2, 3)
    on_grid, dev = snapped_offsets(offsets, 128, 64)
    assert on_grid[0] == (-4, -4, -4) and abs(dev - (2 * 127 / 63 - 4) / (2 * 127 / 63)) < 1e-12
    assert snapped_offsets(offsets, 127, 64) == ([tuple(2 * v for v in o) for o in offsets], 0.0)
    assert snapped_offsets(offsets, 103, 51)[1] > SNAP_TOLERANCE >= snapped_offsets(offsets, 102, 51)[1] > 0
    spec = SirenSpec(in_features=3, hidden=8, depth=1, omega0=3.0)
    params = init_params(spec, 1, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(1)
    fusion = LearnedFusion(1, 2, m=3, hidden=8, layers=1, offsets=offsets)
    torch.nn.init.normal_(fusion.mlp[-1].weight, std=0.1)
    for res, small in ((102, True), (103, False)):  # snapped (f = 2.02) / computed directly (f = 2.04)
        grid = decode_grid(spec, params, res)
        band = float(np.quantile(np.abs(grid), 0.002))
        psi = apply_filter(fusion, spec, params, grid, 2, 51, band)
        check = snap_check(fusion, spec, params, grid, psi, 2, 51, band, count=200)
        assert check["voxels"] == 200 and (check["max_abs"] > 1e-7) == small, check
        if small:  # a 1 % nearer neighbour: Psi moves by a small part of what Pi changes
            assert check["max_abs"] < 0.01 * np.abs(psi - grid).max(), check
