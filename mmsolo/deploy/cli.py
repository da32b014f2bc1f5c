"""The ``--backend`` argument the tools that take a checkpoint share."""

import argparse
import os.path as osp
from typing import Optional

BACKEND_CHOICES = ('pytorch', 'onnxruntime', 'openvino')
# The model files each backend runs: exported or INT8 ONNX graphs, and for
# OpenVINO the IR of tools/deployment/quantize.py too.
BACKEND_SUFFIXES = dict(onnxruntime=('.onnx',), openvino=('.onnx', '.xml'))


def add_backend_argument(parser: argparse.ArgumentParser, action: str) -> None:
    """``--backend pytorch|onnxruntime|openvino`` (default ``pytorch``): with
    another backend, CHECKPOINT is a graph from
    ``tools/deployment/pytorch2onnx.py`` (or its INT8 version from
    ``tools/deployment/quantize.py``) that the tool ``action``s (e.g.
    ``'runs'``, ``'times'``) with that backend on the CPU."""
    parser.add_argument(
        '--backend',
        choices=BACKEND_CHOICES,
        default='pytorch',
        help=f'{action} CHECKPOINT, a graph from '
        'tools/deployment/pytorch2onnx.py (.onnx) or its INT8 model from '
        'tools/deployment/quantize.py (.onnx, or .xml for openvino), with '
        'this backend (CPU) instead of the PyTorch model',
    )


def backend_file_problem(backend: str, model_file: str) -> Optional[str]:
    """Why ``backend`` cannot run ``model_file`` (missing, or a file kind
    it does not run), or None; nothing to say for ``'pytorch'``."""
    if backend == 'pytorch':
        return None
    if not osp.isfile(model_file):
        return f'--backend {backend}: {model_file}: no such file'
    suffixes = BACKEND_SUFFIXES[backend]
    if not model_file.lower().endswith(suffixes):
        return (
            f'--backend {backend} runs {" or ".join(suffixes)} files, got '
            f'{model_file}'
        )
    return None
