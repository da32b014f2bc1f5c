"""configs/solov2/metafile.yml, configs/solov2/README.md and
docs/model_zoo.md list every config of configs/solov2/ once."""

import glob
import os
import re

import yaml
from doc_text import read, repo_path

CONFIGS = sorted(
    os.path.relpath(path, repo_path())
    for path in glob.glob(repo_path('configs', 'solov2', '*.py'))
)


def metafile() -> dict:
    with open(repo_path('configs', 'solov2', 'metafile.yml')) as f:
        return yaml.safe_load(f)


def test_metafile_names_are_unique_and_configs_exist():
    models = metafile()['Models']
    names = [model['Name'] for model in models]
    assert len(names) == len(set(names))
    for model in models:
        assert os.path.isfile(repo_path(model['Config'])), model['Config']
        assert os.path.basename(model['Config']) == model['Name'] + '.py'


def test_metafile_lists_every_config():
    listed = sorted(model['Config'] for model in metafile()['Models'])
    assert listed == CONFIGS


def test_metafile_weights_are_urls_of_a_source_zoo():
    for model in metafile()['Models']:
        weights = model.get('Weights')
        if weights is not None:
            assert re.match(
                r'https://(download\.openmmlab\.com/mmdetection/|'
                r'cloudstor\.aarnet\.edu\.au/plus/s/)',
                weights,
            ), weights


def test_the_512_paper_figure_is_the_dcnv1_configs():
    by_name = {model['Name']: model for model in metafile()['Models']}
    dcnv1 = by_name['solov2-light_r50-dcnv1_fpn_ms-3x_coco']
    assert {
        r['Dataset']: r['Metrics']['mask AP'] for r in dcnv1['Results']
    } == {'COCO': 36.4, 'COCO test-dev': 37.1}
    assert by_name['solov2-light_r50-dcn_fpn_ms-3x_coco']['Results'] == []


def table_rows_naming(page: str, config: str) -> list:
    name = os.path.basename(config)
    return [
        line
        for line in read(page).splitlines()
        if line.startswith('|')
        and re.search(r'(?<![\w-])' + re.escape(name) + r'(?![\w-])', line)
    ]


def test_zoo_pages_have_one_row_per_config():
    for page in ('configs/solov2/README.md', 'docs/model_zoo.md'):
        counts = {
            config: len(table_rows_naming(page, config)) for config in CONFIGS
        }
        assert all(count == 1 for count in counts.values()), (page, counts)
