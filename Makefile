# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# stamps: pip runs again only when a requirements file changed
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
EXPORT := $(VENV)/.installed-export
RAY := $(VENV)/.installed-ray
DATASET ?= ml-100k

.PHONY: venv data build run test test-fast lint format bench clean

venv: $(RUNTIME)

$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	touch $@

# optional extras the tests cover (export to MLflow / TensorBoard); `make run` never needs them
$(EXPORT): $(RUNTIME) requirements-export.txt
	$(PIP) -r requirements-export.txt
	touch $@

# optional: sweeps on a Ray cluster (the tests start a two-node cluster on this machine)
$(RAY): $(RUNTIME) requirements-ray.txt
	$(PIP) -r requirements-ray.txt
	touch $@

data: $(RUNTIME)
	$(PY) -m recsys_core data fetch $(DATASET)

build: data
	$(PY) -m recsys_core build --dataset $(DATASET)

# the first page comes up as soon as the data is there; the app builds the models in the background
run: data
	$(BIN)/streamlit run app.py

# everything (CI): real browser, several processes, long trainings included
test: $(DEV) $(EXPORT) $(RAY) data lint
	$(PY) -m pytest -q

# the suite people run often: everything not marked slow, two test workers (pytest-xdist) of
# one torch thread each: about 50 s on 2 idle cores, 73 s beside a busy core (75 s / 82 s serial)
test-fast: $(DEV) $(EXPORT) $(RAY) data
	$(PY) -m pytest -q -m "not slow" -n 2

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV) build
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
