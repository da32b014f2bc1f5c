"""Small training and test runs of the quick-start model, for the tests of
the tools (mmsolo's and mmdet's)."""

import os

from mmsolo.datasets import write_split

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


def write_tiny_shapes(root: str, num_train: int = 4, num_val: int = 2) -> str:
    """A shapes set of ``num_train`` + ``num_val`` images under ``root``;
    returns ``root``."""
    write_split(root, 'train', num_images=num_train, seed=11)
    write_split(root, 'val', num_images=num_val, seed=12)
    return root


def write_tiny_config(
    path: str, repo_root: str, data_root: str, max_iters: int = 2
) -> str:
    """A config at ``path``: the quick start on the set at ``data_root``,
    batches of 2 in the main process, ``max_iters`` iterations, one
    validation and one checkpoint at the end. Returns ``path``."""
    data_root = data_root.rstrip('/') + '/'
    base = os.path.join(repo_root, QUICKSTART)
    with open(path, 'w') as f:
        f.write(f"""_base_ = '{base}'
data_root = '{data_root}'
train_dataloader = dict(batch_size=2, num_workers=0,
                        persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=2, num_workers=0,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(checkpoint=dict(interval={max_iters}),
                     logger=dict(interval=1))
""")
    return path


def run_tool_process(
    repo_root: str, python: str, script: str, *args, timeout: int = 300
) -> tuple:
    """``(CompletedProcess, stdout + stderr)`` of the tool ``script`` run
    by ``python`` in a new process in ``repo_root``, with the checkout on
    ``PYTHONPATH`` (as the tools' ``tools.`` imports need)."""
    import subprocess

    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            filter(None, [repo_root, os.environ.get('PYTHONPATH')])
        ),
    )
    done = subprocess.run(
        [python, script, *map(str, args)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, done.stdout + done.stderr


def run_tool_here(repo_root: str, script: str, *args) -> tuple:
    """``(exit status, stdout, stderr)`` of the tool ``script`` (relative
    to ``repo_root``) run as ``__main__`` in this process with ``args``, as
    the shell would run it but without a new interpreter's start-up (the
    imports of torch, mmengine and mmdet). For tools that build no model
    and for the paths that stop before one is built: argument and input
    checks. It runs in ``repo_root``, as the tests' subprocesses do. A
    ``SystemExit`` with a message is reported as the interpreter
    does: the message on stderr and status 1."""
    import contextlib
    import io
    import runpy
    import sys

    argv, cwd, out, err = sys.argv, os.getcwd(), io.StringIO(), io.StringIO()
    sys.argv = [script, *map(str, args)]
    os.chdir(repo_root)  # relative paths as the shell's in the checkout
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(
                os.path.join(repo_root, script), run_name='__main__'
            )
        code = 0
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            err.write(f'{code}\n')
            code = 1
    finally:
        sys.argv = argv
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()
