VENV ?= .venv
PY = $(VENV)/bin/python

.PHONY: serve test test-fast bench bench-quick soak soak-quick clean

# Serving needs the package alone; the tests' tools come on top of it (make test).
$(VENV)/.serving: setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(VENV)/.serving
	$(PY) -m pip install --quiet -e '.[test]'
	# ragflow-sdk 0.27.x declares Python 3.13 but runs on 3.11; pip alone would pick 0.22.1.
	$(PY) -m pip install --quiet --ignore-requires-python 'ragflow-sdk==0.27.3'
	touch $@

# make serve PORT=9400; gunicorn's own variables work too (WEB_CONCURRENCY, GUNICORN_CMD_ARGS)
serve: $(VENV)/.serving
	$(VENV)/bin/ragflow-dataset-api serve $(if $(PORT),--bind 127.0.0.1:$(PORT))

test: $(VENV)/.installed
	$(PY) -m pytest -q

# The edit loop: everything but the live tests (gunicorn, nginx, the browser in subprocesses)
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not live"

# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--engines json --markdown out.md"
bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/files.py
	$(PY) -m bench.parse_speed

bench-quick: $(VENV)/.installed
	$(PY) bench/run.py --quick $(BENCH_ARGS)
	$(PY) bench/files.py --quick

# A hostile mix beside a well-behaved tenant, through the shipped nginx (apt-get install nginx)
soak: $(VENV)/.installed
	$(PY) bench/soak.py --markdown docs/soak.md $(SOAK_ARGS)

soak-quick: $(VENV)/.installed
	$(PY) bench/soak.py --quick $(SOAK_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
