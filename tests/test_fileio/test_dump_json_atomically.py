"""dump_json_atomically writes the whole JSON document or, when the object
cannot be serialised, leaves the previous file untouched."""

import json

import pytest

from mmsolo.fileio import dump_json_atomically


def test_writes_json_with_the_given_indent(tmp_path):
    target = tmp_path / 'summary.json'
    dump_json_atomically({'a': [1, 2]}, target, indent=2)
    assert target.read_text() == json.dumps({'a': [1, 2]}, indent=2)
    dump_json_atomically({'b': 3}, str(target))
    assert target.read_text() == '{"b": 3}'


def test_an_object_json_cannot_hold_leaves_the_old_file(tmp_path):
    target = tmp_path / 'summary.json'
    target.write_text('{"old": true}')
    with pytest.raises(TypeError, match='not JSON serializable'):
        dump_json_atomically({'bad': object()}, target)
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ['summary.json']
