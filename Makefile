# Set-up and main commands of mmsolo on a CPU machine (Python 3.11).
#   make demo   builds .venv (torch CPU, mmcv 2.1.0 with ops, mmdet, mmsolo)
#               and runs a SOLOv2-R50 inference that writes outputs/demo.png
#   make test   builds .venv and runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmsolo-installed

.PHONY: install demo test

install: $(STAMP)

$(STAMP): tools/setup_env.sh setup.cfg setup.py requirements/*.txt
	VENV=$(VENV) bash tools/setup_env.sh

demo: $(STAMP)
	$(PY) tools/misc/generate_shapes.py outputs/shapes --train 0 --val 1
	$(PY) tools/demo/image_demo.py outputs/shapes/val/000001.png \
		configs/solov2/solov2_r50_fpn_1x_coco.py --out-file outputs/demo.png

test: $(STAMP)
	$(PY) -m pytest tests
