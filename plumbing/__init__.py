"""The foundation every other package stands on; it imports no other package of shallowdof.

* :mod:`plumbing.cli`: what every command-line program shares (argument checks, exit codes,
  boolean flags, Ctrl-C, ``--allow-download``);
* :mod:`plumbing.config`: the one config pattern (strict ``from_dict``, save / load, ``--config``);
* :mod:`plumbing.files`: atomic writes, JSON and JSONL;
* :mod:`plumbing.markdown`: the one Markdown-table writer.

Nothing here knows about images, networks or data sets: that is ``datasets/`` and above.
"""
