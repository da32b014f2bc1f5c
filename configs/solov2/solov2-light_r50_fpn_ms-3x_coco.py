# SOLOv2-448 (light, speed) R50, 3x, as mmdet's model zoo (its mask AP:
# README.md in this folder).
_base_ = './solov2_r50_fpn_ms-3x_coco.py'

# Light head: 2 convs of 256 channels per branch, 128 mask-feature channels,
# scale ranges for the smaller inputs.
model = dict(
    mask_feature_neck=dict(out_channels=128),
    mask_head=dict(
        stacked_convs=2,
        feat_channels=256,
        scale_ranges=((1, 56), (28, 112), (56, 224), (112, 448), (224, 896)),
    ),
)

# Trained at shorter side 352-512, tested at 448.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[
            (768, 512),
            (768, 480),
            (768, 448),
            (768, 416),
            (768, 384),
            (768, 352),
        ],
        keep_ratio=True,
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(768, 448), keep_ratio=True),
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
tta_pipeline = [*test_pipeline[:-1], {{_base_.tta_flip}}]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
