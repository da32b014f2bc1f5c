# SOLOv2-512 (light, accuracy) R50-DCN, 3x, in mmdet's architecture (DCNv2);
# the paper's model, with DCN v1, is solov2-light_r50-dcnv1_fpn_ms-3x_coco.py
# (mask APs: README.md in this folder).
_base_ = './solov2-light_r50_fpn_ms-3x_coco.py'

# DCNv2 in the backbone's stages 2-4 and in the last conv of each head
# branch; 3 convs of 256 channels per branch.
model = dict(
    backbone=dict(
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True),
    ),
    mask_head=dict(
        stacked_convs=3,
        feat_channels=256,
        scale_ranges=((1, 64), (32, 128), (64, 256), (128, 512), (256, 2048)),
        dcn_cfg=dict(type='DCNv2'),
        dcn_apply_to_all_conv=False,
    ),
)

# Trained at shorter side 352-512 (longer side at most 852), tested at 512.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[
            (852, 512),
            (852, 480),
            (852, 448),
            (852, 416),
            (852, 384),
            (852, 352),
        ],
        keep_ratio=True,
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(852, 512), keep_ratio=True),
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
