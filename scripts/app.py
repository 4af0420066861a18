"""A local web app: open a portrait, tap to focus, set the aperture, compare methods, save.

    python scripts/app.py            # then open the address it prints (http://127.0.0.1:7860)
    python scripts/app.py --help

Needs the app extra: pip install -e '.[app]'. The program is evaluation/cli/app.py (its config,
parser and server; the work is evaluation/app.py, the page evaluation/app_ui.py); this file only
runs it.
"""
import sys

from shallowdof.programs import run_program

if __name__ == "__main__":
    sys.exit(run_program("app"))
