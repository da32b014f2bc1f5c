# SOLOv2 panoptic R50-FPN, multi-scale 3x, COCO panoptic: the paper's
# Table 4 model (its PQ: README.md in this folder). The training of
# solov2_r50_fpn_ms-3x_coco.py with the panoptic model and data.
_base_ = [
    '../_base_/models/solov2-panoptic_r50_fpn.py',
    '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_3x.py',
    '../_base_/default_runtime.py',
]

# Multi-scale training: shorter side one of 640, 672, ..., 800.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='mmsolo.LoadPanopticAnnotations',
        backend_args={{_base_.backend_args}},
    ),
    dict(
        type='RandomChoiceResize',
        scales=[
            (1333, 800),
            (1333, 768),
            (1333, 736),
            (1333, 704),
            (1333, 672),
            (1333, 640),
        ],
        keep_ratio=True,
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
