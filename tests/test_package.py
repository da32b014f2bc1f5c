import configparser
import importlib.util
import os
from importlib import metadata

import pytest

import mmsolo


def test_version_ranges_match_requirements(repo_root):
    lines = (
        open(os.path.join(repo_root, 'requirements', 'mminstall.txt'))
        .read()
        .split()
    )
    for dist, low, high in mmsolo.REQUIRED_VERSIONS:
        assert f'{dist}>={low},<{high}' in lines


def test_version_guard_names_the_package(monkeypatch):
    real = metadata.version

    def fake_version(dist):
        return '2.2.1' if dist == 'mmcv' else real(dist)

    monkeypatch.setattr(mmsolo, '_dist_version', fake_version)
    with pytest.raises(ImportError, match=r'mmcv>=2.0.0rc4,<2.2.0.*2\.2\.1'):
        mmsolo.check_dependency_versions()


def test_registries_are_children_of_mmdet():
    from mmdet.registry import MODELS as MMDET_MODELS

    from mmsolo.registry import MODELS

    assert MODELS.parent is MMDET_MODELS
    assert MODELS.scope == 'mmsolo'
    assert MODELS.get('ResNet') is MMDET_MODELS.get('ResNet')
    assert MODELS.get('SOLOv2Head').__module__.startswith('mmsolo')


def test_only_mmsolo_is_packaged(repo_root):
    """setup.cfg's packages are mmsolo's: never tests/ (tests/support/
    holds a checkpoint class whose unpickling runs code); mmsolo.testing
    keeps only demo inputs."""
    from setuptools import find_packages

    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(os.path.join(repo_root, 'setup.cfg'))
    include = cfg['options.packages.find']['include'].split()
    packages = find_packages(repo_root, include=include)
    assert 'mmsolo.testing' in packages
    assert [name for name in packages if name.split('.')[0] != 'mmsolo'] == []
    for moved in ('crafted_checkpoints', 'reference', 'adelaidet_source'):
        assert importlib.util.find_spec(f'mmsolo.testing.{moved}') is None
    from mmsolo import testing

    assert sorted(testing.__all__) == ['demo_batch', 'random_gt_boxes']
