"""The shape of the code (docs/architecture.md): layers import only down,
and the refactored modules keep the checkpoint keys of the configs. (The
size of functions is ruff's to bound: ruff.toml, ``make lint``.)"""

import ast
import json
import os
from typing import Dict, Iterator, List, Tuple

import pytest
from mmengine.config import Config

from mmsolo.registry import MODELS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_ROOT = os.path.join(REPO_ROOT, 'mmsolo')
# Layer of each top-level part of mmsolo: a module may import its own layer
# and those below, never one above. Tools (outside the package) sit on top.
LAYERS = {
    'mmsolo': 0,  # __init__, version
    'registry': 0,
    'utils': 0,
    'fileio': 0,
    'checkpoint': 0,
    'engine': 1,
    'datasets': 2,
    'models': 2,
    'evaluation': 2,
    'visualization': 2,
    'testing': 3,
    'apis': 3,
    'runner': 3,
    'deploy': 3,
}
# Module keys (with shapes) of the configs' models outside the backbone and
# FPN (mmdet's), as the code before the architecture refactor built them.
STATE_DICT_KEYS = os.path.join(
    REPO_ROOT, 'tests', 'data', 'state_dict_keys.json'
)


def module_name(path: str) -> str:
    """``mmsolo/models/layers/nms/common.py`` -> ``mmsolo.models.layers.nms
    .common`` (packages end in ``__init__``)."""
    rel = os.path.relpath(path, REPO_ROOT)[: -len('.py')]
    return rel.replace(os.sep, '.')


def layer_of(module: str) -> int:
    """Layer of an ``mmsolo...`` module name."""
    parts = module.split('.')
    part = parts[1] if len(parts) > 1 else 'mmsolo'
    if part not in LAYERS:
        part = 'mmsolo'  # a top-level module such as mmsolo.version
    return LAYERS[part]


def mmsolo_imports(source: str, module: str) -> Iterator[Tuple[int, str]]:
    """``(line, imported module)`` of every mmsolo import in ``source``
    (of module ``module``), at any depth, relative ones resolved."""
    package = module.split('.')[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = '.'.join(up + ([base] if base else []))
            names = [base]
        else:
            continue
        for name in names:
            if name == 'mmsolo' or name.startswith('mmsolo.'):
                yield node.lineno, name


def upward_imports(source: str, module: str) -> List[str]:
    """The imports of ``source`` that point to a higher layer."""
    own = layer_of(module)
    return [
        f'{module}:{line} imports {name}'
        for line, name in mmsolo_imports(source, module)
        if layer_of(name) > own
    ]


def package_sources() -> Iterator[Tuple[str, str]]:
    for folder, _, files in os.walk(PACKAGE_ROOT):
        for file in sorted(files):
            if file.endswith('.py'):
                path = os.path.join(folder, file)
                with open(path) as f:
                    yield path, f.read()


def test_the_check_catches_an_upward_import():
    source = 'from mmsolo.models import SOLOv2\nfrom ..engine import x\n'
    found = upward_imports(source, 'mmsolo.utils.example')
    assert found == [
        'mmsolo.utils.example:1 imports mmsolo.models',
        'mmsolo.utils.example:2 imports mmsolo.engine',
    ]
    assert (
        upward_imports('from ..layers import y\n', 'mmsolo.models.heads.z')
        == []
    )
    assert layer_of('mmsolo.models.layers') == 2


def test_layers_import_only_downwards():
    found = [
        problem
        for path, source in package_sources()
        for problem in upward_imports(source, module_name(path))
    ]
    assert found == []


def test_the_package_imports_no_test_code():
    """``tests/support/`` (reference models, crafted checkpoints, parity
    checks) is imported as ``support`` and never installed: no module of
    mmsolo may import it, nor anything else of ``tests/``."""
    found = []
    for path, source in package_sources():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            found += [
                f'{module_name(path)}:{node.lineno} imports {name}'
                for name in names
                if name.split('.')[0] in ('support', 'tests', 'conftest')
            ]
    assert found == []


def own_module_shapes(model) -> Dict[str, List[int]]:
    return {
        key: list(value.shape)
        for key, value in model.state_dict().items()
        if not key.startswith(('backbone.', 'neck.'))
    }


with open(STATE_DICT_KEYS) as f:
    EXPECTED_KEYS = json.load(f)


@pytest.mark.parametrize('config', sorted(EXPECTED_KEYS))
def test_state_dict_keys_are_unchanged(config):
    """A checkpoint of the models built before the refactor loads strictly:
    the same keys with the same shapes."""
    cfg = Config.fromfile(os.path.join(REPO_ROOT, 'configs', config))
    cfg.model.backbone.init_cfg = None
    assert own_module_shapes(MODELS.build(cfg.model)) == EXPECTED_KEYS[config]
