"""Training shared by ``scripts/train_segmentation.py`` and ``scripts/train_depth.py``.

A run directory holds ``config.json`` (the run's dataclass, enough to reproduce or resume it),
``log.jsonl`` (one line per epoch: losses, validation metrics, learning rate, images/s) and
``checkpoints/{last,best}.pt``, written and read by :mod:`segdepth.checkpoint` (atomic, plain
containers and tensors for ``torch.load(weights_only=True)``, a checked format tag); a
checkpoint is also a valid ``weights=PATH`` for the segmenter / depth registries (``arch`` +
``arch_kwargs`` + ``model``). Adam or SGD with momentum; ReduceLROnPlateau on the monitored
validation metric (segmentation: IoU, depth: AbsRel); early stopping after ``patience`` epochs
without improvement. Every random draw is a function of (seed, epoch), so ``resume`` continues
exactly where the run stopped.

The package by job: :mod:`.config` (the options dataclasses), :mod:`.tasks` (segmentation and
depth: data, model, loss), :mod:`.loop` (:func:`fit`), :mod:`.evaluate` (validation measures,
``--evaluate``) and :mod:`.program` (the parser and :func:`main` of both training programs).
"""
from .program import build_parser, main, parse_args
from .config import DepthTrainConfig, SegTrainConfig, TrainConfig, load_run_config
from .evaluate import evaluate_checkpoint, evaluate_depth, evaluate_segmentation
from .loop import fit

__all__ = ["DepthTrainConfig", "SegTrainConfig", "TrainConfig", "build_parser", "evaluate_checkpoint",
           "evaluate_depth", "evaluate_segmentation", "fit", "load_run_config", "main", "parse_args"]
