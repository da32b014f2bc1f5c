"""``make demo`` (tools/demo/make_demo.py) draws a trained model: the quick
start's checkpoint when there is one, else a short training first, saying
so (it drew an untrained R50 that found nothing)."""

import subprocess

from support import QUICKSTART, save_seeded_checkpoint, write_tiny_shapes


def make_demo(repo_root, python, *args):
    done = subprocess.run(
        [python, 'tools/demo/make_demo.py', *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout


def test_make_demo_uses_the_quickstart_checkpoint(tmp_path, repo_root, python):
    data = write_tiny_shapes(str(tmp_path / 'data'))
    checkpoint = save_seeded_checkpoint(
        f'{repo_root}/{QUICKSTART}', str(tmp_path / 'iter_2500.pth')
    )
    stdout = make_demo(
        repo_root,
        python,
        '--checkpoint',
        checkpoint,
        '--data-root',
        data,
        '--out-dir',
        str(tmp_path / 'out'),
    )
    assert f"drawing the quick start's model ({checkpoint})" in stdout
    assert 'training' not in stdout
    assert (tmp_path / 'out' / 'vis' / '000002.png').is_file()


def test_make_demo_trains_first_without_a_checkpoint(
    tmp_path, repo_root, python
):
    data = str(tmp_path / 'data')
    stdout = make_demo(
        repo_root,
        python,
        '--checkpoint',
        str(tmp_path / 'absent.pth'),
        '--short-iters',
        '2',
        '--data-root',
        data,
        '--train-images',
        '4',
        '--val-images',
        '2',
        '--work-dir',
        str(tmp_path / 'work'),
        '--out-dir',
        str(tmp_path / 'out'),
    )
    assert (
        f'no quick-start checkpoint at {tmp_path}/absent.pth (make '
        'quickstart trains it): training the quick-start model for 2 '
        'iterations on the shapes set first'
    ) in stdout
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    assert (tmp_path / 'out' / 'vis' / '000002.png').is_file()
    assert (tmp_path / 'out' / 'preds' / '000002.json').is_file()
