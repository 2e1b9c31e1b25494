# refvae: two commands on a fresh machine with Python 3.11 and make.
#   make demo   train a beta-TCVAE and a beta-VAE on procedural dSprites (the training recipe), report both
#   make test   the whole suite: unit tests (those that start Ray first), mypy, then every notebook in fast mode (nbval)
# `make notebooks` runs the course at full size (meant for a GPU runtime).
# `make site` builds the course as web pages (site/index.html); `make site-check` opens every
# page in headless Chromium and fails on a page that does not load, a missing image or a broken link.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORE   := $(VENV)/.installed-core

.PHONY: demo test unit notebooks course-times bench site site-check clean

# The demo needs refvae alone; the tests and notebooks add the extras.
$(CORE): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(CORE)

$(STAMP): $(CORE)
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,site,study]'
	@touch $(STAMP)

demo: $(CORE)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/refvae demo $(DEMO_ARGS)

# Two pytest workers (one per core of the reference machine); a notebook stays on one worker.
PYTEST_WORKERS ?= 2

# The tests that start Ray run first, alone: Ray's node agent must start within 15 s of its
# raylet (Ray's own limit), which a machine busy with other tests does not always allow.
test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest tests -p no:cacheprovider -m ray --durations=5
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest tests -p no:cacheprovider -m "not ray" -n $(PYTEST_WORKERS) --durations=15
	$(BIN)/python -m mypy refvae
	TF_CPP_MIN_LOG_LEVEL=3 REFVAE_FAST=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile --durations=0 notebooks/

# The unit tests without those marked slow (training runs, experiments, subprocesses that
# import TensorFlow): about a minute on 2 cores. `make test` runs them all.
unit: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest tests -p no:cacheprovider -m "not slow and not ray" --durations=5

notebooks: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 REFVAE_FULL=1 REFVAE_RECORD_TIMES=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=36000 -p no:cacheprovider --durations=0 notebooks/

# The fast-mode run times of every chapter, written into notebooks/README.md.
course-times: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 REFVAE_FAST=1 REFVAE_RECORD_TIMES=1 $(BIN)/python -m pytest --nbval-lax \
		--nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider notebooks/

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The course site: every chapter executed in fast mode (cached by content hash in build/site-cache).
SITE_STAMP := $(VENV)/.installed-site
$(SITE_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test,site,study]'
	@touch $(SITE_STAMP)

site: $(SITE_STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python tools/build_site.py

# Chromium and its driver from the system's packages (Debian: chromium, chromium-driver).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
site-check: $(SITE_STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	$(BIN)/python tools/check_site.py

clean:
	rm -rf $(VENV) build *.egg-info site
