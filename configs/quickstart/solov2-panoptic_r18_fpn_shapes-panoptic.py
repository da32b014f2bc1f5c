# The CPU panoptic quick start: the quick-start SOLOv2 plus a semantic head,
# trained from scratch on the synthetic panoptic set (tools/misc/
# generate_shapes.py --panoptic: the shapes as things over sky, ground and
# water bands as stuff, COCO panoptic PNG + JSON), evaluated by PQ.
_base_ = ['./solov2-light_r18_fpn_shapes.py']

data_root = 'data/shapes_panoptic/'
thing_classes = ('circle', 'square', 'triangle')
stuff_classes = ('sky', 'ground', 'water')
metainfo = dict(
    classes=thing_classes + stuff_classes,
    thing_classes=thing_classes,
    stuff_classes=stuff_classes,
)

model = dict(
    type='mmsolo.PanopticSOLOv2',
    # Not measured in NHWC (the instance quick start is): the default
    # memory format, as the panoptic figures in README were trained.
    channels_last=False,
    data_preprocessor=dict(pad_seg=True, seg_pad_value=255),
    # The other settings are the head's defaults: P2..P5, stride 4,
    # ignore label 255, cross-entropy of weight 0.5.
    semantic_head=dict(
        type='mmsolo.SOLOv2SemanticHead',
        num_things_classes=len(thing_classes),
        num_stuff_classes=len(stuff_classes),
        in_channels=64,
        # 32, not the mask branch's 64: the bands are easy to tell apart,
        # and a narrower fusion keeps the steps cheaper.
        feat_channels=32,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
    ),
    panoptic_fusion_head=dict(type='HeuristicFusionHead'),
    # 256x256 images: stuff under 1% of the image becomes void.
    test_cfg=dict(
        panoptic=dict(score_thr=0.3, mask_overlap=0.5, stuff_area_limit=512)
    ),
)

train_pipeline = [
    dict(
        type='mmsolo.CachedTransforms',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(
                type='mmsolo.LoadPanopticAnnotations',
                with_bbox=True,
                with_mask=True,
                with_seg=True,
            ),
        ],
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='mmsolo.LoadPanopticAnnotations',
        with_bbox=True,
        with_mask=True,
        with_seg=True,
    ),
    dict(
        type='PackDetInputs',
        meta_keys=(
            'img_id',
            'img_path',
            'ori_shape',
            'img_shape',
            'scale_factor',
            'seg_map_path',
            'segments_info',
        ),
    ),
]
train_dataloader = dict(
    dataset=dict(
        type='CocoPanopticDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        pipeline=train_pipeline,
    )
)
val_dataloader = dict(
    dataset=dict(
        type='CocoPanopticDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='annotations/panoptic_val/'),
        pipeline=test_pipeline,
    )
)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='mmsolo.CocoPanopticMetric')
# Test-time augmentation merges instance predictions only: no --tta here.
tta_model = None
tta_pipeline = None
test_evaluator = val_evaluator

max_iters = 1800
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
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
default_hooks = dict(checkpoint=dict(interval=max_iters))
