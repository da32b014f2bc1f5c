"""Sphinx configuration of mmsolo's documentation (MyST Markdown pages).

Build with ``make docs`` (warnings are errors)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

project = 'mmsolo'
author = 'mmsolo contributors'
copyright = 'mmsolo contributors'
# The version string of the package, read without importing it (importing
# mmsolo needs torch and mmcv).
release = re.search(
    r"__version__ = '([^']+)'", (ROOT / 'mmsolo' / 'version.py').read_text()
).group(1)
version = release

extensions = ['myst_parser']
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']

myst_enable_extensions = ['colon_fence', 'deflist']
# Headings up to ### get anchors, so pages can link to each other's sections.
myst_heading_anchors = 3

html_theme = 'furo'
html_title = f'mmsolo {release}'
# Blocks without a language (messages, logs) are shown as they are.
highlight_language = 'none'
