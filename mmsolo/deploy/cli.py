"""The ``--backend`` argument the tools that take a checkpoint share."""

import argparse

BACKEND_CHOICES = ('pytorch', 'onnxruntime', 'openvino')


def add_backend_argument(parser: argparse.ArgumentParser, action: str) -> None:
    """``--backend pytorch|onnxruntime|openvino`` (default ``pytorch``): with
    another backend, CHECKPOINT is a graph from
    ``tools/deployment/pytorch2onnx.py`` that the tool ``action``s (e.g.
    ``'runs'``, ``'times'``) with that backend on the CPU."""
    parser.add_argument(
        '--backend',
        choices=BACKEND_CHOICES,
        default='pytorch',
        help=f'{action} CHECKPOINT, a graph from '
        'tools/deployment/pytorch2onnx.py, with this backend (CPU) instead '
        'of the PyTorch model',
    )
