# SOLOv2 with ResNet-50 and FPN (P2-P6), the paper's R50 model.
model = dict(
    type='mmsolo.SOLOv2',
    # Backbone and FPN in NHWC (deformable convs stay NCHW) with CUDA or on
    # a CPU with native bfloat16; NCHW on other CPUs.
    channels_last='auto',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
    ),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=0,
        num_outs=5,
    ),
    # The unified mask features (mmdet: mask_head.mask_feature_head).
    mask_feature_neck=dict(
        type='mmsolo.MaskFeatureNeck',
        in_channels=256,
        feat_channels=128,
        start_level=0,
        end_level=3,
        out_channels=256,
        mask_stride=4,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
    ),
    mask_head=dict(
        type='mmsolo.SOLOv2Head',
        num_classes=80,
        in_channels=256,
        feat_channels=512,
        stacked_convs=4,
        strides=[8, 8, 16, 32, 32],
        scale_ranges=((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)),
        pos_scale=0.2,
        num_grids=[40, 36, 24, 16, 12],
        cls_down_index=0,
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
        score_thr=0.1,
        mask_thr=0.5,
        filter_thr=0.05,
        kernel='gaussian',  # gaussian/linear
        sigma=2.0,
        max_per_img=100,
    ),
)

# tools/test.py --tta: the instances of the test-time views (the dataset
# config's tta_pipeline) merged by a class-aware mask NMS, as mmdet's
# DetTTAModel merges boxes (IoU 0.5, 100 per image).
tta_model = dict(
    type='mmsolo.SOLOv2TTAModel',
    tta_cfg=dict(nms=dict(type='hard_mask_nms', iou_thr=0.5), max_per_img=100),
)
