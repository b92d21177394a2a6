import os

import pytest

# W&B is disabled in tests (one test turns offline mode on explicitly to check the real files)
os.environ["INSP_WANDB_MODE"] = "disabled"
os.environ.setdefault("WANDB_SILENT", "true")
# jobs run the jets eagerly in tests (compiling costs seconds per order); test_jets checks the compiled path
os.environ["INSP_COMPILE"] = "false"
# no progress lines on stderr (tests count its lines); tests/test_progress.py turns them on where it checks them
os.environ["INSP_PROGRESS_EVERY"] = "null"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run directories and stores go under a temporary folder."""
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("INSP_STORES", str(tmp_path / "stores"))
    return tmp_path


@pytest.fixture(autouse=True)
def _root_log_handlers():
    """A command run in the test process leaves Hydra's run-log handler on the root logger, its file closed once
    the run ends; a later test's progress line (progress.py writes into every file handler of the root logger) would
    meet it. Each test starts and ends with the root logger's handlers as they were (as a new process would)."""
    import logging

    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
