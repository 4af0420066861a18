"""A local web app: open a portrait, tap to focus, set the aperture, compare methods, save.

    python scripts/app.py            # then open the address it prints (http://127.0.0.1:7860)
    python scripts/app.py --help

Needs the app extra: pip install -e '.[app]'. The program is evaluation/app_cli.py (its config,
parser and server; the work is evaluation/app.py, the page evaluation/app_ui.py); this file only
runs it.
"""
from __future__ import annotations

import sys

from datasets.cli import run_main
from evaluation.app_cli import main

if __name__ == "__main__":
    sys.exit(run_main(main, "app"))
