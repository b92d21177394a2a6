"""Table 1 (``insp table table=table1``): `insp classify` runs -> test accuracy per dataset x classifier, ours
(mean ± std over seeds) beside the paper's; its bars, its catalogue entry and the paper's numbers."""

from __future__ import annotations

from collections import defaultdict

from insp_cli.errors import InspError
from insp_cli.report.labels import label
from insp_cli.report.runs import _MISSING, RunRecord
from insp_cli.report.table_kit import Bars, Column, PaperItem, Table, TableSpec, mean_std, need, split_complete

# The paper's Table 1 (Sec. 5.3: test accuracy %, INRs of the full datasets, 1,000 epochs)
PAPER_TABLE1 = {"mnist": {"depthwise_cnn": 87.6, "pca_svm": 11.3, "weight_mlp": 9.8, "insp_convnet": 88.1},
                "cifar10": {"depthwise_cnn": 59.5, "pca_svm": 9.4, "weight_mlp": 10.1, "insp_convnet": 62.5}}


def _classifier_kind(r: RunRecord):
    """The classifier of a classify run: ``classifier.kind``, or ``model.kind`` in runs recorded before the key
    was renamed."""
    k = r.get_config("classifier.kind")
    return r.get_config("model.kind") if k is _MISSING else k


def _table1(records: list[RunRecord], scale: str | None) -> Table:
    cells: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    done, failed = split_complete(records, lambda r: "" if (k := _classifier_kind(r)) is _MISSING
                                  else label(str(k)))
    for r in done:
        m = need(r, "model", "dataset", "test_accuracy", "train_count", "test_count")
        cells[(str(m["dataset"]), str(m["model"]))].append(r)
    datasets = list(PAPER_TABLE1) + sorted({d for d, _ in cells} - set(PAPER_TABLE1))
    methods = list(PAPER_TABLE1["mnist"]) + sorted({k for _, k in cells} - set(PAPER_TABLE1["mnist"]))
    rows = []
    for d in datasets:
        for k in methods:
            runs = cells.get((d, k), [])
            paper = PAPER_TABLE1.get(d, {}).get(k)
            if not runs and paper is None:
                continue
            sizes = {(r.metrics["train_count"], r.metrics["test_count"]) for r in runs}
            if len(sizes) > 1:
                raise InspError(f"table1: the {label(k)} runs on {label(d)} differ in size (train/test INRs "
                                f"{', '.join(f'{a}/{b}' for a, b in sorted(sizes))}); one cell holds one "
                                "setting: pass those runs to separate tables, or use table=grid")
            acc, std = mean_std([100 * r.metrics["test_accuracy"] for r in runs])
            notes = sorted({f"not a result: {r.metrics['not_a_result']}" for r in runs
                            if r.metrics.get("not_a_result")})
            train, test = next(iter(sizes)) if sizes else (None, None)
            rows.append({"dataset": label(d), "method": label(k), "ours_accuracy": acc, "ours_std": std,
                         "paper_accuracy": paper, "train_inrs": train, "test_inrs": test, "runs": len(runs),
                         "note": "; ".join(notes) or ("not run" if not runs else "")})
    cols = [Column("dataset", "Dataset"), Column("method", "Method"),
            Column("ours_accuracy", "Ours: test accuracy (%)", 2, std="ours_std"),  # 2,000 INRs: steps of 0.05
            Column("paper_accuracy", "Paper: test accuracy (%)", 1),
            Column("train_inrs", "Train INRs"), Column("test_inrs", "Test INRs"), Column("runs", "Runs"),
            Column("note", "Note")]
    notes = ["Ours: mean ± std over runs (seeds) where a cell has several. Paper: full MNIST / "
             "CIFAR-10, 1,000 epochs (Sec. 5.3)."]
    if any(k not in PAPER_TABLE1["mnist"] for _, k in cells):
        notes.append("Rows without a paper number are not in the INSP paper's Table 1 (e.g. the functa MLP on "
                     "functa latents, Dupont et al. 2022: docs/meta.md).")
    return Table("table1", "Table 1: classification of INRs, test accuracy (%)", scale, cols, rows,
                 notes=notes, failed=failed)


TABLE1 = TableSpec(
    "table1", "classify", _table1, paper=PAPER_TABLE1,
    bars=Bars(lambda row: f"{row['dataset']}\n{row['method']}",
              (("ours_accuracy", "ours"), ("paper_accuracy", "paper")), "test accuracy (%)", ran_only=True),
    item=PaperItem("table1", "Table 1: classification of INRs (MNIST, CIFAR-10)", (),
                   ["insp fit data=mnist && insp fit data=mnist data.split=test",
                    "insp classify -m classifier=insp_convnet,depthwise_cnn,pca_svm,weight_mlp scale=cpu",
                    "insp table table=table1 runs=[runs/classify-multirun/DATE] "
                    "out=experiments/table1_classification"]))
