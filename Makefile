# The two commands a newcomer needs: `make demo` and `make test`. Each bootstraps .venv by itself and
# reinstalls only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-full bench-steps bench-provisioning

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	ACTIVATION_ENV=demo $(BIN)/activation demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# The portal under gunicorn beside its floor (docs/benchmarks.md): PostgreSQL from
# ACTIVATION_TEST_POSTGRES_URL (a fresh database is created and dropped), a private redis-server.
BENCH_POSTGRES_URL ?= $(or $(ACTIVATION_TEST_POSTGRES_URL),postgresql://postgres@127.0.0.1:5432/test)

bench: $(STAMP)
	ACTIVATION_TEST_POSTGRES_URL=$(BENCH_POSTGRES_URL) $(BIN)/python bench/bench_burst.py $(ARGS)

bench-full: $(STAMP)
	ACTIVATION_TEST_POSTGRES_URL=$(BENCH_POSTGRES_URL) $(BIN)/python bench/bench_burst.py --full $(ARGS)

# Thread CPU per starter request, one at a time, in lockstep with ARGS="--baseline REV": small
# changes to hot paths (docs/benchmarks.md).
bench-steps: $(STAMP)
	ACTIVATION_TEST_POSTGRES_URL=$(BENCH_POSTGRES_URL) $(BIN)/python bench/bench_steps.py $(ARGS)

bench-provisioning: $(STAMP)
	$(BIN)/python bench/bench_validate_plan.py --write docs/benchmarks.md
	$(BIN)/python bench/bench_apply.py --write docs/benchmarks.md
