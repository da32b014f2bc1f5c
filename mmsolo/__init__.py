"""mmsolo: SOLOv2 instance segmentation on MMDetection 3.x."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from packaging.version import Version

from .version import __version__, version_info

# (distribution, lowest allowed, first version not allowed). Keep these equal
# to requirements/mminstall.txt: a test checks that they agree.
REQUIRED_VERSIONS = (
    ('mmcv', '2.0.0rc4', '2.2.0'),
    ('mmengine', '0.7.1', '1.0.0'),
    ('mmdet', '3.0.0', '3.4.0'),
)


def check_dependency_versions() -> None:
    """Raise ``ImportError`` naming the package to install if a dependency of
    mmsolo is missing or outside its supported version range."""
    for dist, low, high in REQUIRED_VERSIONS:
        wanted = f'{dist}>={low},<{high}'
        try:
            found = _dist_version(dist)
        except PackageNotFoundError:
            raise ImportError(
                f'mmsolo {__version__} needs {wanted}, which is not '
                f'installed. Install it with `pip install "{wanted}"` (for '
                'mmcv: `MMCV_WITH_OPS=1 pip install --no-build-isolation '
                f'"{wanted}"`, or run tools/setup_env.sh).'
            ) from None
        if not Version(low) <= Version(found) < Version(high):
            raise ImportError(
                f'mmsolo {__version__} needs {wanted}, but {dist} {found} is '
                f'installed. Install a supported one with `pip install '
                f'"{wanted}"`.'
            )


check_dependency_versions()

# Whatever imports mmsolo (its tools, mmdet's tools and APIs building mmsolo
# models) reads checkpoints with torch's restricted unpickler, downloads
# included (mmsolo/checkpoint/safe_loading.py).
from .checkpoint.safe_loading import install_safe_loaders  # noqa: E402

install_safe_loaders()

__all__ = ['__version__', 'version_info', 'check_dependency_versions']
