"""A child config for a COCO-format data set of one's own classes: what
``tools/misc/make_config.py`` writes.

The child inherits a SOLOv2 config (``_base_``, relative to the child) and
sets what a data set of other classes changes: ``classes`` (read from the
training annotation file's ``categories``, in id order), the datasets'
``metainfo``, ``model.mask_head.num_classes``, each split's data root,
``ann_file`` and image folder, the evaluators' ``ann_file`` and, if given,
``load_from`` (a checkpoint of other classes fine-tunes: its classifier is
re-initialised, :class:`mmsolo.engine.FinetuneLoadHook`). The text is
loaded once before it is written, and written atomically.
"""

import json
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from mmengine.config import Config

from mmsolo.fileio import write_atomically

SOLOV2_HEAD = 'SOLOv2Head'
# Where a colleague's grid fitting (``fit_grids(cfg, ann_file)``, whose
# result has a ``changes`` dict of config overrides) may live.
GRID_FIT_MODULES = (
    'mmsolo.utils.grid_fit',
    'mmsolo.models.task_modules.grid_fit',
)
INDENT = '    '
# Dicts that fit in a line of this length (less the name) are written in
# one.
LINE = 60
# A blank line before each of these assignments.
GROUPS = ('model', 'train_dataloader', 'val_evaluator', 'load_from')


class ChildConfigError(ValueError):
    """An input of the child config (a file, a base config, a class list)
    is missing or wrong; the message names it. Nothing was written."""


class DataSplit(NamedTuple):
    """A split's COCO annotation file and image folder."""

    ann_file: str
    img_dir: str


class Expr(str):
    """Python source written as it is (``len(classes)``), not quoted."""


def _read_json(path: str, what: str) -> Any:
    if not osp.isfile(path):
        raise ChildConfigError(f'{what}: no such file: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ChildConfigError(
            f'{what} {path} is not JSON: {error.msg} at line '
            f'{error.lineno}, column {error.colno}'
        ) from None


def read_coco_categories(
    ann_file: str, what: str = 'annotation file'
) -> Tuple[tuple, list]:
    """The ``name`` of each entry of ``ann_file``'s ``categories``, in the
    order of their ids (COCO's label order), and its ``images``.

    Raises:
        ChildConfigError: The file is missing, not JSON, has no (or an
            empty) ``categories`` list, an entry without ``id`` or
            ``name``, or two categories of one name; naming the file.
    """
    coco = _read_json(ann_file, what)
    categories = coco.get('categories') if isinstance(coco, dict) else None
    if not categories or not isinstance(categories, list):
        raise ChildConfigError(
            f'{what} {ann_file} has no categories: a COCO instance file '
            "lists its classes as 'categories': [{'id': 1, 'name': ...}]"
        )
    for index, category in enumerate(categories):
        if not isinstance(category, dict) or not {'id', 'name'} <= set(
            category
        ):
            raise ChildConfigError(
                f"{what} {ann_file}: categories[{index}] needs an 'id' and "
                f"a 'name', got {category!r}"
            )
    names = [c['name'] for c in sorted(categories, key=lambda c: c['id'])]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ChildConfigError(
            f'{what} {ann_file} names more than one category {repeated}'
        )
    return tuple(names), coco.get('images') or []


def check_same_classes(
    train_file: str, classes: tuple, other_file: str, other: tuple
) -> None:
    """Raise :class:`ChildConfigError` naming both files if their category
    names differ (the order may: labels follow ``classes``)."""
    if set(classes) == set(other):
        return
    only_train = [name for name in classes if name not in other]
    only_other = [name for name in other if name not in classes]
    raise ChildConfigError(
        f'the categories of {other_file} differ from those of {train_file}: '
        f'only in {train_file}: {only_train}; only in {other_file}: '
        f'{only_other}. Every split must list the same classes.'
    )


def check_images(split: str, data: DataSplit, images: List[dict]) -> None:
    """The image folder exists and holds the annotation file's first
    image."""
    if not osp.isdir(data.img_dir):
        raise ChildConfigError(
            f'--{split}-img: no such folder: {data.img_dir}'
        )
    if images and isinstance(images[0], dict) and 'file_name' in images[0]:
        first = osp.join(data.img_dir, images[0]['file_name'])
        if not osp.isfile(first):
            raise ChildConfigError(
                f'--{split}-img {data.img_dir} does not hold the first '
                f'image of {data.ann_file} ({images[0]["file_name"]}): '
                'give the folder its file_names are relative to'
            )


def check_base(base: str) -> Config:
    """The base config, loaded; it must build a SOLOv2 instance model
    (``model.mask_head`` of type ``SOLOv2Head``, no semantic head)."""
    if not osp.isfile(base):
        raise ChildConfigError(f'--base: no such config: {base}')
    cfg = Config.fromfile(base)
    model = cfg.get('model', None) or {}
    head = model.get('mask_head', None)
    head_type = str(head.get('type', '')) if isinstance(head, dict) else ''
    if head_type.split('.')[-1] != SOLOV2_HEAD:
        found = f'type {head_type!r}' if head else 'none'
        raise ChildConfigError(
            f'--base {base} has no SOLOv2 mask_head (model.mask_head: '
            f'{found}): give one of the configs of configs/solov2/ or '
            'configs/quickstart/'
        )
    if 'semantic_head' in model:
        raise ChildConfigError(
            f'--base {base} is a panoptic model (model.semantic_head): '
            'make_config writes instance segmentation configs; give an '
            'instance config'
        )
    for field in ('train_dataloader', 'val_dataloader', 'val_evaluator'):
        if not isinstance(cfg.get(field, None), dict):
            raise ChildConfigError(
                f'--base {base} has no {field} (a dict) to inherit'
            )
    return cfg


def data_root_of(splits: Mapping[str, DataSplit]) -> str:
    """The deepest folder holding every file and folder of ``splits``
    (with a trailing ``/``; ``''`` when relative paths share none).
    Relative paths stay relative (to the folder tools run from) unless
    mixed with absolute ones."""
    paths = [p for split in splits.values() for p in split]
    if any(osp.isabs(p) for p in paths):
        paths = [osp.abspath(p) for p in paths]
    parents = [osp.dirname(osp.normpath(p)) for p in paths]
    root = osp.commonpath(parents) if parents else ''
    return root.rstrip('/') + '/' if root else ''


def _relative(path: str, root: str) -> str:
    if osp.isabs(root) and not osp.isabs(path):
        path = osp.abspath(path)
    return osp.relpath(osp.normpath(path), root) if root else path


def _nested_dataset(loader: Mapping, fields: dict) -> dict:
    """``dict(dataset=fields)``, nested once more per dataset wrapper
    (``RepeatDataset``, ``ClassBalancedDataset``) of the base's
    ``loader``."""
    dataset = loader.get('dataset', {})
    if isinstance(dataset, dict) and 'dataset' in dataset:
        return dict(dataset=_nested_dataset(dataset, fields))
    return dict(dataset=fields)


def _split_overrides(
    base_cfg: Config, loader: str, data: DataSplit, root: str
) -> dict:
    fields = OrderedDict(
        data_root=Expr('data_root'),
        metainfo=Expr('metainfo'),
        ann_file=_relative(data.ann_file, root),
        data_prefix=dict(img=_relative(data.img_dir, root).rstrip('/') + '/'),
    )
    return _nested_dataset(base_cfg.get(loader), fields)


def child_overrides(
    base_cfg: Config,
    classes: tuple,
    splits: Mapping[str, DataSplit],
    load_from: Optional[str] = None,
) -> 'OrderedDict[str, Any]':
    """The child's assignments (name -> value; :class:`Expr` values are
    written as code), in the order they are written."""
    root = data_root_of(splits)
    out = OrderedDict(data_root=root, classes=tuple(classes))
    out['metainfo'] = dict(classes=Expr('classes'))
    model = OrderedDict()
    if load_from:  # its weights replace any pretrained backbone's
        model['backbone'] = dict(init_cfg=None)
    model['mask_head'] = dict(num_classes=Expr('len(classes)'))
    out['model'] = model
    for name, data in splits.items():
        out[f'{name}_dataloader'] = _split_overrides(
            base_cfg, f'{name}_dataloader', data, root
        )
    if 'test' not in splits:
        out['test_dataloader'] = Expr('val_dataloader')
    for name, data in splits.items():
        if name == 'train':
            continue
        ann = _relative(data.ann_file, root)
        out[f'{name}_evaluator'] = dict(
            ann_file=Expr(f'data_root + {ann!r}') if root else ann
        )
    if 'test' not in splits:
        out['test_evaluator'] = Expr('val_evaluator')
    if load_from:
        out['load_from'] = load_from
    return out


def deep_merge(target: Dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Merge the nested dict ``changes`` into ``target`` (dicts key by key,
    anything else replaced)."""
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        elif isinstance(value, Mapping):
            target[key] = OrderedDict()
            deep_merge(target[key], value)
        else:
            target[key] = value


def render(value: Any, depth: int = 0) -> str:
    """``value`` as Python source in OpenMMLab's config style: dicts as
    ``dict(key=...)``, one item per line."""
    if isinstance(value, Expr):
        return str(value)
    if hasattr(value, 'item') and hasattr(value, 'dtype'):
        value = value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, Mapping):
        inline = 'dict(' + ', '.join(
            f'{key}={render(item, depth + 1)}' for key, item in value.items()
        )
        inline += ')'
        if '\n' not in inline and len(INDENT * depth + inline) < LINE:
            return inline
        inner = INDENT * (depth + 1)
        items = ''.join(
            f'{inner}{key}={render(item, depth + 1)},\n'
            for key, item in value.items()
        )
        return f'dict(\n{items}{INDENT * depth})'
    if isinstance(value, list):
        return '[' + ', '.join(render(v, depth) for v in value) + ']'
    if isinstance(value, tuple):
        items = ', '.join(render(v, depth) for v in value)
        return f'({items},)' if len(value) == 1 else f'({items})'
    return repr(value)


def config_text(
    base: str, out: str, overrides: Mapping[str, Any], header: str
) -> str:
    """The child config's source: ``header`` as comments, ``_base_``
    relative to ``out``, then one assignment per override."""
    base_rel = osp.relpath(osp.abspath(base), osp.dirname(osp.abspath(out)))
    lines = [f'# {line}'.rstrip() for line in header.splitlines()]
    lines.append(f'_base_ = {base_rel!r}')
    for name, value in overrides.items():
        if name in GROUPS or name == 'data_root':
            lines.append('')
        lines.append(f'{name} = {render(value)}')
    return '\n'.join(lines) + '\n'


def load_config_text(text: str, out: str) -> Config:
    """Load ``text`` as the config at ``out`` would be (a temporary file
    beside it, so that ``_base_`` resolves), then remove it."""
    directory = osp.dirname(osp.abspath(out))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix='.make_config_', suffix='.py'
    )
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        return Config.fromfile(tmp)
    finally:
        os.remove(tmp)


def import_fit_grids():
    """The colleague's ``fit_grids(cfg, ann_file)``, from the first of
    :data:`GRID_FIT_MODULES` that exists (imported only when asked)."""
    import importlib

    for name in GRID_FIT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and name.startswith(error.name):
                continue
            raise
        return module.fit_grids
    raise ChildConfigError(
        '--suggest-grids needs the grid fitting (fit_grids) of '
        f'{" or ".join(GRID_FIT_MODULES)}, which this mmsolo does not have'
    )


def suggest_grids_into(
    overrides: Dict[str, Any], cfg: Config, splits: Mapping[str, DataSplit]
) -> str:
    """Merge the grid settings fitted to the training objects into
    ``overrides``; returns the header line saying what was done."""
    train_ann = splits['train'].ann_file
    try:
        fitted = import_fit_grids()(cfg, train_ann)
    except ValueError as error:  # GridFitError among them
        raise ChildConfigError(f'--suggest-grids: {error}') from None
    if not fitted.changes:
        return "--suggest-grids: the base's grids fit the training objects."
    deep_merge(overrides, fitted.changes)
    return 'Grids fitted to the training objects (--suggest-grids).'


def read_classes(splits: Mapping[str, DataSplit]) -> tuple:
    """The training file's classes, checked against the other splits' and
    each image folder."""
    train = splits['train']
    classes, images = read_coco_categories(train.ann_file, '--train-ann')
    check_images('train', train, images)
    for name, data in splits.items():
        if name == 'train':
            continue
        other, images = read_coco_categories(data.ann_file, f'--{name}-ann')
        check_same_classes(train.ann_file, classes, data.ann_file, other)
        check_images(name, data, images)
    return classes


def make_child_config(
    base: str,
    out: str,
    splits: Mapping[str, DataSplit],
    load_from: Optional[str] = None,
    suggest_grids: bool = False,
) -> Tuple[Config, tuple]:
    """Write the child config of ``base`` for ``splits`` (``train``,
    ``val`` and optionally ``test``) to ``out``, atomically.

    Returns:
        The written config, loaded, and its classes.

    Raises:
        ChildConfigError: naming the missing or wrong input.
    """
    if not out.endswith('.py'):
        raise ChildConfigError(f'--out must be a .py file, got {out}')
    if load_from and '://' not in load_from and not osp.isfile(load_from):
        raise ChildConfigError(f'--load-from: no such file: {load_from}')
    base_cfg = check_base(base)
    classes = read_classes(splits)
    overrides = child_overrides(base_cfg, classes, splits, load_from)
    header = (
        f'Written by tools/misc/make_config.py: the {len(classes)} classes '
        f'of\n{splits["train"].ann_file}.\nRelative paths are relative to '
        'the folder the tools run from.'
    )
    cfg = load_config_text(config_text(base, out, overrides, header), out)
    if suggest_grids:
        header += '\n' + suggest_grids_into(overrides, cfg, splits)
    text = config_text(base, out, overrides, header)
    cfg = load_config_text(text, out)
    write_atomically(text.encode('utf-8'), out)
    return cfg, classes
