"""Running the stages: each is skipped when complete, else run; a failure stops the reproduction
with one line naming the stage and the problem (:class:`StageFailed`)."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from plumbing.cli import EXIT_SOME_FAILED, EXIT_USAGE
from plumbing.config import save_config

from .config import CONFIG_FILE, ReproduceConfig
from .stages import Reproduction, Stage

log = logging.getLogger(__name__)


class StageFailed(Exception):
    """A stage ended with a non-zero exit status (or its outputs were incomplete after it ran)."""

    def __init__(self, stage: str, status: int, problem: str, ran: bool = True) -> None:
        super().__init__(f"stage {stage!r} {'failed' if ran else 'cannot run'} (exit status {status}): {problem}; "
                         "fix it and run the same command again to resume there (finished stages are skipped)")
        self.stage, self.status, self.problem = stage, status, problem


class _LastError(logging.Handler):
    """Remembers the first line of the last ERROR record logged while a stage runs: its problem."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message: Optional[str] = None

    def emit(self, record: logging.LogRecord) -> None:
        lines = record.getMessage().strip().splitlines()
        self.message = lines[0] if lines else self.message


def _pending(stage: Stage) -> Optional[str]:
    """The stage's check; a check that cannot tell (an unreadable record) says so, and the stage runs."""
    try:
        return stage.pending()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the stage's own program reports the real problem
        return f"cannot tell whether it is complete ({type(exc).__name__}: {exc})"


def _attempt(stage: Stage) -> tuple[int, str]:
    """Run ``stage``: (exit status, the problem when it is not 0). A program's argparse exit and
    an unexpected exception are a status and one line too; Ctrl-C goes through."""
    catcher = _LastError()
    root = logging.getLogger()
    root.addHandler(catcher)
    text = None
    try:
        status = stage.run()
    except SystemExit as exc:  # a program's argparse error (printed above) or SystemExit("message")
        if exc.code is None or isinstance(exc.code, int):
            status = exc.code or 0
        else:
            status, text = EXIT_USAGE, str(exc.code)
    except Exception as exc:  # noqa: BLE001 - one line instead of a traceback (which goes to the debug log)
        log.debug("stage %s", stage.name, exc_info=True)
        first = (str(exc).strip().splitlines() or [""])[0]
        status, text = EXIT_SOME_FAILED, f"{type(exc).__name__}: {first}"
    finally:
        root.removeHandler(catcher)
    return status, text or catcher.message or "see the messages above"


def run_stages(stages: Sequence[Stage], report: Callable[[str], None]) -> None:
    """Each stage in order: ``report`` one line when it is skipped, started and finished; raise
    :class:`StageFailed` at the first that fails."""
    for i, stage in enumerate(stages, 1):
        tag = f"[{i}/{len(stages)}] {stage.name}"
        why = _pending(stage)
        if why is None:
            report(f"{tag}: complete, skipped")
            continue
        report(f"{tag}: running ({why})")
        start = time.monotonic()
        status, problem = _attempt(stage)
        if status == 0 and stage.verify:
            left = _pending(stage)
            if left is not None:
                status, problem = EXIT_SOME_FAILED, f"it finished, but its outputs are not complete: {left}"
        if status != 0:
            raise StageFailed(stage.name, status, problem)
        report(f"{tag}: done in {time.monotonic() - start:.0f} s")


def reproduce(cfg: ReproduceConfig, api_key_file: Optional[Path] = None,
              report: Callable[[str], None] = log.info) -> Path:
    """Run (or resume) the reproduction ``cfg`` into ``cfg.out``; its settings are saved there
    first, and pretrained weights that a stage still to run needs are checked before the first.
    Returns the comparison's gallery page; raises :class:`StageFailed`."""
    cfg.check()
    reproduction = Reproduction(cfg, api_key_file)
    save_config(cfg, Path(cfg.out) / CONFIG_FILE)
    report(f"reproducing Nasrullah 2018 at scale {cfg.scale!r} ({cfg.scale_settings.summary}) in {cfg.out}")
    missing = reproduction.weights_problem()
    if missing is not None:
        raise StageFailed(missing[0], EXIT_SOME_FAILED, missing[1], ran=False)
    run_stages(reproduction.stages(), report)
    return reproduction.lay.compare / "gallery" / "index.html"
