# shallowdof: the README's commands. Each target sets up .venv first if it is missing or stale.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs its test files on every core (pytest-xdist), a file's tests on one worker so that
# the module fixtures (trained runs, the README's path) are made once; PYTEST_JOBS=0 runs it serially.
PYTEST_JOBS ?= auto
# Sleep, do not spin, while OpenMP threads wait: on shared or virtualised CPUs (this project's CI
# machine among them) spinning made a 2-thread convolution 30x slower than one thread.
export OMP_WAIT_POLICY ?= PASSIVE

PAPER_OUT  ?= paper_out
PAPER_ARGS ?=

.PHONY: demo test bench paper clean-venv

$(STAMP): setup.py Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 'setuptools<81' wheel
	$(BIN)/pip install -q -e '.[test,browser,lpips,app,onnx]'
	# visdom 0.2.4 builds with pkg_resources, so it needs the venv's setuptools<81.
	$(BIN)/pip install -q --no-build-isolation 'visdom==0.2.4'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --out demo_out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python scripts/benchmark.py --out bench/BENCHMARKS.md

# Nasrullah 2018 end to end, resumable (README, "Reproduce the paper"): needs FLICKR_API_KEY and a
# GPU; PAPER_ARGS="--scale tiny --fake-flickr" runs the same stages in a minute, offline.
paper: $(STAMP)
	$(BIN)/python scripts/reproduce_paper.py --out $(PAPER_OUT) $(PAPER_ARGS)

clean-venv:
	rm -rf $(VENV)
