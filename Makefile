# Two commands do everything on a fresh clone: `make demo` (the main job) and `make test`.
# Both bootstrap uv if it is missing and build the Rust extension as part of `uv sync`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
SHARED := $(abspath ../shared)
export UV_PYTHON_DOWNLOADS := never
export TIKTOKEN_CACHE_DIR ?= $(if $(wildcard $(SHARED)/tiktoken-cache),$(SHARED)/tiktoken-cache,)

.PHONY: setup demo test test-all test-rust lint format bench bench-bpe clean

.uv/bin/uv:
	python3 -m venv .uv && .uv/bin/pip install --quiet uv

setup: $(if $(findstring .uv/bin/uv,$(UV)),.uv/bin/uv,)
	$(UV) sync --all-packages --quiet

demo: setup  ## raw text -> BPE tokenizer -> shards -> a trained rope GPT-2 that writes (runs/demo/summary.md)
	$(UV) run --no-sync python gpt-2/demo.py --out runs/demo

test-rust:
	cargo test --quiet --manifest-path bpe-rs/Cargo.toml

lint: setup  ## ruff: lint and formatting check (`make format` applies the formatting)
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

format: setup
	$(UV) run --no-sync ruff check --fix .
	$(UV) run --no-sync ruff format .

# pytest runs one worker per core, at most 4 (each imports torch); a test file stays on one worker, so its module
# fixtures are made once. On 2 cores: 419 s instead of ~640 s. `PYTEST_WORKERS=` runs it in one process.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

test: setup lint test-rust  ## the whole suite: lint, Rust unit tests, then pytest (slow tests excluded)
	$(UV) run --no-sync pytest -m "not slow" $(PYTEST_WORKERS)

test-all: setup lint test-rust
	$(UV) run --no-sync pytest $(PYTEST_WORKERS)

bench-bpe: setup  ## every bpe table of the READMEs from one run (~40 min on 2 cores): runs/bench/bpe-report-COMMIT.md
	$(UV) run --no-sync python bench/bpe_all.py

bench: bench-bpe  ## every benchmark: bench-bpe (~40 min on 2 cores), then the gpt2 data and model ones
	$(UV) run --no-sync python bench/gpt2_data.py
	$(UV) run --no-sync python bench/gpt2_model.py

clean:
	rm -rf .venv .uv bpe-rs/target runs
