# zypp-plugin-klp: every target installs what it needs on a fresh Debian 12 machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# What make demo needs (it runs on Debian's python3 with the distribution's bindings, no venv).
DEMO_APT_PACKAGES := python3-rpm python3-solv python3-yaml rpm zypper createrepo-c
# qemu, the kernel image and its headers in one apt run so their versions match (tests/kernel).
APT_PACKAGES := $(DEMO_APT_PACKAGES) python3-venv busybox-static kmod groff-base make gcc \
                qemu-system-x86 linux-image-amd64 linux-headers-amd64 prometheus \
                prometheus-node-exporter monitoring-plugins-basic rpmlint
PIP_PACKAGES := pytest pytest-mock PyYAML hypothesis mypy

.PHONY: setup deps demo-deps test demo sandbox bench clean rpm fuzz reliability mutation

# $(call apt_install,PACKAGES): install those of PACKAGES that are missing, in one apt run.
apt_install = missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

deps:
	@$(call apt_install,$(APT_PACKAGES))

demo-deps:
	@$(call apt_install,$(DEMO_APT_PACKAGES))

# The entry points run isolated (python3 -IS): the venv's copies get the checkout as their path.
ENTRY_POINTS := klp kgr zypper-lifecycle check_klp klp-sandbox klp-simkernel
$(VENV)/.ready: setup.cfg pyproject.toml Makefile $(addprefix bin/,$(ENTRY_POINTS))
	$(MAKE) --no-print-directory deps
	rm -rf $(VENV)
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PIP_PACKAGES)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps \
	    --config-settings editable_mode=compat -e .
	sed -i 's|^PRODUCT = ""$$|PRODUCT = "$(CURDIR)"|' $(addprefix $(VENV)/bin/,$(ENTRY_POINTS))
	touch $@

# A private, unpacked dracut for tests/kernel (the machine's own initramfs tooling stays untouched).
DRACUT := .cache/dracut/usr/bin/dracut
$(DRACUT):
	rm -rf .cache/dracut .cache/dracut-debs && mkdir -p .cache/dracut-debs
	cd .cache/dracut-debs && (apt-get download dracut-core dracut 2>/dev/null || \
	    (apt-get update -qq && apt-get download dracut-core dracut 2>/dev/null))
	for deb in .cache/dracut-debs/*.deb; do dpkg -x $$deb .cache/dracut; done

# Fleet engines (tests/fleet) in a venv of their own: Salt and ansible-core pin Jinja2, PyYAML and
# more, which must not move under the product's test venv. Rebuilt only when this line changes.
FLEET_VENV := .cache/fleet-venv
FLEET_PIP_PACKAGES := salt~=3008.0 ansible-core~=2.19.0
$(FLEET_VENV)/.ready-salt3008-ansible219:
	rm -rf $(FLEET_VENV)
	/usr/bin/python3 -m venv $(FLEET_VENV)
	$(FLEET_VENV)/bin/pip install -q --disable-pip-version-check $(FLEET_PIP_PACKAGES)
	touch $@

setup: deps $(VENV)/.ready $(DRACUT) $(FLEET_VENV)/.ready-salt3008-ansible219

test: setup
	$(PY) -m pytest

# Only what the demo needs: no venv, no PyPI, no qemu or kernel (make test installs those).
demo: demo-deps
	PYTHONPATH=$(CURDIR) /usr/bin/python3 fixtures/demo.py

# A server to try live patching on, kept until 'bin/klp-sandbox destroy $(SANDBOX)'.
SANDBOX ?= out/sandbox
sandbox: demo-deps
	PYTHONPATH=$(CURDIR) /usr/bin/python3 fixtures/sandbox.py $(SANDBOX)

# Byte-compile first, as the RPM does at install time: PYTHONDONTWRITEBYTECODE may be set here.
bench: setup
	$(PY) -m compileall -q zypp_plugin_klp
	$(PY) bench/run.py
	$(PY) bench/zypper_bench.py
	$(PY) bench/lifecycle_bench.py
	$(PY) bench/fleet_bench.py
	$(PY) bench/waits_bench.py

clean:
	rm -rf $(VENV) build *.egg-info

VERSION := $(shell sed -n 's/^version = //p' setup.cfg)
RPMTOP := $(CURDIR)/out/rpmbuild

# The product's own noarch RPM, built with the real rpmbuild and a private rpm database.
# PYTHON3_SITELIB=DIR overrides %python3_sitelib (Debian's is /usr/local/lib/python3.X/...).
PYTHON3_SITELIB :=
rpm: demo-deps
	rm -rf $(RPMTOP) && mkdir -p $(RPMTOP)/SOURCES
	git ls-files -co --exclude-standard | grep -v '^out/' | \
	    tar --transform 's,^,zypp-plugin-klp-$(VERSION)/,' -czf $(RPMTOP)/SOURCES/zypp-plugin-klp-$(VERSION).tar.gz -T -
	rpmbuild -bb --quiet --define "_topdir $(RPMTOP)" --define "_dbpath $(RPMTOP)/db" \
	    $(if $(PYTHON3_SITELIB),--define "python3_sitelib $(PYTHON3_SITELIB)") specfiles/zypp-plugin-klp.spec
	@ls $(RPMTOP)/RPMS/noarch/*.rpm

# Longer fuzzing than the bounded hypothesis runs in make test: every parser, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frames transaction modinfo lifecycle_csv product scenario kernel_values texts
fuzz: setup
	$(VENV)/bin/pip install -q --disable-pip-version-check atheris
	mkdir -p out/fuzz
	set -o pipefail; for t in $(FUZZ_TARGETS); do \
	    echo "== $$t"; mkdir -p out/fuzz/$$t; \
	    $(PY) tests/fuzz/fuzz_parsers.py $$t out/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	        -rss_limit_mb=2048 -timeout=10 2>&1 | tail -n 2 || exit 1; \
	done

# One summary line per area: faults, fuzzed inputs, tampered modules, races.
reliability: setup
	$(PY) tests/reliability/report.py

# Mutation testing (not in make test: minutes of CPU). mutmut over core/, the services, hooks.py and
# plugin.py; prints the kill rate of non-equivalent mutants per module (goal 90%, MUTATION_GOAL).
# MUTATION_MODULES / MUTATION_TESTS narrow it; survivors land in out/mutation/survivors.txt.
mutation: setup
	$(VENV)/bin/pip install -q --disable-pip-version-check 'mutmut>=3.8,<4'
	$(PY) tests/mutation/run.py
