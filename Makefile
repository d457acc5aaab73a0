# xfer-bench. Two commands set everything up on a fresh machine:
#   make bench-pong   (creates .venv if needed, then runs the Pong Soup suite)
#   make test         (creates .venv if needed, then runs the default tests)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYGLET_HEADLESS := true
export WANDB_MODE ?= offline
export WANDB_SILENT := true
BUDGET ?= laptop
OUT ?= results
# seeds per cell (empty: the budget's); e.g. make bench-pong SEEDS=3
SEEDS ?=
SEEDS_ARG := $(if $(SEEDS),--seeds $(SEEDS),)

.PHONY: setup system-deps browser-deps test test-slow test-all lint format perf bench-pong bench-atari \
	bench-labyrinth bench-catch sweep report clean-venv

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@test -x $(PY) || { command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# EGL/Mesa for headless MiniWorld rendering; installed with apt only when missing.
system-deps:
	@if ! ldconfig -p | grep -q 'libEGL.so.1' || ! ldconfig -p | grep -q 'libGL.so.1'; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq libegl1 libgl1 libgl1-mesa-dri libglu1-mesa; \
		else echo "warning: libEGL/libGL missing; install libegl1 libgl1 libgl1-mesa-dri for Labyrinth"; fi; \
	fi

test: setup
	$(PY) -m pytest -q -m "not slow and not gpu"

# Debian's Chromium for the report's headless-browser test (skipped without it).
browser-deps:
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } || \
		echo "warning: chromium missing; the browser test will be skipped"

test-slow: setup browser-deps
	$(PY) -m pytest -q -m "slow and not gpu" -s

test-all: setup
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

perf: setup
	$(PY) -m benchmarks.cli perf --json docs/performance.json

bench-pong: setup
	$(VENV)/bin/xfer bench pong-soup --budget $(BUDGET) --out $(OUT) $(SEEDS_ARG)

bench-atari: setup
	$(VENV)/bin/xfer bench atari --budget $(BUDGET) --out $(OUT) $(SEEDS_ARG)

bench-labyrinth: setup
	$(VENV)/bin/xfer bench labyrinth --budget $(BUDGET) --out $(OUT) $(SEEDS_ARG)

bench-catch: setup
	$(VENV)/bin/xfer bench catch-soup --budget $(BUDGET) --out $(OUT) $(SEEDS_ARG)

sweep: setup
	@test -n "$(SUITE)" || { echo "usage: make sweep SUITE=pong-soup BUDGET=gpu [RAY_ADDRESS=...]"; exit 2; }
	$(VENV)/bin/xfer plan $(SUITE) --budget $(BUDGET) $(SEEDS_ARG)
	$(VENV)/bin/xfer bench $(SUITE) --budget $(BUDGET) --out $(OUT) $(SEEDS_ARG)

report: setup
	$(VENV)/bin/xfer report $(OUT)

clean-venv:
	rm -rf $(VENV)
