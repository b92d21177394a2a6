"""Names that insp's own files and recorded commands hold under an earlier spelling, read under today's.

A degradation has one name from config to code to label: its file under ``conf/degradation/`` (``noise``,
``blur``, ``mask``, ``patch``, ``blocks``, ``text``, ``poisson``, ``vertex_noise``, ``clean``) is the ``kind`` the
code computes and every store header, filter file and run record writes. Before that, five kinds had a second
name (``degradation=noise`` wrote ``kind: gaussian_noise``). Stores, filters and run records written then keep
that spelling on disk; everything that reads a kind back goes through ``degradation_kind``.

The same for the command line (``command_line``): the recorded commands of experiments/*/table.json and older
scripts, with former experiment names and classify's ``model=``, still run.

A neutral module: the store format (``inr/``), the degradations (``data/``), filters, tables and the command
line all read it, and it imports nothing of theirs.
"""

from __future__ import annotations

FORMER_DEGRADATIONS = {"gaussian_noise": "noise", "gaussian_blur": "blur", "random_mask": "mask",
                       "patch_mask": "patch", "block_mask": "blocks"}


def degradation_kind(kind):
    """Today's name of a degradation kind (a former spelling mapped, anything else unchanged)."""
    return FORMER_DEGRADATIONS.get(kind, kind) if isinstance(kind, str) else kind


def degradation_record(record: dict) -> dict:
    """A recorded degradation ({"kind": ..., params}) with its kind under today's name (a copy if it changes)."""
    kind = record.get("kind") if isinstance(record, dict) else None
    return {**record, "kind": degradation_kind(kind)} if kind in FORMER_DEGRADATIONS else record


# conf/experiment/ folders are named as their experiments/ folders; the names of before, in recorded commands
FORMER_EXPERIMENTS = {"table1_omega30": "table1_classification/omega30_pool4",
                      "table2_ffn": "table2_denoising/cpu_64px_backbones", "table1_cpu": "table1_classification",
                      "table2_cpu": "table2_denoising", "fig8_cpu": "fig8_geometry", "fig15_cpu": "fig15_audio"}


def command_line(config_name: str, argv: list[str]) -> list[str]:
    """A command's overrides with former spellings under today's names (Hydra's flags pass untouched):
    ``+experiment=table2_cpu/eval`` -> ``+experiment=table2_denoising/eval`` for every command, and for classify
    ``model=NAME`` / ``model.KEY=V`` (also with ``+``, ``++``, ``~``) -> ``classifier=NAME`` / ``classifier.KEY=V``
    (the classifier's key; ``model`` is the INR backbone of `insp fit`)."""
    out = []
    for a in argv:
        bare = a.lstrip("+~")
        sign = a[:len(a) - len(bare)]
        if bare.startswith("experiment=") and "/" in bare:
            folder, _, rest = bare[len("experiment="):].partition("/")
            a = f"{sign}experiment={FORMER_EXPERIMENTS.get(folder, folder)}/{rest}"
        elif config_name == "classify" and bare.startswith(("model=", "model.")) and not a.startswith("-"):
            a = sign + "classifier" + bare[len("model"):]
        out.append(a)
    return out
