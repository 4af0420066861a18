"""CycleGAN training: run directory, exact resume, schedule, AMP, DDP, displays.

One ``TrainConfig`` (built from argparse, saved as ``runs/NAME/config.json``) drives
``train(cfg)``. Batches hold GAN tensors N×3×H×W in [-1, 1] and masks N×1×H×W in [0, 1]
(see ``datasets.unaligned``). The run directory holds:

- ``config.json``: the TrainConfig; ``--config runs/NAME/config.json`` reproduces the run.
- ``log.jsonl``: every ``log_every`` iterations one flat JSON object: the mean of every loss
  over the window and over all processes (keys = the model's loss names) and
  ``gan.runlog.LOG_STAT_KEYS``: epoch, iter (= step, counted over the run), progress (fractional
  epoch), lr, it/s, data time per iteration, sec/kimg (StyleGAN2-ADA's speed unit), peak memory
  (CUDA allocator or process RSS).
- ``checkpoints/ckpt_ITER.pt``: everything needed to continue exactly (networks, optimisers,
  gradient scaler, image pools, LR schedulers, epoch, position in the epoch, RNG states; under
  DDP the pools and RNG states of every process); written atomically with a checked format
  tag by ``gan.checkpoint``, the last ``keep_last`` kept, loadable with ``torch.load(weights_only=True)``.
- ``loss_curves.png`` and ``web/index.html`` (recent samples); live plots with ``--display visdom``.

Exact resume: the order of an epoch's samples comes from a ``DistributedSampler`` seeded by
``seed`` and the epoch; each sample's own randomness (random crop, flip, the unpaired B image) is
a function of (seed, epoch, index) in ``UnalignedDataset``, whatever the worker process; the
DataLoader draws from its own generator, never the global one. So a checkpoint taken after any
iteration, mid-epoch included, resumes to the very same batches and, on the CPU with
``deterministic``, the very same weights.

The package by job: :mod:`.config` (TrainConfig), :mod:`.loop` (train, the Trainer, the
schedule), :mod:`.snapshot` (what a checkpoint of a run holds, resuming from one), :mod:`.distributed` (DDP), :mod:`.rng` (random states) and
:mod:`.device` (device, determinism, torch.compile modes). The program, train_cyclegan (parser,
``--config``, main), is :mod:`gan.cli.train_cyclegan`.
"""
from gan.checkpoint import CheckpointError, checkpoint_iteration, checkpoint_path, list_checkpoints

from .config import TrainConfig, load_config
from .device import COMPILE_MODES, compile_network, replays_cuda_graphs
from .distributed import world_size_change
from .loop import NonFiniteLossError, TrainResult, build_dataset, make_schedulers, train

__all__ = ["COMPILE_MODES", "CheckpointError", "NonFiniteLossError", "TrainConfig", "TrainResult", "build_dataset",
           "checkpoint_iteration", "checkpoint_path", "compile_network", "list_checkpoints", "load_config",
           "make_schedulers", "replays_cuda_graphs", "train", "world_size_change"]
