# Ablation of the quick start (README, "tried"): progressive resizing, the
# training batches at 1/2 size for the first 1000 iterations, at 3/4 up to
# 1700, then at full size (mmsolo.ProgressiveResize in the preprocessor's
# batch_augments; the val set stays at 256x256). Measured on 2026-12-03:
# mask AP 0.491 / box AP 0.503 against 0.594-0.603 for the quick start, and
# only ~20% less training time: SOLO's grids (32, 20, 12, 8 cells) do not
# shrink with the image, so the head costs as much on a 128x128 batch
# (0.24-0.33 s per step against 0.39-0.52 s at 256x256).
#   python tools/quickstart.py --config \
#       configs/quickstart/ablations/solov2-light_r18_fpn_shapes_progressive-resize.py \
#       --work-dir work_dirs/quickstart-progressive \
#       --out-dir outputs/quickstart-progressive
_base_ = '../solov2-light_r18_fpn_shapes.py'

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='mmsolo.ProgressiveResize', scales=[0.5, 0.75, 1.0],
             milestones=[1000, 1700], size_divisor=64)
    ]))
