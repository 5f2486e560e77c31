# Plant-Vita: every target bootstraps .venv when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-install test-scale test-e2e lint bench venv clean firmware-test pi-check

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[hub,cloud,dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/plantvita demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not install and not scale" --ignore=tests/e2e

# The whole system across processes: the gardener's journeys, the fault garden (exactly-once
# under kills, flaps and outages), hostile input and generated API calls. A few minutes, so
# apart from `make test` (which stays under 15 minutes on 2 cores).
test-e2e: $(STAMP)
	$(BIN)/python -m pytest -m "not install and not scale" tests/e2e

# Tests on a database of a million rows or more (the online partition conversion under
# concurrent ingest): minutes, so apart from `make test`.
test-scale: $(STAMP)
	$(BIN)/python -m pytest -m scale

# `.[hub]` into a clean venv: `plantvita hub --help` and the hub's start-up without the cloud's
# dependencies (a few minutes: every hub wheel is installed afresh).
test-install: $(STAMP)
	$(BIN)/python -m pytest -m install

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Host build of the firmware's portable core: cmocka unit tests, golden vectors, RV32IMC compile.
# `make test` runs the same through tests/firmware/test_host_core.py. Override the vectors with
# PV_VECTORS_DIR=/path/to/shared/vectors.
FIRMWARE_HOST_BUILD := build/firmware-host
PV_VECTORS_DIR ?= $(CURDIR)/shared/vectors

firmware-test:
	cmake -S firmware/esp32-ble/host -B $(FIRMWARE_HOST_BUILD) -DPV_VECTORS_DIR=$(PV_VECTORS_DIR)
	cmake --build $(FIRMWARE_HOST_BUILD) -j2
	cd $(FIRMWARE_HOST_BUILD) && ctest --output-on-failure -j2

# The hub on an arm64 Debian bookworm root under qemu-user (root, debootstrap, qemu-user-static,
# binfmt-support; the root and the wheels are cached in /var/cache/plantvita/pi-check).
pi-check: $(STAMP)
	bash deploy/raspberrypi/pi-check.sh

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
