# SOLOv2-R50 on LVIS v0.5 (the paper's LVIS experiment: repeat-factor
# sampling 1e-3, multi-scale training, a 3x schedule as the Mask R-CNN 3x it
# compares with).
_base_ = [
    '../_base_/models/solov2_r50_fpn.py',
    '../_base_/datasets/lvis_v0.5_instance.py',
    '../_base_/schedules/schedule_3x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mask_head=dict(num_classes=1230),
    # LVIS scores up to 300 detections per image; more candidates and a
    # lower post-NMS threshold keep the low-score ones that rare categories
    # need (values of a public detectron2 SOLOv2 LVIS config).
    test_cfg=dict(
        nms_pre=2000, score_thr=0.05, filter_thr=0.0025, max_per_img=300
    ),
)

# 3x (36 epochs, steps at 27 and 33); validate every 12 epochs.
train_cfg = dict(val_interval=12)
