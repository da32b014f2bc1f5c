# SOLOv2 R50, ms 3x, as the paper and mmdet's model zoo (their mask APs:
# README.md in this folder).
_base_ = [
    '../_base_/models/solov2_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_3x.py',
    '../_base_/default_runtime.py',
]

# Multi-scale training: shorter side one of 640, 672, ..., 800.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
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
