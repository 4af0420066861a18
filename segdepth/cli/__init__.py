"""The programs whose code lives in segdepth/: curate, prepare_masks, train_segmentation, train_depth.

Program NAME is the module NAME.py here: its parser (``build_parser``, ``parse_args``) and
``main(argv) -> exit status``; ``scripts/NAME.py`` and ``shallowdof NAME`` run it through the one
table of programs, :data:`shallowdof.programs.PROGRAMS`.
"""
