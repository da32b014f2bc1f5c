"""Interrupted training loses nothing: a run killed with SIGKILL in the middle
of an epoch and resumed with ``tools/train.py --resume`` ends with the weights
of a run never stopped; checkpoints are complete or absent."""

import glob
import os
import os.path as osp
import signal
import subprocess
import textwrap

import pytest
import torch

from mmsolo.datasets import write_split
from mmsolo.fileio import write_atomically

EPOCHS, ITERS_PER_EPOCH = 3, 4


# A run killed at a chosen step and resumed: run after the rest of the
# suite, alone (see `make test`).
pytestmark = pytest.mark.serial


def write_config(
    path, repo_root: str, data_root: str, num_workers: int
) -> str:
    """The quick-start model, epoch-based: 3 epochs of 4 iterations with
    random flips (drawn in the main process, or in ``num_workers`` workers
    started anew each epoch), SGD with momentum, a step in the learning
    rate, checkpoints each epoch keeping only the last one."""
    base = osp.join(
        repo_root, 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
    )
    path.write_text(
        textwrap.dedent(f"""
        _base_ = {base!r}
        train_dataloader = dict(
            batch_size=2, num_workers={num_workers}, persistent_workers=False,
            sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
            dataset=dict(data_root={data_root!r}))
        val_dataloader = None
        val_cfg = None
        val_evaluator = None
        test_dataloader = None
        test_cfg = None
        test_evaluator = None
        train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop',
                         max_epochs={EPOCHS})
        optim_wrapper = dict(
            _delete_=True, type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
            clip_grad=dict(max_norm=35, norm_type=2))
        param_scheduler = [dict(type='MultiStepLR', by_epoch=True,
                                milestones=[2], gamma=0.1)]
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(_delete_=True, type='mmsolo.AtomicCheckpointHook',
                            interval=1, by_epoch=True, max_keep_ckpts=1))
        log_processor = dict(by_epoch=True)
        randomness = dict(seed=0, deterministic=True)
        """)
    )
    return str(path)


def train_command(python: str, config: str, work_dir, *extra) -> list:
    return [
        python,
        'tools/train.py',
        config,
        '--work-dir',
        str(work_dir),
        *extra,
    ]


def final_checkpoint(work_dir) -> dict:
    # Loadable with torch's restricted unpickler (no HistoryBuffer, no NumPy
    # objects): mmdet's init_detector and tools/test.py read it too.
    return torch.load(
        osp.join(work_dir, f'epoch_{EPOCHS}.pth'),
        map_location='cpu',
        weights_only=True,
    )


@pytest.fixture(scope='module')
def shapes(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp('resume') / 'shapes'
    write_split(
        str(data), 'train', num_images=2 * ITERS_PER_EPOCH, seed=3, size=128
    )
    return f'{data}/'


@pytest.fixture(params=[0, 1], ids=['main_process', 'one_worker'])
def config(request, shapes, tmp_path, repo_root) -> str:
    return write_config(
        tmp_path / 'config.py', repo_root, shapes, num_workers=request.param
    )


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(
    config, tmp_path, repo_root, python
):
    whole_dir, killed_dir = tmp_path / 'whole', tmp_path / 'killed'
    # The uninterrupted run goes on beside the killed one, each on one
    # thread (the serial tests have the machine's two cores); the resumed
    # run too, so that all three compute alike to the last bit.
    one_thread = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    whole_log = tmp_path / 'whole.log'
    with open(whole_log, 'w') as log_file:
        whole_run = subprocess.Popen(
            train_command(python, config, whole_dir),
            cwd=repo_root,
            env=one_thread,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=lambda: os.umask(0o022),
        )
    # Killed after the second iteration of the last epoch.
    kill_after = f'Epoch(train) [{EPOCHS}][2/{ITERS_PER_EPOCH}]'
    # As a job scheduler does, the whole process group gets SIGKILL (a
    # dataloader worker orphaned by its killed parent may never exit).
    run = subprocess.Popen(
        train_command(python, config, killed_dir),
        cwd=repo_root,
        env=one_thread,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    killed_log = []
    for line in run.stdout:
        killed_log.append(line)
        if kill_after in line:
            os.killpg(run.pid, signal.SIGKILL)
            break
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, ''.join(killed_log)[-4000:]
    # The interval checkpoint of epoch 2 is there, epoch 3 never finished,
    # and max_keep_ckpts=1 has removed epoch 1 only after epoch 2 was safe.
    assert sorted(map(osp.basename, glob.glob(f'{killed_dir}/*.pth'))) == [
        f'epoch_{EPOCHS - 1}.pth'
    ]

    assert whole_run.wait(timeout=600) == 0, whole_log.read_text()[-4000:]
    # Written atomically, yet with the mode a plain open() gives under the
    # umask (mkstemp's 0600 does not survive the rename).
    for name in (f'epoch_{EPOCHS}.pth', 'last_checkpoint'):
        assert os.stat(whole_dir / name).st_mode & 0o777 == 0o644, name

    resumed = subprocess.run(
        train_command(python, config, killed_dir, '--resume'),
        cwd=repo_root,
        env=one_thread,  # as the runs it is compared with: same arithmetic
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-4000:]
    assert 'Auto resumed from the latest checkpoint' in log
    assert 'random generator states restored from the checkpoint' in log

    whole, again = final_checkpoint(whole_dir), final_checkpoint(killed_dir)
    assert whole['state_dict'].keys() == again['state_dict'].keys()
    for key, value in whole['state_dict'].items():
        assert torch.equal(value, again['state_dict'][key]), key
    momenta = [
        s['momentum_buffer'] for s in whole['optimizer']['state'].values()
    ]
    momenta_again = [
        s['momentum_buffer'] for s in again['optimizer']['state'].values()
    ]
    assert all(map(torch.equal, momenta, momenta_again))
    assert whole['param_schedulers'] == again['param_schedulers']


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    from mmsolo.fileio import write_atomically
    def stall(fd):  # the data is written, the rename has not happened
        print('written', flush=True)
        time.sleep(60)
    os.fsync = stall
    write_atomically(b'new' * 1000000, sys.argv[1])
    """)


def test_checkpoint_killed_while_written_keeps_the_previous_one(
    tmp_path, repo_root, python
):
    target = tmp_path / 'epoch_2.pth'
    target.write_bytes(b'old checkpoint')
    writer = subprocess.Popen(
        [python, '-c', KILLED_WRITER, str(target)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == 'written'
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert target.read_bytes() == b'old checkpoint'
    # Only the temporary file is left beside it, hidden and named as such.
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1
    assert leftovers[0].startswith('.epoch_2.pth.')
    assert leftovers[0].endswith('.tmp')


def test_write_error_leaves_target_and_no_temporary_file(
    tmp_path, monkeypatch
):
    target = tmp_path / 'last_checkpoint'
    target.write_text('epoch_1.pth')

    def failing_fsync(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='No space left'):
        write_atomically(b'epoch_2.pth', target)
    assert target.read_text() == 'epoch_1.pth'
    assert [p.name for p in tmp_path.iterdir()] == ['last_checkpoint']


@pytest.mark.parametrize(
    'umask,mode', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)]
)
def test_atomic_file_gets_the_mode_of_a_plain_open(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_atomically(b'x', tmp_path / 'new.pth')
        with open(tmp_path / 'plain.pth', 'wb') as plain:
            plain.write(b'x')
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / 'new.pth').st_mode & 0o777 == mode
    assert os.stat(tmp_path / 'plain.pth').st_mode & 0o777 == mode


def test_atomic_rewrite_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    target = tmp_path / 'last_checkpoint'
    target.write_text('epoch_1.pth')
    os.chmod(target, 0o640)
    write_atomically(b'epoch_2.pth', target)
    assert os.stat(target).st_mode & 0o777 == 0o640


def test_write_replaces_whole_file(tmp_path):
    target = tmp_path / 'sub' / 'epoch_1.pth'
    write_atomically(b'x' * 10, target)
    write_atomically(b'y', target)
    assert target.read_bytes() == b'y'
    assert [p.name for p in target.parent.iterdir()] == ['epoch_1.pth']
