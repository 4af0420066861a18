"""The programs whose code lives in evaluation/: compare, demo, app.

Program NAME is the module NAME.py here: its parser (``build_parser``, ``parse_args``) and
``main(argv) -> exit status``; ``scripts/NAME.py`` and ``shallowdof NAME`` run it through the one
table of programs, :data:`shallowdof.programs.PROGRAMS`.
"""
