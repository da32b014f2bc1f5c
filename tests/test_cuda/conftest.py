"""Every test under tests/test_cuda/ carries the ``cuda`` marker and is
skipped where CUDA is not available, so the suite stays green on CPU-only
machines and CI; ``pytest -m cuda tests`` runs them alone on a GPU, and
``MMSOLO_CUDA_TESTS_DEVICE=cpu pytest tests/test_cuda`` runs their logic on
the CPU."""

import os

import pytest
import torch

_NO_CUDA = pytest.mark.skip(
    reason='needs CUDA (torch.cuda.is_available() is False here)'
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if 'test_cuda' in item.path.parts:
            item.add_marker(pytest.mark.cuda)
            dry_run = os.environ.get('MMSOLO_CUDA_TESTS_DEVICE') == 'cpu'
            if not (dry_run or torch.cuda.is_available()):
                item.add_marker(_NO_CUDA)
