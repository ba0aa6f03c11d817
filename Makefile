# Fresh-machine entry points. `make demo`: install + the main job on the embedded default dataset.
# `make test`: install (with the dev extra) + the test suite. Both create ./.venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build first so that no resolver pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# The NIR consumers the export's tests run the exported file in (docs/hardware.md). --no-deps: what they import
# comes with torch and the nir extra; norse also declares torchvision, which its NIR import never loads and whose
# resolution could replace the pinned CPU torch.
NIR_CONSUMERS ?= snntorch==1.0.0 norse==1.1.0 nirtorch==2.6

.PHONY: demo test lint install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev,nir]"
	$(BIN)/python -m pip install -q --no-deps $(NIR_CONSUMERS)
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python -m paper_figures.reproduce --quick --out runs/demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
