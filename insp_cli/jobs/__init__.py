"""One thin job per command: ``<name>_job(cfg)`` runs inside Hydra; ``run_<name>(cfg, run_dir)`` is the plain
function that tests call with a composed config. No job imports another: what two jobs share lives in the
library (filters/, classifiers/, report/, training.py, tracking.py)."""
