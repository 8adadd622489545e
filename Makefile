# codenet-fpga: every target sets up what it needs itself.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CODENET := $(VENV)/bin/codenet
# finn-plus 1.6.1 pins brevitas==0.13.0 (broken on torch 2.13): install it without its pins, after
# the [dev] extra has installed its real requirements (see pyproject.toml)
NODEPS := finn-plus==1.6.1 hls4ml==1.3.0

.PHONY: help test test-all demo train ablation info clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(NODEPS)
	touch $@

test: $(VENV)/.installed  ## the fast test suite (what CI runs)
	$(PY) -m pytest -q -m "not slow"

test-all: $(VENV)/.installed  ## every test, slow ones included
	$(PY) -m pytest -q

demo: $(VENV)/.installed  ## detect objects in the shipped sample images with the shipped model
	$(CODENET) detect host/samples --out build/demo
	@echo "annotated images and detections.json in build/demo/"

train: $(VENV)/.installed  ## train the default model (codenet-s) and install it as the shipped one
	$(CODENET) train --config codenet-s --out runs/codenet-s $(if $(wildcard runs/codenet-s/checkpoint.pt),--resume)
	cp runs/codenet-s/model.pt model/weights/codenet-s.pt

ablation: $(VENV)/.installed  ## deformable variants and float vs W4A8, same budget -> model/results.md
	$(PY) -m codenet.model.ablation --out runs/ablation --report model/results.md

info: $(VENV)/.installed  ## parameters, MACs and weight bytes of codenet-s
	$(CODENET) info --config codenet-s

clean:  ## remove build outputs and runs (keeps the virtual environment)
	rm -rf build runs .pytest_cache
