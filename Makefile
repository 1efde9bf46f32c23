# The two commands of README.md: `make run` (the main job) and `make test` (the test suite).
# Each creates .venv when missing and (re)installs the project with its dev extra when
# pyproject.toml or the set of module files changed.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# The strict editable install links each module file: a new module needs a reinstall.
MODULES := $(sort $(wildcard evo/*.py evo/*/*.py kernels/*.py surrogate/*.py archive/*.py))
ifneq ($(shell cat $(STAMP) 2>/dev/null),$(MODULES))
.PHONY: $(STAMP)
endif

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip setuptools wheel
	$(VENV)/bin/python -m pip install -e '.[dev]' --config-settings editable_mode=strict
	echo "$(MODULES)" > $(STAMP)

# The default campaign on digits (4 to 10 minutes on 2 CPU cores, by CPU); results in runs/digits-default.
run: $(STAMP)
	$(VENV)/bin/nasco run

# Two test processes (pytest-xdist), a file each at a time: every test trains with one torch thread, so
# two fill a 2-core CI machine (774 s -> 531 s for the whole suite on one; module fixtures stay per file).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 $(VENV)/bin/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do \
		PYTHONSAFEPATH=1 $(VENV)/bin/python $$b | tee benchmarks/results/$$(basename $$b .py).txt; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
