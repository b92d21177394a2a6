"""The `insp` command. One thin function per command: each hands its Hydra overrides to a job in jobs/."""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from typing import Callable

import typer

from .errors import InspError
from .spellings import command_line

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Signal processing directly on implicit neural representations (INSP-Net).\n\n"
                       "Every command takes Hydra overrides (key=value), -m for sweeps, --cfg job to print "
                       "its config.")
PRINT_ONLY = ("--cfg", "-c", "--info", "-i")  # Hydra flags that print a config and run no job
HYDRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["--help"]}
log = logging.getLogger("insp")


@app.callback()
def _root() -> None:
    """insp: fit, filter, classify and score INRs; each command is a Hydra app."""


def _epilog(command: str) -> str:
    return (f"Every config key and group: insp {command} -h (Hydra's help). The composed config: insp {command} "
            f"--cfg job. Overrides: key=value; -m for a sweep.")


def quote_non_ascii(arg: str) -> str:
    """``store=/data/é`` as ``store='/data/é'``: Hydra's override grammar takes non-ASCII text only quoted. Values
    that are already quoted, or hold a sweep (``,``) or a list/dict, are left as typed."""
    key, eq, value = arg.partition("=")
    if not eq or arg.startswith("-") or value.isascii() or value[:1] in "'\"[{" or "," in value:
        return arg
    quote = "'" if "'" not in value else '"'
    return f"{key}={quote}{value}{quote}"


def os_fault(e: OSError) -> str:
    """One line for an OSError: 'no space left on device: PATH', else the system's words and the path."""
    from .files import os_error_message

    path = e.filename or "?"
    return os_error_message(e, path) if e.errno == errno.ENOSPC else f"{e.strerror or e}: {path}"


def check_runs_root() -> None:
    """The runs folder (INSP_RUNS, default runs/) must take a new run directory; checked before Hydra writes
    one, so that a missing, read-only or full disk is one line, not Hydra's traceback."""
    from pathlib import Path

    from .files import atomic_write

    root = Path(os.environ.get("INSP_RUNS") or "runs")
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic_write(root / ".insp-write-check", b"ok")  # InspError for ENOSPC (full disk), with the path
        (root / ".insp-write-check").unlink(missing_ok=True)
    except (OSError, InspError) as e:
        why = os_fault(e) if isinstance(e, OSError) else str(e)
        raise InspError(f"cannot create run directories in {root} (set INSP_RUNS): {why}") from None


def _hydra_task(job: Callable) -> Callable:
    """The Hydra task of ``job``: its result; an InspError (or a file-system fault the job did not foresee, or a
    run log that stopped on a write error) is one ``error:`` line and the exit code, or in a sweep the job's
    failed record while the sweep goes on."""

    def task(cfg):
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from .files import disk_fault, run_log_failure

        try:
            try:
                result = job(cfg)
            except Exception as e:  # a file-system fault the job did not foresee (an OSError, or a library's
                fault = e if isinstance(e, OSError) else disk_fault(e)  # wrapped ENOSPC): one line, no traceback
                if fault is None or isinstance(e, InspError):
                    raise
                raise InspError(os_fault(fault), exit_code=1) from None
            if run_log_failure():  # the run log stopped on a write error: the run is not fully recorded
                raise InspError(run_log_failure(), exit_code=1)
            return result
        except InspError as e:
            if HydraConfig.get().mode == RunMode.MULTIRUN:
                # the job's metrics.json says failed; the sweep goes on and the summary reports it
                log.error("error: %s", e)
                return None
            typer.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)

    return task


def _hydra_command(config_name: str, job: Callable, argv: list[str]) -> None:
    from .config import check_overrides, run_hydra_app
    from .sweeps import is_multirun, pin_sweep_dir

    argv = command_line(config_name, [quote_non_ascii(a) for a in argv])  # former spellings: today's names
    if is_multirun(argv) and any(a in PRINT_ONLY for a in argv):
        typer.echo(f"error: --cfg/--info and -m do not combine (Hydra prints one job's config): drop -m, e.g. insp "
                   f"{config_name.replace('_', '-')} --cfg job <overrides with one value each>", err=True)
        raise typer.Exit(2)

    task = _hydra_task(job)

    try:
        check_overrides(config_name, argv)
        if not any(a in PRINT_ONLY + ("-h", "--hydra-help") for a in argv):
            check_runs_root()
        sweep = None
        if is_multirun(argv):  # pinned, so that the jobs' metrics.json can be read when the sweep ends
            argv, sweep = pin_sweep_dir(config_name, argv)
        try:
            run_hydra_app(config_name, task, argv)
        except SystemExit:  # Hydra exits after a job's traceback: still list every job that did not complete
            if sweep is not None:
                _report_sweep(sweep)
            raise
        if sweep is not None:
            _report_sweep(sweep)
    except OSError as e:  # Hydra's own writes (.hydra/, the run log) on a full disk: config.run_hydra_app
        typer.echo(f"error: {os_fault(e)}", err=True)
        raise typer.Exit(1)
    except InspError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(e.exit_code)
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        kept = getattr(e, "kept", None) or "finished work is kept; rerun the same command to resume"
        typer.echo(f"{what}: {kept}", err=True)
        raise typer.Exit(143 if isinstance(e, Terminated) else 130)


def _report_sweep(sweep) -> None:
    """One line per job of a finished sweep that did not complete, and a non-zero exit."""
    from .report import sweep_failures

    n, failed = sweep_failures(sweep)
    if failed:
        typer.echo(f"error: {len(failed)} of {n} jobs did not complete (sweep {sweep}):", err=True)
        for line in failed:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1)


@app.command(context_settings=HYDRA_ARGS, epilog=_epilog("fit"))
def fit(ctx: typer.Context) -> None:
    """Fit a dataset of SIREN INRs into an INR store (insp fit data=mnist data.limit=256)."""
    from .jobs.fit import fit_job

    _hydra_command("fit", fit_job, ctx.args)


@app.command("meta-learn", context_settings=HYDRA_ARGS, epilog=_epilog("meta-learn"))
def meta_learn(ctx: typer.Context) -> None:
    """Learn where INRs should start, on a train split: a SIREN initialisation (Reptile) or functa
    (insp meta-learn data=mnist [meta=functa]; then insp fit fit.init=PATH)."""
    from .jobs.meta_learn import meta_learn_job

    _hydra_command("meta_learn", meta_learn_job, ctx.args)


@app.command(context_settings=HYDRA_ARGS, epilog=_epilog("classify"))
def classify(ctx: typer.Context) -> None:
    """Train and test a classifier on labelled INR stores (insp classify classifier=insp_convnet train_store=PATH
    test_store=PATH); classifier=insp_convnet | depthwise_cnn | pca_svm | weight_mlp | functa_mlp (model=NAME,
    model.KEY=V: an alias of classifier=NAME, classifier.KEY=V)."""
    from .jobs.classify import classify_job

    _hydra_command("classify", classify_job, ctx.args)


@app.command("train-filter", context_settings=HYDRA_ARGS, epilog=_epilog("train-filter"))
def train_filter(ctx: typer.Context) -> None:
    """Train an INSP-Net filter on INRs of degraded images, or apply a hand-made one
    (insp train-filter task=denoise store=PATH; task=edges store=PATH decode.size=128)."""
    from .jobs.train_filter import train_filter_job

    _hydra_command("train_filter", train_filter_job, ctx.args)


@app.command("eval", context_settings=HYDRA_ARGS, epilog=_epilog("eval"))
def eval_(ctx: typer.Context) -> None:
    """Score a filter on a test INR store against the clean images and classical filters
    (insp eval filter=CKPT store=PATH)."""
    from .jobs.evaluate import eval_job

    _hydra_command("eval", eval_job, ctx.args)


@app.command(context_settings=HYDRA_ARGS, epilog=_epilog("table"))
def table(ctx: typer.Context) -> None:
    """Rebuild the paper's tables from run directories, ours beside the paper's numbers (insp table
    table=table1 runs=[RUN_DIRS] [out=experiments/NAME]); plain `insp table` rebuilds every recorded table."""
    from .jobs.table import table_job

    _hydra_command("table", table_job, ctx.args)


@app.command(context_settings=HYDRA_ARGS, epilog=_epilog("blend"))
def blend(ctx: typer.Context) -> None:
    """Blend two INR stores in the gradient domain, or rebuild INRs from their gradients, into a new INR store
    (insp blend store=PATH pairs=[[0,1]] mask.shape=disc alpha=0; mode=reconstruct store=PATH)."""
    from .jobs.blend import blend_job

    _hydra_command("blend", blend_job, ctx.args)


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, SLURM's time limit, a container stop): handled exactly like Ctrl-C."""


_signals_seen = 0


def _on_signal(signum, frame) -> None:
    """The first SIGTERM/SIGINT stops the job (``Terminated`` / ``KeyboardInterrupt``); the exit path that
    follows (the run record, W&B, the last line) runs once: a second signal meanwhile is ignored, so it cannot
    break the exit with a traceback; a third one (someone insists) ends the process at once."""
    global _signals_seen
    _signals_seen += 1
    if _signals_seen == 1:
        if signum == signal.SIGTERM:
            raise Terminated("terminated by SIGTERM")
        raise KeyboardInterrupt
    if _signals_seen >= 3:
        sys.stderr.write("terminated: a third signal; exiting now (the run record may be missing)\n")
        sys.stderr.flush()
        os._exit(143 if signum == signal.SIGTERM else 130)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    finally:
        if _signals_seen:  # the exit path is done: a late signal must not kill the interpreter's shutdown
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # (which would restore the default handlers)
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
