import os
from importlib import metadata

import pytest

import mmsolo


def test_version_ranges_match_requirements(repo_root):
    lines = open(os.path.join(repo_root, 'requirements',
                              'mminstall.txt')).read().split()
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
