# codenet-fpga: every target sets up what it needs itself.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CODENET := $(VENV)/bin/codenet
# finn-plus 1.6.1 pins brevitas==0.13.0 (broken on torch 2.13): install it without its pins, after
# the [dev] extra has installed its real requirements (see pyproject.toml)
NODEPS := finn-plus==1.6.1 hls4ml==1.3.0

DEMO_VENV := .venv-demo
# the board's side for the pynq backend tests: pynq 3.1.2 with its own pins (numpy<2: its PynqBuffer
# cannot be created under numpy 2) and the host package, as on the PYNQ-Z2 image
BOARD_VENV := .venv-board
# dev-only host test tools: finn-plus-driver's packing as the reference (--no-deps: it pins numpy<2,
# its packing module needs only numpy, bitstring and qonnx) and OpenCV for the video/camera path
HOST_DEV_NODEPS := finn-plus-driver==1.6.1
HOST_DEV := opencv-python-headless
ONE_CORE := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: help test test-all test-armhf demo bundle csim csim-network bench bench-armhf estimate overlay train ablation report info bench-board board clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(NODEPS)
	touch $@

$(VENV)/.host-dev: $(VENV)/.installed
	$(PY) -m pip install -q --no-deps $(HOST_DEV_NODEPS)
	$(PY) -m pip install -q $(HOST_DEV)
	touch $@

$(BOARD_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BOARD_VENV)
	$(BOARD_VENV)/bin/python -m pip install -q --upgrade pip
	$(BOARD_VENV)/bin/python -m pip install -q "numpy<2" pillow "pynq==3.1.2" "pycparser<3" pytest
	$(BOARD_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

test: $(VENV)/.installed $(VENV)/.host-dev $(BOARD_VENV)/.installed  ## the fast test suite (what CI runs)
	$(PY) -m pytest -q -m "not slow"

test-all: $(VENV)/.installed $(VENV)/.host-dev $(BOARD_VENV)/.installed  ## every test, slow ones included
	$(PY) -m pytest -q

test-armhf:  ## the host tests on Debian armhf Python + numpy under qemu-user (root: apt-get, debootstrap)
	tests/armhf/run.sh

# the demo needs the core only (numpy, pillow): what the board has
$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install -q -e .
	touch $@

demo: $(DEMO_VENV)/.installed  ## the shipped bundles on the sample images (bit-exact simulator): synthetic scenes, aerial tree crowns
	$(DEMO_VENV)/bin/codenet detect host/samples/*.jpg --out build/demo/synthetic
	$(DEMO_VENV)/bin/codenet detect host/samples/trees --bundle host/bundles/codenet-trees --tile --out build/demo/trees
	@echo "annotated images, detections.json and detections.csv in build/demo/synthetic and build/demo/trees"

# $(call export_bundle,NAME,MODEL,FOLDING): export MODEL, folded as FOLDING, into host/bundles/NAME
define export_bundle
	$(CODENET) export --model $(2) --out build/export-$(1) --folding $(3)
	rm -rf host/bundles/.$(1).new && mkdir -p host/bundles
	cp -r build/export-$(1)/bundle host/bundles/.$(1).new
	rm -rf host/bundles/$(1) && mv host/bundles/.$(1).new host/bundles/$(1)
endef

# each network folded by the search for itself at the board's 60 frames/s: overlay/folding.json is make
# estimate's (codenet-s), overlay/folding-trees.json the same search for the tree detector's network
bundle: $(VENV)/.installed  ## export the shipped models (codenet-s, trees), each at its folding (overlay/folding*.json), into their bundles
	$(call export_bundle,codenet-s,model/weights/codenet-s.pt,overlay/folding.json)
	$(call export_bundle,codenet-trees,model/weights/trees.pt,overlay/folding-trees.json)

csim: $(VENV)/.installed  ## the shipped network through the C-simulated HLS kernels vs the simulator
	$(PY) -m codenet.hls.csim --bundle host/bundles/codenet-s --images $(or $(N),4)

build/export-codenet-s/specialized.onnx: model/weights/codenet-s.pt overlay/folding.json | $(VENV)/.installed
	$(CODENET) export --model model/weights/codenet-s.pt --out build/export-codenet-s --folding overlay/folding.json

csim-network: build/export-codenet-s/specialized.onnx  ## codenet-s as one C-simulated program of its generated HLS tops: 20 images vs the simulator, frames/s -> build/csim-network.json
	$(PY) -m codenet.overlay.codegen.network --export build/export-codenet-s --images $(or $(N),20) --out build/csim-network.json

bench: $(VENV)/.installed  ## simulator frames/s vs onnxruntime, host costs -> build/bench.json
	$(ONE_CORE) $(PY) -m codenet.overlay.bench --out build/bench.json

bench-armhf: $(VENV)/.installed  ## instructions per frame of the host work on armhf (qemu plugin) -> build/armhf/host_insns.json
	tests/armhf/insns.sh

bench-board: $(BOARD_VENV)/.installed  ## pipelined vs plain frame loop on the simulated board (pynq 3.1.2) -> build/pipeline.json
	$(BOARD_VENV)/bin/python tests/host/bench_pipeline.py --out build/pipeline.json

# what goes onto the PYNQ-Z2 (README: "On the PYNQ-Z2"): our wheel, installed there with --no-deps into the
# image's own Python (it has numpy, Pillow and pynq), and a bundle: make overlay's, with its .bit/.hwh,
# when it exists, else the shipped one (the simulator's files only)
BOARD_BUNDLE = $(if $(wildcard build/overlay/bundle/codenet.bit),build/overlay/bundle,host/bundles/codenet-s)

board: $(VENV)/.installed  ## the board's files: the wheel + the bundle (.bit/.hwh after make overlay) -> build/board
	rm -rf build/board && mkdir -p build/board
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w build/board .
	cp -r $(BOARD_BUNDLE) build/board/bundle
	@test -f build/board/bundle/codenet.bit || echo "note: no bitstream yet: make overlay builds codenet.bit/.hwh into build/overlay/bundle (Vivado + Vitis HLS); then make board again"
	@echo "build/board: copy it to the board, then: sudo pip3 install --no-deps build/board/codenet_fpga-*.whl"

# the board config of make estimate and make overlay (BOARD=overlay/pynq-z2-150.yaml: 150 MHz, 100 frames/s);
# the tracked overlay/estimate.md is the default board's, another board's report stays in build/
BOARD ?= overlay/pynq-z2.yaml
BOARD_NAME := $(basename $(notdir $(BOARD)))
ESTIMATE_OUT := build/estimate$(if $(filter pynq-z2,$(BOARD_NAME)),,-$(BOARD_NAME))
ESTIMATE_DOCS := $(if $(filter pynq-z2,$(BOARD_NAME)),--report overlay/estimate.md --plot overlay/estimate.png)

estimate: $(VENV)/.installed  ## fold codenet-s for the board's target fps, estimate LUT/BRAM/DSP/fps -> overlay/estimate.md
	$(PY) -m codenet.overlay.estimate --board $(BOARD) --out $(ESTIMATE_OUT) $(ESTIMATE_DOCS)

overlay: $(VENV)/.installed  ## the FINN build to .bit/.hwh in build/overlay/bundle (needs Vivado + Vitis HLS)
	$(PY) -m codenet.overlay.flow.bitstream --board $(BOARD) --out build/overlay$(if $(filter pynq-z2,$(BOARD_NAME)),,-$(BOARD_NAME))

# the float model QAT starts from ships too (CODENET_S_FLOAT), as the tree detector's does: PTQ starts from it
CODENET_S_FLOAT := model/weights/codenet-s-float.pt
train: $(VENV)/.installed  ## train the default model (codenet-s) and install it as the shipped one
	$(CODENET) train --config codenet-s --out runs/codenet-s $(if $(wildcard runs/codenet-s/checkpoint.pt),--resume)
	cp runs/codenet-s/model.pt model/weights/codenet-s.pt
	cp runs/codenet-s/float.pt $(CODENET_S_FLOAT)

# the trees data set: NEON aerial images with VOC boxes in the deepforest wheel's data folder (MIT),
# read from the wheel as a zip; the package itself is never installed or imported
DEEPFOREST := deepforest==2.1.0
DEEPFOREST_WHEEL := build/deepforest/deepforest-2.1.0-py3-none-any.whl
.PHONY: trees-data train-trees ptq-trees ptq-synthetic

$(DEEPFOREST_WHEEL): | $(VENV)/.installed
	$(PY) -m pip download -q --no-deps $(DEEPFOREST) -d build/deepforest

trees-data: $(DEEPFOREST_WHEEL)  ## download the deepforest wheel (the trees data set) into build/deepforest

# 300 float epochs, then QAT distilled from the float model (model/configs/trees.yaml). The float model QAT
# starts from ships too (TREES_FLOAT): PTQ, pruning and the ablation's backbone start from it without the
# float stage's hour
TREES_FLOAT := model/weights/trees-float.pt
train-trees: $(VENV)/.installed $(DEEPFOREST_WHEEL)  ## train the tree-crown detector (about an hour, niced) into model/weights/trees.pt
	nice -n 10 $(CODENET) train --config trees --out runs/trees $(if $(wildcard runs/trees/checkpoint.pt),--resume)
	cp runs/trees/model.pt model/weights/trees.pt
	cp runs/trees/float.pt $(TREES_FLOAT)

# QAT alone, from a shipped float start into the shipped W4A8 file: how both shipped models were made
# (a QAT-only run draws its epochs' batches as epochs 0, 1, ...; make train and make train-trees draw them
# after the float epochs, so their W4A8 file is another draw of the same recipe); one thread, as the
# shipped runs took (thread counts may change the float rounding)
# $(call qat_from_float,CONFIG,FLOAT,MODEL): QAT of CONFIG from FLOAT in runs/CONFIG-qat (resumed if
# begun), installed as MODEL
define qat_from_float
	$(CODENET) train --config $(1) --init-from $(2) --float-epochs 0 --threads 1 --out runs/$(1)-qat \
		$(if $(wildcard runs/$(1)-qat/checkpoint.pt),--resume)
	cp runs/$(1)-qat/model.pt $(3)
endef

.PHONY: qat qat-trees
qat: $(VENV)/.installed  ## QAT of codenet-s from its shipped float start into model/weights/codenet-s.pt (about 35 min)
	$(call qat_from_float,codenet-s,$(CODENET_S_FLOAT),model/weights/codenet-s.pt)

qat-trees: $(VENV)/.installed $(DEEPFOREST_WHEEL)  ## QAT of the tree detector from its shipped float start into model/weights/trees.pt (about 10 min)
	$(call qat_from_float,trees,$(TREES_FLOAT),model/weights/trees.pt)

ablation: $(VENV)/.installed  ## deformable variants x 3 seeds on trees and synthetic, distillation (about 90 min, niced) -> runs/ablation
	nice -n 10 $(PY) -m codenet.model.ablation --seeds 0 1 2 --jobs 2 --out runs/ablation --report runs/ablation/ablation.md

ptq-trees: $(VENV)/.installed $(DEEPFOREST_WHEEL)  ## float vs PTQ vs QAT of the tree detector -> build/ptq-trees
	$(PY) -m codenet.model.ptq --float $(TREES_FLOAT) --qat model/weights/trees.pt --data trees \
		--splits val,test,cross-site --out build/ptq-trees

# hardware-aware channel pruning of the tree detector (from its shipped float model): the greedy search to 1.5 x the
# board's frame rate on the unpruned network's LUT and BRAM, the widest uniform narrowing within the same
# budget, both fine-tuned alike (30 float + 5 QAT epochs, distilled from the unpruned float model), the plot
PRUNE := $(ONE_CORE) nice -n 10 $(PY) -m codenet.model.prune
PRUNE_OUT := build/prune-trees
.PHONY: prune-trees
prune-trees: $(VENV)/.installed $(DEEPFOREST_WHEEL)  ## prune the tree detector against the estimate vs uniform narrowing (about 1.5 h, niced) -> build/prune-trees
	$(PRUNE) search --model $(TREES_FLOAT) --data trees --out $(PRUNE_OUT)
	$(PRUNE) uniform --model $(TREES_FLOAT) --out $(PRUNE_OUT)
	$(PRUNE) uniform --model $(TREES_FLOAT) --alpha 0.85 --name codenet-trees-uniform-85 --out $(PRUNE_OUT)
	$(foreach v,pruned uniform uniform-85,$(PRUNE) finetune --config $(PRUNE_OUT)/codenet-trees-$(v).yaml \
		--teacher $(TREES_FLOAT) --out runs/trees-$(v) $(if $(wildcard runs/trees-$(v)/checkpoint.pt),--resume) &&) true
	$(PRUNE) mixed --model runs/trees-pruned/float.pt --config trees-pruned-mixed --out runs/trees-pruned-mixed
	$(PRUNE) pareto --search $(PRUNE_OUT)/search.json --design shipped=runs/trees:shipped \
		--design pruned=runs/trees-pruned:pruned --design uniform=runs/trees-uniform:uniform \
		--design "uniform x0.85=runs/trees-uniform-85:uniform-wide" \
		--design "pruned + mixed W (PTQ, no QAT)=runs/trees-pruned-mixed:pruned-mixed" --out $(PRUNE_OUT)
	cp runs/trees-pruned/model.pt model/weights/trees-pruned.pt

ptq-synthetic: $(VENV)/.installed  ## float vs PTQ vs QAT of codenet-s, from the shipped codenet-s-float.pt -> build/ptq-synthetic
	$(PY) -m codenet.model.ptq --float $(CODENET_S_FLOAT) --qat model/weights/codenet-s.pt --data synthetic \
		--splits val,test --out build/ptq-synthetic

.PHONY: eval-shift
eval-shift: $(VENV)/.installed  ## codenet-s on 300 scenes each of the second generator (handwritten, printed digits) and of its own test split -> build/eval-shift
	$(CODENET) eval --model model/weights/codenet-s.pt --data synthetic --out build/eval-shift/synthetic
	$(CODENET) eval --model model/weights/codenet-s.pt --data synthetic-shift --out build/eval-shift/handwritten
	$(CODENET) eval --model model/weights/codenet-s.pt --data synthetic-shift:printed --out build/eval-shift/printed

report: $(VENV)/.installed  ## model/results.md from runs/codenet-s, runs/trees, build/ptq-trees and runs/ablation
	$(PY) -m codenet.model.report --run runs/codenet-s --ablation runs/ablation --out model/results.md

info: $(VENV)/.installed  ## parameters, MACs and weight bytes of codenet-s
	$(CODENET) info --config codenet-s

clean:  ## remove build outputs, runs, .venv-demo and .venv-board (keeps .venv)
	rm -rf build runs .pytest_cache $(DEMO_VENV) $(BOARD_VENV)
