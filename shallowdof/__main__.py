"""``shallowdof NAME [options]`` (and ``python -m shallowdof NAME``): run one of the programs.

``shallowdof --help`` lists them from :data:`shallowdof.programs.PROGRAMS`; ``shallowdof NAME
--help`` is that program's own help. The ``shallowdof`` command is this module's :func:`main`
(setup.py's console script).
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_USAGE
from shallowdof.programs import PROGRAMS, run_program


def usage() -> str:
    """The command's help: how to call it and one line per program."""
    width = max(len(name) for name in PROGRAMS)
    lines = [f"  {name:<{width}}  {program.summary}" for name, program in PROGRAMS.items()]
    return ("usage: shallowdof PROGRAM [options]\n       shallowdof PROGRAM --help\n\n"
            "Synthetic shallow depth of field for portraits: lens blur, CycleGAN, segmentation and depth.\n\n"
            "programs:\n" + "\n".join(lines) + "\n\n" + EXIT_CODES_EPILOG)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the program named by ``argv[0]`` (default: the command line) on the rest; its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else EXIT_USAGE
    name, rest = args[0], args[1:]
    if name not in PROGRAMS:
        print(f"shallowdof: no program {name!r}; choose from {', '.join(PROGRAMS)} (shallowdof --help)",
              file=sys.stderr)
        return EXIT_USAGE
    sys.argv[0] = f"shallowdof {name}"  # what the program's --help and errors call it
    return run_program(name, rest)


if __name__ == "__main__":
    sys.exit(main())
