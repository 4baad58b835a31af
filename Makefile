# Two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AGENT_CLIS := tools/agents/node_modules/.installed
# Debian's chromium for the dashboard's browser tests (Playwright drives it; never
# `playwright install`, which downloads a browser).
CHROMIUM := /usr/bin/chromium
# bubblewrap for the sandbox agents' commands run in (docs/sandbox.md) and its escape suite;
# libseccomp2 compiles the sandbox's system-call filter; Claude Code's own sandbox needs socat.
BWRAP := /usr/bin/bwrap
# Debian's ffmpeg: `tack app record` encodes its screencast frames to WebM (docs/app.md).
FFMPEG := /usr/bin/ffmpeg
SOCAT := /usr/bin/socat
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install agent-clis browser sandbox video bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tack needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The real codex and claude CLIs (pinned, lockfile committed) for the backend tests.
$(AGENT_CLIS): tools/agents/package.json tools/agents/package-lock.json
	npm ci --prefix tools/agents --no-audit --no-fund --loglevel=error
	@touch $(AGENT_CLIS)

agent-clis: $(AGENT_CLIS)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

browser: $(CHROMIUM)

$(BWRAP) $(SOCAT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends bubblewrap libseccomp2 socat

sandbox: $(BWRAP) $(SOCAT)

$(FFMPEG):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg

video: $(FFMPEG)

demo: $(STAMP)
	$(BIN)/tack demo

test: $(STAMP) $(AGENT_CLIS) $(CHROMIUM) $(BWRAP) $(SOCAT) $(FFMPEG)
	$(BIN)/tack principles lint
	$(BIN)/tack scan
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/orchestrator.py

clean:
	rm -rf $(VENV) build src/*.egg-info tools/agents/node_modules
