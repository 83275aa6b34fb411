# make demo: set up and run the whole daemon on the embedded default (no mail server needed)
# make test: set up and pass the tests (real Dovecot, SMTP, ffprobe and Chromium on loopback)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := ffmpeg dovecot-imapd antiword catdoc libarchive-tools unar p7zip-full chromium fonts-wqy-microhei

.PHONY: demo test setup system venv bench clean

demo: setup
	$(BIN)/ribao demo --out demo-out

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	bench/run

setup: system venv

# Debian packages the judge and the tests use; installed only when one is missing.
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(BIN)/ribao

$(BIN)/ribao: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

clean:
	rm -rf demo-out tests/artefacts bench/out
