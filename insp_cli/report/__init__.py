"""`insp table`'s library: run directories -> the paper's tables, ours beside the paper's numbers.

Rooms: ``runs`` (reading run directories), ``labels`` (display labels), one module per table (its
``TableSpec``: builder, bars, catalogue entry, the paper's numbers; ``table_kit``: what they share), ``tables``
(``SPECS``, ``build_tables``), ``render`` (markdown, CSV, PNG), ``recorded`` (a table recorded in a folder of
experiments/ and rebuilt from it alone), ``readme`` (experiments/README.md, the catalogue of the paper's items).
Pure: reads run directories and writes files; knows nothing of Hydra's runtime or W&B (jobs/table.py does).
"""

from insp_cli.report.labels import LABELS, label
from insp_cli.report.readme import readme, rebuild_recorded
from insp_cli.report.recorded import SPEC, rebuild, record, recorded_folders, sweep_commands
from insp_cli.report.render import plot, to_csv, to_markdown, write_tables
from insp_cli.report.runs import STATUS_OK, RunRecord, find_runs, read_run, sweep_failures
from insp_cli.report.table1 import PAPER_TABLE1
from insp_cli.report.table2 import PAPER_TABLE2
from insp_cli.report.tables import MIXED, SPECS, TABLES, Column, Table, build_tables

__all__ = ["LABELS", "MIXED", "PAPER_TABLE1", "PAPER_TABLE2", "SPEC", "SPECS", "STATUS_OK", "TABLES", "Column",
           "RunRecord", "Table", "build_tables", "find_runs", "label", "plot", "read_run", "readme", "rebuild",
           "rebuild_recorded", "record", "recorded_folders", "sweep_commands", "sweep_failures", "to_csv",
           "to_markdown", "write_tables"]
