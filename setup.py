"""Installs mmsolo; metadata lives in setup.cfg, dependencies in
requirements/ (runtime.txt, mminstall.txt)."""

from pathlib import Path

from setuptools import setup


def read_requirements(name: str) -> list:
    lines = Path(__file__).with_name('requirements').joinpath(name).read_text()
    return [
        line.strip()
        for line in lines.splitlines()
        if line.strip() and not line.startswith(('#', '-'))
    ]


setup(
    install_requires=read_requirements('runtime.txt')
    + read_requirements('mminstall.txt'),
    extras_require=dict(tests=read_requirements('tests.txt')),
)
