"""The run config of the benchmarks that train the quick start on a
generated set (``grid_fit_ap.py``, ``sliced_ap.py``)."""

import os.path as osp
from typing import Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


def write_quickstart_run_config(
    path: str, data_root: str, iters: int, classes: Sequence[str]
) -> None:
    """Write at ``path`` the quick start on the set at ``data_root`` (its
    ``classes``), shortened to ``iters`` iterations: the quick start's
    warm-up of 100 iterations (a fifth of the run when shorter), then the
    cosine decay to ``iters``, one validation and one checkpoint at the
    end, seed 0. The warm-up is not shortened with the run: with a
    warm-up of a twenty-fifth of it, the mask branch of some seeds never
    learned (docs/user_guides/grids.md, "Measured")."""
    warmup = max(1, min(100, iters // 5))
    ann = osp.join(data_root, 'annotations', 'instances_val.json')
    with open(path, 'w') as f:
        f.write(f"""_base_ = {osp.join(REPO, QUICKSTART)!r}
data_root = {data_root + '/'!r}
classes = {tuple(classes)!r}
model = dict(mask_head=dict(num_classes={len(classes)}))
train_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=dict(classes=classes)))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={ann!r})
test_evaluator = val_evaluator
train_cfg = dict(max_iters={iters}, val_interval={iters})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end={warmup}),
    dict(type='CosineAnnealingLR', by_epoch=False, begin={warmup},
         end={max(iters, warmup + 1)}, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval={iters}))
randomness = dict(seed=0)
""")
