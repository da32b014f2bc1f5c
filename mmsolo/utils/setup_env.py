"""Registration of every mmsolo module and the default scope."""

import datetime
import importlib
import warnings

from mmengine import DefaultScope

from mmsolo.registry import REGISTERING_PACKAGES


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import mmdet's and mmsolo's modules so that their registries are filled.
    (Safe checkpoint loading needs no call here: importing ``mmsolo`` has
    installed it, :func:`mmsolo.checkpoint.install_safe_loaders`.)

    Args:
        init_default_scope (bool): Also make ``mmsolo`` the default scope, so
            that configs build mmsolo modules first and fall back to mmdet's
            (its parent). Defaults to True.
    """
    import mmdet.engine  # noqa: F401
    import mmdet.evaluation  # noqa: F401
    import mmdet.visualization  # noqa: F401
    from mmdet.utils import register_all_modules as register_mmdet

    register_mmdet(init_default_scope=False)
    # By name, as mmengine's registries import their ``locations``: the
    # foundation layer does not depend on the packages it registers.
    for package in REGISTERING_PACKAGES:
        importlib.import_module(package)

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmsolo'):
        DefaultScope.get_instance('mmsolo', scope_name='mmsolo')
        return
    if current.scope_name != 'mmsolo':
        warnings.warn(
            f'The current default scope "{current.scope_name}" is not '
            '"mmsolo"; register_all_modules sets it to "mmsolo". Pass '
            'init_default_scope=False to keep it.',
            stacklevel=2,
        )
        DefaultScope.get_instance(
            f'mmsolo-{datetime.datetime.now()}', scope_name='mmsolo'
        )
