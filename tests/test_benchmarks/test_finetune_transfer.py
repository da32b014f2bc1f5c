"""benchmarks/finetune_transfer.py end to end with tiny numbers: a new
2-class set, the fine-tuning from a 3-class checkpoint and the run from
scratch, both validated every iteration, their curves in a JSON and a
PNG."""

import glob
import json
import os
import subprocess

from support import QUICKSTART, save_seeded_checkpoint


def test_two_curves_from_a_tiny_run(tmp_path, repo_root, python):
    checkpoint = save_seeded_checkpoint(
        os.path.join(repo_root, QUICKSTART), str(tmp_path / 'three.pth')
    )
    out_dir = tmp_path / 'results'
    done = subprocess.run(
        [
            python,
            'benchmarks/finetune_transfer.py',
            checkpoint,
            '--num-classes',
            '2',
            '--num-train',
            '4',
            '--num-val',
            '2',
            '--img-size',
            '128',
            '--max-size',
            '64',
            '--iters',
            '2',
            '--eval-interval',
            '1',
            '--work-dir',
            str(tmp_path / 'work'),
            '--out-dir',
            str(out_dir),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    (result_file,) = glob.glob(str(out_dir / 'finetune_transfer-*.json'))
    assert os.path.isfile(result_file[: -len('.json')] + '.png')
    with open(result_file) as f:
        result = json.load(f)
    assert result['classes'] == ['circle', 'square']
    runs = result['runs']
    assert set(runs) == {'from_checkpoint', 'from_scratch'}
    for run in runs.values():
        assert [point['iter'] for point in run['curve']] == [1, 2]
        for point in run['curve']:
            assert 0 <= point['coco/segm_mAP'] <= 1
    assert runs['from_checkpoint']['reinit_line'] == (
        'load_from: 2 keys re-initialised for 2 classes (checkpoint has 3): '
        'mask_head.conv_cls.weight (3, 128, 3, 3) -> (2, 128, 3, 3), '
        'mask_head.conv_cls.bias (3,) -> (2,)'
    )
    assert runs['from_scratch']['reinit_line'] is None
