# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
TASKS_VENV := .venv-tasks
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: run test unit integration e2e lint check-config check-domain bench reset clean requirements install alertmanager \
	package infra-check
CHECKOV_VENV := .venv-checkov

# ---- set-up -------------------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]' 2> >(grep -v "^WARNING: Location" >&2)
	touch $@

# The Cloud Tasks emulator pins protobuf<5, so it lives in a virtualenv of its own.
$(TASKS_VENV)/.installed:
	test -x $(TASKS_VENV)/bin/python || $(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/pip --disable-pip-version-check -q install gcloud-tasks-emulator==0.6.2 \
		2> >(grep -v "^WARNING: Location" >&2)
	touch $@

# The e2e tests drive a real Alertmanager (Debian's package); installed once, as root, if missing.
ALERTMANAGER := $(shell command -v prometheus-alertmanager || command -v alertmanager)
alertmanager:
ifeq ($(ALERTMANAGER),)
	@echo "installing prometheus-alertmanager (Debian package) for the e2e tests"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null
endif

# The status page e2e test reads the page in a real headless Chromium (Debian's package).
CHROMIUM := $(shell command -v chromium || command -v chromium-browser)
.PHONY: chromium
chromium:
ifeq ($(CHROMIUM),)
	@echo "installing chromium (Debian package) for the status page e2e test"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
endif

install: $(VENV)/.installed $(TASKS_VENV)/.installed

requirements.txt: pyproject.toml
	$(PY) -m local.requirements > $@

requirements: requirements.txt

# ---- run ----------------------------------------------------------------------------------------
run: install
	$(PY) -m local.stack

reset:
	rm -rf .local

# ---- deploy -------------------------------------------------------------------------------------
package: $(VENV)/.installed
	$(PY) -m local.package

# checkov pins packaging<24 (pytest needs >=24) and ships its own `hcl2` module: a virtualenv of its own.
$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip --disable-pip-version-check -q install checkov==3.3.30 \
		2> >(grep -v "^WARNING: Location" >&2)
	touch $@

infra-check: $(CHECKOV_VENV)/.installed
	terraform fmt -check -recursive infra
	$(CHECKOV_VENV)/bin/checkov -d infra --quiet --compact --skip-download

# ---- checks -------------------------------------------------------------------------------------
check-config: $(VENV)/.installed
	$(PY) -m shared.config.check $(or $(CONFIG),$(INCIDENT_CONFIG),config/policy.yaml)

check-domain: $(VENV)/.installed
	$(PY) -m local.check_domain

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory check-domain

unit: install
	$(PYTEST) tests/unit -q

integration: install
	$(PYTEST) tests/integration -q

e2e: install alertmanager chromium
	$(PYTEST) tests/e2e -q

test: install alertmanager chromium lint check-config infra-check
	$(PYTEST) tests -q

bench: install
	$(PY) -m bench.run

clean: reset
	rm -rf $(VENV) $(TASKS_VENV) $(CHECKOV_VENV) build

# ---- resolution: the weekly digest and the RCA repository, on the running local stack -------------------
.PHONY: digest import-rcas
LOCAL_API = --url http://127.0.0.1:$(or $(PORT),8080)/api --token $(or $(API_TOKEN),dev-api-token)

digest: $(VENV)/.installed  # what Cloud Scheduler does weekly (POST /tasks/digest), now
	$(VENV)/bin/incidentctl $(LOCAL_API) digest

import-rcas: $(VENV)/.installed  # the RCAs that predate the system (config/rcas/*.json), once each
	for f in config/rcas/*.json; do $(VENV)/bin/incidentctl $(LOCAL_API) rca import "$$f" || exit 1; done
