import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `make test` runs the suite in two pytest-xdist workers, one per core of
# this project's 2-core machines. Each worker (and every tool a test starts
# as a subprocess, which inherits the environment) then takes one intra-op
# thread: two workers of 2 threads each on 2 cores spin-wait for each other
# and run slower than one. No test times anything.
if os.environ.get('PYTEST_XDIST_WORKER'):
    for _name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[_name] = '1'
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope='session', autouse=True)
def _register_modules():
    from mmsolo.utils import register_all_modules

    register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def python() -> str:
    return sys.executable
