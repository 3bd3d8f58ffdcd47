# training-impact: every target creates .venv itself on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data
EMPLOYEES ?= 2000
YEARS ?= 3
SEED ?= 42
SCALE ?= 100000
# The demo company arrives in five different vendor formats (docs/mappings.md).
FORMATS ?= workday,cornerstone,xapi_json,qualtrics_legacy,generic_xlsx:finance

# demo, dev, report and bench run on generated data with the published development key
# (SECURITY.md); a production deployment sets TI_PSEUDONYM_KEY(_FILE) and leaves TI_ENV unset.
DEV_ENV := TI_ENV=$${TI_ENV:-development}

export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.PHONY: venv demo test test-unit test-slow test-faults test-spark dev bench report clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/training-impact prepare  # the dbt manifest the Dagster definitions read (DECISIONS D106)
	touch $(STAMP)

demo: venv
	$(DEV_ENV) $(BIN)/training-impact demo --employees $(EMPLOYEES) --years $(YEARS) --seed $(SEED) --data $(DATA) --formats $(FORMATS)

# tests/unit: no real pipeline run (about 90 s on 2 cores); tests/integration: the real pipeline (Dagster + dbt + GX).
# Two workers; --dist loadgroup keeps each shared pipeline run on one worker (xdist_group, tests/conftest.py).
test-unit: venv
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup tests/unit

test: venv
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup tests/unit tests/integration

test-slow: venv
	$(BIN)/python -m pytest -q -m slow

# kill -9 of real runs at each stage, two triggers at once, a full disk (tmpfs; needs root) — tests/faults
test-faults: venv
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m faults tests/faults

# The Spark engine (issue 18, docs/scale-out.md) lives in its own environment, .venv-spark: pyspark
# beside Great Expectations makes GX import Spark at start-up (slower, and pytest-xdist's workers exit
# on pyspark's doctest guard), so the DuckDB suites never see it. pyspark 4.3.0 builds from source
# (about 7 minutes the first time; pip caches the wheel). Java 17 comes from scripts/install_java.sh.
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed

$(SPARK_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	bash scripts/install_java.sh
	test -d $(SPARK_VENV) || $(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet --upgrade pip
	$(SPARK_VENV)/bin/pip install --quiet -e '.[dev,spark]'
	$(SPARK_VENV)/bin/training-impact prepare
	touch $(SPARK_STAMP)

# A small company through `training-impact run` on DuckDB and on local Spark: every kpi_* mart equal;
# the silent traps (quoting, regex escapes, redaction) and the privacy functions on Spark (tests/spark).
test-spark: $(SPARK_STAMP)
	$(SPARK_VENV)/bin/python -m pytest -q -p no:xdist -m spark tests/spark

dev: venv
	$(DEV_ENV) $(BIN)/training-impact dev --data $(DATA)

report: venv
	$(DEV_ENV) $(BIN)/training-impact report --data $(DATA) --screenshot $(DATA)/reports/kpi_report.png

bench: venv
	$(DEV_ENV) $(BIN)/python -m training_impact.benchmarks.run --scale $(SCALE)

clean:
	rm -rf $(DATA) .dagster_home dbt_project/target dbt_project/logs spark-warehouse metastore_db
