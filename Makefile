PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint datasets reproduce bench clean

install: $(STAMP)

# Re-install only when the project files or the compiled sources change.
$(STAMP): pyproject.toml setup.py linfit/data/_csvscan.c linfit/data/_libsvmscan.c \
		linfit/data/_decimal.h linfit/fitting/_dualcd.c linfit/fitting/_wwdual.c \
		linfit/fitting/_dual.h linfit/linalg/_sparse.c linfit/models/_rowpass.c \
		linfit/optim/_adagrad.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[dev,plot,parquet,dask]"
	touch $@

demo: $(STAMP) datasets/iris.csv
	$(BIN)/linfit train --model softmax datasets/iris.csv --out demo.linfit

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

# Every published result: results/reproduce.md, .json and plots/ (about a minute).
reproduce: $(STAMP)
	$(BIN)/linfit reproduce --out results

# Speed against scikit-learn, LIBLINEAR, Vowpal Wabbit, numpy, pandas, pyarrow and polars:
# results/bench.md and .json (minutes; installs the bench extra).
bench: $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m bench --out results

datasets: $(STAMP)
	$(BIN)/python scripts/make_datasets.py

# Built only when missing; `make datasets` always rewrites all five.
datasets/iris.csv: | $(STAMP)
	$(BIN)/python scripts/make_datasets.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
