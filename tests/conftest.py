"""Shared pytest set-up: repeatable, single-threaded torch and no global state leaking between tests."""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see the Makefile: spinning threads crawl here
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.support.browser import browser  # noqa: E402,F401  (the headless Chromium fixture, for every folder)


@pytest.fixture(autouse=True)
def torch_global_state():
    """One intra-op thread for every test (the networks under test are tiny: threads gain little
    and spinning OpenMP threads crawl on a shared CPU; one thread also gives the same arithmetic,
    so the same training trajectory, on any core count). Restores the thread count and the
    deterministic-algorithms flag, which an in-process ``train(deterministic=True)`` sets."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
