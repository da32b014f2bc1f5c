import os
import subprocess
from types import SimpleNamespace

import pytest
import torch
from support import run_tool_here

from mmsolo.checkpoint import convert_mmdet_state_dict


def zoo_converter(repo_root, src, dst) -> SimpleNamespace:
    """tools/model_converters/solov2_zoo2mmsolo.py run in this process (it
    builds no model): ``returncode``, ``stdout``, ``stderr``."""
    code, out, err = run_tool_here(
        repo_root, 'tools/model_converters/solov2_zoo2mmsolo.py', src, dst
    )
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_cli_converts_mmdet_checkpoint(tmp_path, repo_root, python):
    from support import build_paired_solov2

    reference, ours = build_paired_solov2()
    src, dst = tmp_path / 'mmdet.pth', tmp_path / 'mmsolo.pth'
    classes = ('balloon', 'kite')
    torch.save(
        dict(
            state_dict=reference.state_dict(),
            meta=dict(
                dataset_meta=dict(classes=classes), mmdet_version='3.3.0'
            ),
        ),
        src,
    )
    done = subprocess.run(
        [python, 'tools/model_converters/mmdet2mmsolo.py', str(src), str(dst)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr
    # One line saying what was done.
    assert done.stdout.strip().splitlines() == [
        f'converted {len(ours.state_dict())} keys (mmdet layout): {src} -> '
        f'{dst}; meta kept (2 class names) with converted_from'
    ]
    assert os.stat(dst).st_mode & 0o777 == 0o644  # as a plain open() gives
    converted = torch.load(dst, weights_only=True)
    meta = converted['meta']
    assert meta['dataset_meta']['classes'] == classes
    assert meta['mmdet_version'] == '3.3.0'
    assert meta['converted_from']['file'] == 'mmdet.pth'
    assert meta['converted_from']['layout'] == 'mmdet'
    assert len(meta['converted_from']['sha256']) == 64
    state_dict = converted['state_dict']
    assert set(state_dict) == set(ours.state_dict())
    ours.load_state_dict(state_dict, strict=True)
    key = 'mask_feature_neck.level_convs.3.2.conv.weight'
    torch.testing.assert_close(
        state_dict[key],
        reference.state_dict()[
            'mask_head.mask_feature_head.convs_all_levels.3.conv2.conv.weight'
        ],
    )


def test_unmapped_keys_are_listed():
    state_dict = {
        'backbone.conv1.weight': torch.zeros(1),
        'roi_head.bbox_head.fc_cls.weight': torch.zeros(1),
        'rpn_head.rpn_conv.bias': torch.zeros(1),
    }
    with pytest.raises(KeyError) as error:
        convert_mmdet_state_dict(state_dict)
    message = str(error.value)
    assert '2 key(s)' in message
    assert 'roi_head.bbox_head.fc_cls.weight' in message
    assert 'rpn_head.rpn_conv.bias' in message


def test_cli_reports_bad_input_without_writing(tmp_path, repo_root):
    src, dst = tmp_path / 'faster_rcnn.pth', tmp_path / 'out.pth'
    torch.save({'roi_head.fc.weight': torch.zeros(1)}, src)
    tool = 'tools/model_converters/mmdet2mmsolo.py'
    code, _, err = run_tool_here(repo_root, tool, src, dst)
    assert code == 1
    assert 'roi_head.fc.weight' in err
    assert not dst.exists()
    (tmp_path / 'junk.pth').write_text('not a checkpoint')
    code, _, err = run_tool_here(repo_root, tool, tmp_path / 'junk.pth', dst)
    assert code == 1 and 'junk.pth' in err


def test_legacy_class_names_become_dataset_meta(tmp_path, repo_root, python):
    """mmdet 1.x/2.x checkpoints (the official SOLO zoo) keep their class
    names in meta['CLASSES']; mmdet 3's init_detector reads dataset_meta."""
    from support import build_paired_solov2

    reference, _ = build_paired_solov2()
    src, dst = tmp_path / 'old.pth', tmp_path / 'new.pth'
    torch.save(
        dict(
            state_dict=reference.state_dict(),
            meta=dict(CLASSES=['person', 'car']),
        ),
        src,
    )
    done = zoo_converter(repo_root, src, dst)
    assert done.returncode == 0, done.stderr
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['dataset_meta']['classes'] == ('person', 'car')
    assert meta['CLASSES'] == ['person', 'car']


def test_unknown_layout_names_keys_and_writes_nothing(
    tmp_path, repo_root, python
):
    src, dst = tmp_path / 'yolo.pth', tmp_path / 'out.pth'
    torch.save(
        {
            'model.0.conv.weight': torch.zeros(1),
            'model.24.m.0.bias': torch.zeros(1),
        },
        src,
    )
    done = zoo_converter(repo_root, src, dst)
    assert done.returncode == 1
    assert 'matches no known SOLOv2 layout' in done.stderr
    assert 'model.24.m.0.bias' in done.stderr
    assert not dst.exists()


def test_cli_converts_an_official_solo_file_into_its_config(
    tmp_path, repo_root, python
):
    """A file in the official SOLO zoo's form (mmdet v1 keys, meta with
    CLASSES and the mmdet version) through the one converter, its layout
    told by its keys: it loads strictly into the matching config."""
    from support import seeded_model
    from support.solo_source import (
        OFFICIAL_SOLOV2_ZOO,
        official_solov2_shapes,
        random_state_dict,
    )

    spec, config = OFFICIAL_SOLOV2_ZOO['SOLOv2_Light_448_R18_3x']
    src, dst = tmp_path / 'SOLOv2_LIGHT_448_R18_3x.pth', tmp_path / 'out.pth'
    classes = tuple(f'class{i}' for i in range(80))
    torch.save(
        dict(
            state_dict=random_state_dict(official_solov2_shapes(spec), seed=1),
            meta=dict(mmdet_version='1.0.0+unknown', CLASSES=classes),
        ),
        src,
    )
    done = zoo_converter(repo_root, src, dst)
    assert done.returncode == 0, done.stderr
    assert '(solo layout)' in done.stdout
    assert 'meta kept (80 class names)' in done.stdout
    converted = torch.load(dst, weights_only=True)
    assert converted['meta']['dataset_meta']['classes'] == classes
    assert converted['meta']['converted_from']['layout'] == 'solo'
    model = seeded_model(
        os.path.join(repo_root, 'configs', 'solov2', os.path.basename(config)),
        seed=None,
    )
    model.load_state_dict(converted['state_dict'], strict=True)
