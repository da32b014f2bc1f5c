# LVIS v0.5 instance segmentation: 1230 categories on COCO 2017 images
# (data_root/train2017, data_root/val2017; LVIS v0.5 names images the COCO
# 2014 way, mmdet's LVISV05Dataset maps them, mmsolo's checks the file and
# the images first). Training images are resampled by repeat factor
# (ClassBalancedDataset, oversample_thr=1e-3, as in the LVIS paper and
# SOLOv2's LVIS experiment) and at multiple scales; evaluation is mmdet's
# LVISMetric (federated AP with APr/APc/APf; mmsolo's also scores an empty
# result set; needs `lvis`, which requirements/runtime.txt installs).
# The test pipeline and the test-time augmentation (tools/test.py --tta) are
# COCO's: the same images at the same scale.
_base_ = ['./coco_instance.py']

dataset_type = 'mmsolo.CheckedLVISV05Dataset'
data_root = 'data/lvis_v0.5/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[
            (1333, 640),
            (1333, 672),
            (1333, 704),
            (1333, 736),
            (1333, 768),
            (1333, 800),
        ],
        keep_ratio=True,
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='ClassBalancedDataset',
        oversample_thr=1e-3,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/lvis_v0.5_train.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline,
            backend_args=backend_args,
        ),
    ),
)
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_val.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
        backend_args=backend_args,
    ),
)
test_dataloader = val_dataloader

# SOLOv2 boxes are derived from its masks (model.test_cfg.mask_box): both
# APs are meaningful.
val_evaluator = dict(
    _delete_=True,
    type='mmsolo.EmptySafeLVISMetric',
    ann_file=data_root + 'annotations/lvis_v0.5_val.json',
    metric=['bbox', 'segm'],
    backend_args=backend_args,
)
test_evaluator = val_evaluator
