# TokoFlow developer commands. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROLE ?= customer

.PHONY: run test unit functional e2e lint bench token import-catalog clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## run: the whole store locally (moto on 127.0.0.1:4566, API on http://127.0.0.1:8000); Ctrl-C stops it
run: $(STAMP)
	$(PY) -m local.stack --moto-port $(or $(MOTO_PORT),4566) --api-port $(or $(API_PORT),8000)

## test: lint, unit, functional and end-to-end tests (what CI runs)
test: $(STAMP) lint
	$(PY) -m pytest -q tests/unit tests/functional
	$(PY) -m pytest -q tests/e2e

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

functional: $(STAMP)
	$(PY) -m pytest -q tests/functional

e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## bench: cold import cost and AWS requests per operation
bench: $(STAMP)
	$(PY) -m bench.run

## token: a development JWT, e.g. make token ROLE=staff
token: $(STAMP)
	@$(PY) -m tools.cli token --role $(ROLE)

## import-catalog: bulk-import a CSV catalog into the running stack, e.g. make import-catalog CSV=catalog.csv
import-catalog: $(STAMP)
	AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:$(or $(MOTO_PORT),4566)} TOKOFLOW_PREFIX=$${TOKOFLOW_PREFIX:-tokoflow-local} \
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-3} AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} \
	AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing} $(PY) -m tools.cli import-catalog $(CSV)

clean:
	rm -rf $(VENV) chalice.out cdk.out .pytest_cache .ruff_cache
