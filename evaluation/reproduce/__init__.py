"""One command that reproduces Nasrullah 2018 end to end (the ``reproduce_paper`` program).

Stages, each a program of the project called in this process: scrape both domains from Flickr
(scrape_flickr), curate them into train/test splits (curate), fit every photo to the paper's
256×256 (:mod:`datasets.fit`, the paper's own preparation), write the person masks
(prepare_masks), train each preset on the paper's schedule (train_cyclegan ``--paper-data``),
translate the test photos (test_cyclegan) and compare the presets, a compositor baseline and any
published outputs (compare). A stage whose outputs are complete (:mod:`.checks`) is skipped, so a
rerun after any stop resumes; a failing stage stops the run with one line (:class:`StageFailed`).
:mod:`.config` holds the settings and the two scales (``paper``, ``tiny``).
"""
from .config import CONFIG_FILE, SCALES, Layout, ReproduceConfig, Scale, layout
from .run import StageFailed, reproduce, run_stages
from .stages import Reproduction, Stage

__all__ = ["CONFIG_FILE", "SCALES", "Layout", "Reproduction", "ReproduceConfig", "Scale", "Stage", "StageFailed",
           "layout", "reproduce", "run_stages"]
