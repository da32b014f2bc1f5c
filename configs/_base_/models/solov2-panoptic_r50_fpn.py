# SOLOv2 R50-FPN for panoptic segmentation (paper, section 3.2): the instance
# model plus a semantic branch of the mask-feature branch's design, fused the
# Panoptic FPN way. COCO panoptic: 80 thing and 53 stuff classes.
_base_ = './solov2_r50_fpn.py'

model = dict(
    type='mmsolo.PanopticSOLOv2',
    # Semantic maps are padded like images, with the ignore label.
    data_preprocessor=dict(pad_seg=True, seg_pad_value=255),
    semantic_head=dict(
        type='mmsolo.SOLOv2SemanticHead',
        num_things_classes=80,
        num_stuff_classes=53,
        in_channels=256,
        feat_channels=128,
        start_level=0,
        end_level=3,
        seg_stride=4,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        ignore_index=255,
        loss_seg=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=0.5,
        ),
    ),
    # mmdet's Panoptic FPN fusion, used as it is.
    panoptic_fusion_head=dict(type='HeuristicFusionHead'),
    # Panoptic FPN's fusion settings: instances scoring at least 0.6 are
    # laid by score, one more than half covered by earlier ones is dropped,
    # stuff under 4096 pixels becomes void.
    test_cfg=dict(
        panoptic=dict(score_thr=0.6, mask_overlap=0.5, stuff_area_limit=4096)
    ),
)

# Test-time augmentation merges instance predictions only: no tools/test.py
# --tta for the panoptic model.
tta_model = None
