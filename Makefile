# Set-up and main commands of mmsolo on a CPU machine (Python 3.11).
#   make quickstart  builds .venv (torch CPU, mmcv 2.1.0 with ops, mmdet,
#                    mmsolo), generates the synthetic shapes set, trains a
#                    light SOLOv2 on it, evaluates mask/box AP and writes
#                    outputs/quickstart/{predictions,loss_curve}.png
#   make quickstart-panoptic  the same for panoptic segmentation (PQ):
#                    outputs/quickstart-panoptic/
#   make test        builds .venv and runs the test suite: in two pytest-xdist
#                    workers (one per core, one thread each), then the tests
#                    marked serial alone
#   make demo        the quick start's model (or, without its checkpoint, a
#                    short training of it first) on a val image:
#                    outputs/demo/vis/
#   make docs        builds the documentation site (Sphinx + MyST, warnings
#                    as errors): docs/_build/html/index.html
#   make lint        ruff's lint and format checks (ruff.toml); the same
#                    hooks run on commit after `pre-commit install`
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmsolo-installed

.PHONY: install quickstart quickstart-panoptic demo test docs lint

install: $(STAMP)

$(STAMP): tools/setup_env.sh setup.cfg setup.py requirements/*.txt
	VENV=$(VENV) bash tools/setup_env.sh

quickstart: $(STAMP)
	$(PY) tools/quickstart.py

quickstart-panoptic: $(STAMP)
	$(PY) tools/quickstart.py --panoptic

demo: $(STAMP)
	$(PY) tools/demo/make_demo.py

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m 'not serial' tests
	$(PY) -m pytest -m serial tests

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
