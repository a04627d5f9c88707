# TokoFlow developer commands. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROLE ?= customer

.PHONY: run test unit functional e2e lint bench token import-catalog reindex-catalog relist-vouchers pay pack ship payout \
	outbox clean return return-approve return-reject return-send return-receive returns report points-due payment-fault

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## run: the whole store locally (moto on 127.0.0.1:4566, API on http://127.0.0.1:8000); Ctrl-C stops it
run: $(STAMP)
	$(PY) -m local.stack --moto-port $(or $(MOTO_PORT),4566) --api-port $(or $(API_PORT),8000)

## test: lint, unit, functional and end-to-end tests (what CI runs), plus synth, lint-infra and infra-test
# Unit and functional tests run in random order (pytest-randomly prints the seed to replay a run) on every core
# (pytest-xdist: each worker has its own in-process moto); the e2e tests share one local stack, in one process.
test: $(STAMP) lint synth lint-infra infra-test
	$(PY) -m pytest -q -n auto tests/unit tests/functional
	$(PY) -m pytest -q tests/e2e

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

functional: $(STAMP)
	$(PY) -m pytest -q -n auto tests/functional

e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

## lint: ruff, the area boundaries (import-linter contracts in pyproject.toml, see ARCHITECTURE.md) and mypy
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

## bench: cold import, AWS requests per operation, cost per order and return, report builds, Lambda zip size, load, catalog
# The catalog section generates 1,000, 10,000 and 50,000 products: TOKOFLOW_BENCH_CATALOG_SIZES=1000 for a quick run.
bench: $(STAMP)
	$(PY) -m bench.run

## token: a development JWT, e.g. make token ROLE=staff
token: $(STAMP)
	@$(PY) -m tools.cli token --role $(ROLE) $(if $(SUB),--sub $(SUB))

# The running local stack (make run), as the tools below see it.
LOCAL_AWS = AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:$(or $(MOTO_PORT),4566)} \
	TOKOFLOW_PREFIX=$${TOKOFLOW_PREFIX:-tokoflow-local} AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-3} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing}
LOCAL_API = --api http://127.0.0.1:$(or $(API_PORT),8000) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

## import-catalog: bulk-import a CSV catalog into the running stack, e.g. make import-catalog CSV=catalog.csv
import-catalog: $(STAMP)
	$(LOCAL_AWS) $(PY) -m tools.cli import-catalog $(CSV)

## reindex-catalog: rebuild the search index and category counts from every product in the running stack
reindex-catalog: $(STAMP)
	$(LOCAL_AWS) $(PY) -m tools.cli reindex-catalog

## relist-vouchers: list the vouchers created before the staff voucher list was paged (once; again changes nothing)
relist-vouchers: $(STAMP)
	$(LOCAL_AWS) $(PY) -m tools.cli relist-vouchers

## pay: the sandbox gateway pays an order and notifies the shop: make pay ORDER=TK-... [OUTCOME=expire|deny|failure] [AMOUNT=n]
pay: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli pay $(ORDER) --outcome $(or $(OUTCOME),settlement) $(if $(AMOUNT),--amount $(AMOUNT)) $(LOCAL_API)

## pack: staff mark an order packed: make pack ORDER=TK-...
pack: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli pack $(ORDER) $(LOCAL_API)

## ship: the sandbox courier reports on a shipment: make ship ORDER=TK-... [STATUS=picked] (default: the whole journey)
ship: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli courier $(ORDER) $(if $(STATUS),--status $(STATUS)) $(LOCAL_API)

## payout: pay back a refund the gateway cannot make (customer's account, then finance): make payout ORDER=TK-...
payout: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli payout $(ORDER) $(LOCAL_API)

## return: the customer asks to return a delivered order: make return ORDER=TK-... [SKU=... QTY=1 REASON=damaged]
return: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli return-request $(ORDER) $(if $(SKU),--sku $(SKU)) $(if $(QTY),--quantity $(QTY)) $(if $(REASON),--reason $(REASON)) $(LOCAL_API)

## return-approve: staff approve a return: make return-approve RETURN=TK-...-R1 [REFUND_ONLY=1]
return-approve: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli return-approve $(RETURN) $(if $(REFUND_ONLY),--refund-only) $(LOCAL_API)

## return-reject: staff reject a return: make return-reject RETURN=TK-...-R1 REASON="..."
return-reject: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli return-approve $(RETURN) --reject "$(or $(REASON),tidak memenuhi syarat retur)" $(LOCAL_API)

## return-send: the customer sends the parcel back (waybill), or PICKUP=1 staff book a pickup: make return-send RETURN=...
return-send: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli return-send $(RETURN) $(if $(WAYBILL),--waybill $(WAYBILL)) $(if $(PICKUP),--pickup) $(LOCAL_API)

## return-receive: staff receive and inspect the parcel: make return-receive RETURN=... [WRITE_OFF=1]
return-receive: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli return-receive $(RETURN) $(if $(WRITE_OFF),--write-off $(WRITE_OFF)) $(LOCAL_API)

## returns: an order's returns, their steps and refunds: make returns ORDER=TK-...
returns: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli returns $(ORDER) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

## report: finance builds a sales report and downloads it (SHA-256 checked): make report [FROM=2026-12-01 TO=2026-12-01] [OUT=laporan]
report: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli report $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) $(if $(OUT),--out $(OUT)) $(LOCAL_API)

## payment-fault: the sandbox gateway misbehaves on demand: make payment-fault FAULT=charge:timeout_after [TIMES=1]
payment-fault: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli payment-fault $(FAULT) $(if $(TIMES),--times $(TIMES)) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

## courier-fault: the sandbox courier misbehaves on demand: make courier-fault FAULT=timeout_after_booking [TIMES=1] [ORDER=TK-...] [STATUS=delivered]
courier-fault: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli courier-fault $(FAULT) $(if $(TIMES),--times $(TIMES)) $(if $(ORDER),--order $(ORDER)) $(if $(STATUS),--status $(STATUS)) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

## poll-shipments: ask the courier about parcels without news, as the hourly schedule does: make poll-shipments [HOURS=0]
poll-shipments: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli poll-shipments $(if $(HOURS),--hours $(HOURS)) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

.PHONY: courier-fault poll-shipments

## points-due: credit loyalty points as if the return window had closed: make points-due [DAYS=8]
points-due: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli points-due $(if $(DAYS),--days $(DAYS)) --moto http://127.0.0.1:$(or $(MOTO_PORT),4566)

## outbox: the notifications customers received: make outbox [ORDER=TK-...]
outbox: $(STAMP)
	@$(LOCAL_AWS) $(PY) -m tools.cli outbox $(if $(ORDER),--order $(ORDER))

clean:
	rm -rf $(VENV) chalice.out cdk.out .pytest_cache .ruff_cache .mypy_cache

# ---- infrastructure (AWS CDK, infra/): README "Deploy to AWS" ----------------------------------------------
.PHONY: synth lint-infra infra-test

INFRA_STAMP := $(VENV)/.installed-infra
CDK_OUT := cdk.out
# chalice.cdk packages the app through boto3, which wants a region; the templates themselves are region-agnostic.
INFRA_ENV := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-3}

$(INFRA_STAMP): $(STAMP) requirements-infra.txt
	$(PY) -m pip install --quiet -r requirements-infra.txt
	touch $(INFRA_STAMP)

## synth: CloudFormation templates of the dev and prod stacks in cdk.out/ (no AWS account needed)
# cdk-nag's AwsSolutions pack checks both stacks first: an error or warning not acknowledged in infra/ (each with
# its reason) is listed and fails the synth. The Lambda code is Chalice's zip without the runtime's AWS SDK.
synth: $(INFRA_STAMP)
	$(INFRA_ENV) $(PY) infra/app.py dev prod

## lint-infra: cfn-lint on the synthesized templates, and on the state machine definitions (infra/lint_asl.py)
# One check is ignored, on the CDK templates only:
#   W3005 "dependency already enforced by a GetAtt": CDK gives the state machine a DependsOn on its role (so the
#   role's policy exists before the first execution) and also reads the role's Arn. The DependsOn is CDK's own,
#   redundant and harmless; nothing in infra/ can remove it.
lint-infra: synth
	$(PY) -m infra.lint_asl $(CDK_OUT)/asl-lint.template.json
	$(VENV)/bin/cfn-lint --regions ap-southeast-3 --ignore-checks W3005 -- $(CDK_OUT)/dev.template.json $(CDK_OUT)/prod.template.json
	$(VENV)/bin/cfn-lint --regions ap-southeast-3 -- $(CDK_OUT)/asl-lint.template.json

## infra-test: aws_cdk.assertions tests of both stacks, the state machine graph, local provisioner vs CDK
infra-test: $(INFRA_STAMP)
	$(INFRA_ENV) $(PY) -m pytest -q tests/infra
