"""Config values are checked for type and range where the config is composed: one `error:` line, exit 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.schema import RULES, check_value, validate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command, overrides", [
    ("fit", []), ("fit", ["data=images"]), ("fit", ["data=cifar10", "fit=paper"]), ("classify", []),
    ("classify", ["classifier=depthwise_cnn"]), ("classify", ["classifier=pca_svm"]),
    ("classify", ["classifier=weight_mlp"]), ("classify", ["classifier.order=[2,1,1]", "classifier.layers=3"]),
    ("train_filter", ["store=x"]), ("train_filter", ["task=edges", "store=x"]),
    ("eval", ["store=x", "filter=y"]), ("table", []), ("blend", ["store=x"]),
    ("blend", ["store=x", "+experiment=gradient_blend/blend"]),
    ("blend", ["store=x", "+experiment=gradient_blend/reconstruct"]),
])
def test_every_shipped_config_passes(command, overrides):
    validate(compose(command, overrides), command)


@pytest.mark.parametrize("command, override, message", [
    ("fit", "data.limit=abc", "data.limit='abc'; it must be an integer >= 1"),
    ("fit", "model.hidden=0", "model.hidden=0; it must be an integer in [1, 4096]"),
    ("fit", "model.depth=0", "model.depth=0"),
    ("fit", "seed=abc", "seed='abc'"),
    ("fit", "fit.batch_size=0", "fit.batch_size=0"),
    ("fit", "fit.lr=nan", "fit.lr=nan; it must be a number > 0"),
    ("fit", "compile=maybe", "it must be true or false"),
    ("classify", "epochs=abc", "epochs='abc'"),
    ("classify", "batch_size=0", "batch_size=0"),
    ("classify", "classifier.order=[2,x]", "classifier.order='x'"),
    ("classify", "lr_schedule=linear", "choose cosine | constant"),
    ("train_filter", "train.steps=abc", "train.steps='abc'"),
    ("eval", "batch_inrs=0", "batch_inrs=0"),
    ("blend", "fit.batch_points=0", "fit.batch_points=0"),
    ("meta_learn", "meta.inner_steps=0", "meta.inner_steps=0"),
    ("meta_learn", "meta.mode=maml", "choose weights | functa"),
    ("fit", "fit.mode=latent", "choose weights | functa"),
])
def test_bad_values_are_named_with_their_rule(command, override, message):
    extra = {"train_filter": ["store=x"], "eval": ["store=x", "filter=y"], "blend": ["store=x"]}.get(command, [])
    with pytest.raises(InspError, match="bad value: ") as e:
        validate(compose(command, [override, *extra]), command)
    assert message in str(e.value)


def test_rules_accept_and_refuse_at_their_bounds():
    check_value("k", 1, ("int", 1, 3))
    check_value("k", 3, ("int", 1, 3))
    check_value("k", None, ("?int", 1, 3))
    check_value("k", "1e-3", ("+float", 0, None))  # YAML 1e-3 (no dot) reaches OmegaConf as a string
    for bad, rule in [(0, ("int", 1, 3)), (4, ("int", 1, 3)), (None, ("int", 1, 3)), (1.5, ("int", 1, 3)),
                      (True, ("int", 0, 3)), (0.0, ("+float", 0, None)), (float("inf"), ("float", 0, None)),
                      ("x", ("float", 0, None)), ("yes", ("bool", None, None)), ("c", (("a", "b"), None, None))]:
        with pytest.raises(InspError):
            check_value("k", bad, rule)
    assert set(RULES) == {"fit", "classify", "train_filter", "eval", "table", "blend", "meta_learn"}


@pytest.mark.parametrize("args", [
    ["fit", "data.limit=abc"], ["fit", "model.depth=0"], ["classify", "epochs=abc"],
    ["train-filter", "store=x", "train.steps=abc"], ["eval", "store=x", "filter=y", "batch_inrs=0"],
    ["fit", "-m", "data.limit=4,abc"],  # every value of a sweep is checked before any job starts
])
def test_cli_prints_one_error_line_and_no_traceback(args, workdir):
    r = subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ}, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: bad value: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (workdir / "runs").exists() or not any((workdir / "runs").rglob("metrics.json"))


def test_settings_are_checked_and_typed_by_the_rules_alone():
    """A job's settings dataclass comes from its config node through the rules (no hand parsing): values are
    typed as the rule says (YAML's 1e-3 string -> float, 60.0 -> int), fields the node leaves out keep their
    defaults, a bad value is the rule's one line, and a field with no rule is a defect of the table."""
    from dataclasses import dataclass

    from insp_cli.inr.fit import FitSettings
    from insp_cli.inr.regularised import RegSettings
    from insp_cli.inr.regularisers import KINDS
    from insp_cli.jobs.fit import fit_settings
    from insp_cli.schema import REGULARISERS, settings

    s = settings(FitSettings, {"steps": 60.0, "lr": "1e-3", "batch_pixels": None, "shared_init": True}, "fit", "fit")
    assert (s.steps, s.lr, s.batch_pixels, s.shared_init, s.retries) == (60, 1e-3, None, True, 1)
    assert type(s.steps) is int and type(s.lr) is float
    with pytest.raises(InspError, match=r"^bad value: fit.retries=21; it must be an integer in \[0, 20\]$"):
        settings(FitSettings, {"retries": 21}, "fit", "fit")
    r = settings(RegSettings, {"g_hidden": 8, "g_norm": "global"}, "fit.reg_opts", "fit", skip=("kind", "weight"))
    assert (r.g_hidden, r.g_norm, r.g_depth) == (8, "global", 2)

    @dataclass
    class Unruled:
        steps: int = 1
        colour: str = "red"

    with pytest.raises(KeyError, match="has no rule for fit.colour'$"):
        settings(Unruled, {"steps": 2, "colour": "blue"}, "fit", "fit")
    assert KINDS is REGULARISERS  # the regulariser names are written once, as the rule of fit.reg
    cfg = compose("fit", ["fit.reg=tv", "fit.batch_pixels=null", "fit.reg_weights.tv=0.5", "fit.reg_opts.tv_p=2"])
    reg = fit_settings(cfg).reg
    assert (reg.kind, reg.weight, reg.tv_p) == ("tv", 0.5, 2.0) and type(reg.tv_p) is float
    with pytest.raises(InspError, match="fit.reg=tv decodes every pixel each step"):
        fit_settings(compose("fit", ["fit.reg=tv", "fit.batch_pixels=64"]))
