# zypp-plugin-klp: every target installs what it needs on a fresh Debian 12 machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3-venv python3-rpm python3-solv python3-yaml rpm zypper createrepo-c \
                busybox-static kmod groff-base
PIP_PACKAGES := pytest pytest-mock PyYAML hypothesis

.PHONY: setup deps test demo bench clean

deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.ready: setup.cfg pyproject.toml Makefile
	$(MAKE) --no-print-directory deps
	rm -rf $(VENV)
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PIP_PACKAGES)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps \
	    --config-settings editable_mode=compat -e .
	touch $@

setup: deps $(VENV)/.ready

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) fixtures/demo.py

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
