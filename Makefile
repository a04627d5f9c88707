# TokoFlow developer commands. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROLE ?= customer

.PHONY: run test unit functional e2e lint bench token import-catalog pay pack ship outbox clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"
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

# The running local stack (make run), as the tools below see it.
LOCAL_AWS = AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:$(or $(MOTO_PORT),4566)} \
	TOKOFLOW_PREFIX=$${TOKOFLOW_PREFIX:-tokoflow-local} AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-3} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing}
LOCAL_API = --api http://127.0.0.1:$(or $(API_PORT),8000) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

## import-catalog: bulk-import a CSV catalog into the running stack, e.g. make import-catalog CSV=catalog.csv
import-catalog: $(STAMP)
	$(LOCAL_AWS) $(PY) -m tools.cli import-catalog $(CSV)

## pay: the sandbox gateway pays an order and notifies the shop: make pay ORDER=TK-... [OUTCOME=expire|deny|failure] [AMOUNT=n]
pay: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli pay $(ORDER) --outcome $(or $(OUTCOME),settlement) $(if $(AMOUNT),--amount $(AMOUNT)) $(LOCAL_API)

## pack: staff mark an order packed: make pack ORDER=TK-...
pack: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli pack $(ORDER) $(LOCAL_API)

## ship: the sandbox courier reports on a shipment: make ship ORDER=TK-... [STATUS=picked] (default: the whole journey)
ship: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli courier $(ORDER) $(if $(STATUS),--status $(STATUS)) $(LOCAL_API)

## outbox: the notifications customers received: make outbox [ORDER=TK-...]
outbox: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli outbox $(if $(ORDER),--order $(ORDER))

clean:
	rm -rf $(VENV) chalice.out cdk.out .pytest_cache .ruff_cache
