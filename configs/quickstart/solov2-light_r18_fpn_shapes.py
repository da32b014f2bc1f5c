# The CPU quick start: a light SOLOv2 trained from scratch on the synthetic
# shapes set (tools/misc/generate_shapes.py: 256x256 images, 3 classes,
# objects of 20-128 px) on 2 CPU cores.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/shapes/'
classes = ('circle', 'square', 'triangle')
image_size = 256

model = dict(
    type='mmsolo.SOLOv2',
    # Backbone and FPN in NHWC where the convolutions run in bfloat16 (a CPU
    # with native bfloat16, or CUDA), NCHW otherwise.
    channels_last='auto',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        # 64, not 32: a lone image of 32x32 or less would reach the last
        # stage as 1x1, which the training BatchNorm (norm_eval=False)
        # refuses. The 256x256 shapes need no padding either way.
        pad_size_divisor=64,
    ),
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None,
    ),
    neck=dict(
        type='FPN',
        in_channels=[32, 64, 128, 256],
        out_channels=64,
        start_level=0,
        num_outs=4,
    ),
    mask_feature_neck=dict(
        type='mmsolo.MaskFeatureNeck',
        in_channels=64,
        feat_channels=64,
        start_level=0,
        end_level=3,
        out_channels=64,
        mask_stride=4,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
    ),
    mask_head=dict(
        type='mmsolo.SOLOv2Head',
        num_classes=len(classes),
        in_channels=64,
        feat_channels=128,
        stacked_convs=2,
        strides=[8, 8, 16, 32],
        scale_ranges=((1, 32), (16, 64), (32, 128), (64, 2048)),
        pos_scale=0.2,
        num_grids=[32, 20, 12, 8],
        cls_down_index=0,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        loss_mask=dict(type='DiceLoss', use_sigmoid=True, loss_weight=3.0),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
    ),
    test_cfg=dict(
        nms_pre=500,
        score_thr=0.05,
        mask_thr=0.5,
        filter_thr=0.05,
        kernel='gaussian',
        sigma=2.0,
        max_per_img=100,
        # Boxes of the masks' main parts, not their tight boxes: a few stray
        # pixels far from a shape widen its tight box. A run of rows or
        # columns (between empty ones) counts when it holds at least
        # mask_box_min_part of the pixels of the mask's largest run; 1.0
        # keeps the largest run alone. mask_box='tight' gives mmdet's boxes.
        mask_box='main_parts',
        mask_box_min_part=1.0,
        # Boxes of the pixels whose probability is above 0.4 (the masks
        # stay those above mask_thr): the 1/4-scale masks round off the
        # shapes' corners. None: the boxes of the masks. (The box studies
        # behind both settings: benchmarks/README.md.)
        mask_box_thr=0.4,
    ),
)

# The 1000 training images are decoded, and their masks made, once: later
# epochs copy them from memory (mmsolo.CachedTransforms, bounded at 2 GiB).
train_pipeline = [
    dict(
        type='mmsolo.CachedTransforms',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        ],
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=(
            'img_id',
            'img_path',
            'ori_shape',
            'img_shape',
            'scale_factor',
        ),
    ),
]
# tools/test.py --tta: each image as it is and flipped horizontally, the
# masks of both views merged by SOLOv2TTAModel (a class-aware mask NMS).
tta_pipeline = [
    *test_pipeline[:-1],
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='RandomFlip', prob=0.0),
                dict(type='RandomFlip', prob=1.0),
            ],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=(
                        'img_id',
                        'img_path',
                        'ori_shape',
                        'img_shape',
                        'scale_factor',
                        'flip',
                        'flip_direction',
                    ),
                )
            ],
        ],
    ),
]
tta_model = dict(
    type='mmsolo.SOLOv2TTAModel',
    tta_cfg=dict(nms=dict(type='hard_mask_nms', iou_thr=0.5), max_per_img=100),
)
# No worker processes: on 2 cores a worker competes with the training
# step for a core, and the cached pipeline costs about 1 ms per image.
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmsolo.CheckedCocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmsolo.CheckedCocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmsolo.EmptySafeCocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric=['bbox', 'segm'],
)
test_evaluator = val_evaluator

max_iters = 2500
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# bfloat16 autocast on a CPU that computes it natively (AVX512-BF16, AMX),
# float32 elsewhere: the wrapper logs which and why.
optim_wrapper = dict(
    type='mmsolo.BF16OptimWrapper',
    device_type='cpu',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2),
)
# The lr is for 8 images per batch (one process): `tools/train.py
# --auto-scale-lr` scales it to the actual batch size.
auto_scale_lr = dict(enable=False, base_batch_size=8)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=100,
        end=max_iters,
        eta_min=1e-5,
    ),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='mmsolo.AtomicCheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1,
    ),
)
log_processor = dict(window_size=20, by_epoch=False)
# (A list replaces the base's: its two hooks are listed again.)
custom_hooks = [
    dict(type='mmsolo.NumClassesCheckHook'),
    dict(type='mmsolo.FiniteGradientsHook'),
]
randomness = dict(seed=0)
