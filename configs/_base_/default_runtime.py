default_scope = 'mmsolo'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='mmsolo.AtomicCheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
)

# NumClassesCheckHook stops a run whose model.*.num_classes differs from the
# dataset's classes before its first step; FiniteGradientsHook stops one at
# the first NaN/inf gradient, before the optimizer step (a NaN/inf loss is
# stopped by the SOLOv2 detector itself). A config that sets its own
# custom_hooks keeps them by listing them again.
custom_hooks = [
    dict(type='mmsolo.NumClassesCheckHook'),
    dict(type='mmsolo.FiniteGradientsHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='mmsolo.PanopticDetLocalVisualizer',
    vis_backends=vis_backends,
    name='visualizer',
)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
