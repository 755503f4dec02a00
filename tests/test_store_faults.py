"""The store when a commit's write, fsync or rename fails, and after a crash left its temp file."""

import errno
import os

import pytest

from app import store


class FailingOs:
    """`os` as app.store sees it, except that one function raises OSError(`code`)."""

    def __init__(self, name, code):
        self.name, self.code = name, code

    def __getattr__(self, name):
        if name == self.name:
            return self.fail
        return getattr(os, name)

    def fail(self, *args):
        raise OSError(self.code, os.strerror(self.code))


def names(api):
    return api.names(orderby="name", desc="false")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO], ids=errno.errorcode.get)
@pytest.mark.parametrize("step", ["writev", "fsync", "rename"])
def test_a_failed_commit_answers_500_and_changes_nothing(api, tmp_path, monkeypatch, caplog,
                                                        step, code):
    """A commit whose temp file cannot be written, synced or renamed: 500, store untouched."""
    assert api.create("before").status_code == 200
    found = (tmp_path / "db.json").read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(store, "os", FailingOs(step, code))
        response = api.create("during")
        assert response.status_code == 500
        assert response.json["code"] == 100
        assert names(api) == ["before"]
    assert os.strerror(code) in caplog.text
    assert (tmp_path / "db.json").read_bytes() == found
    assert sorted(path.name for path in tmp_path.iterdir()) == ["db.json", "db.json.lock"]
    assert api.create("after").status_code == 200
    assert names(api) == ["after", "before"]


def test_a_temp_file_left_by_a_crash_is_harmless_and_check_removes_it(api, runner, tmp_path):
    """A torn `.db.json.tmp` does not disturb reads or writes; `store check` removes it."""
    temp = tmp_path / ".db.json.tmp"
    assert api.create("a").status_code == 200
    temp.write_bytes(b'{"keys": {"1": {"id": "')
    assert names(api) == ["a"]
    assert api.create("b").status_code == 200
    temp.write_bytes(b'{"keys": {"1": {"id": "')
    found = (tmp_path / "db.json").read_bytes()
    result = runner.invoke(args=["store", "check"])
    assert result.exit_code == 0, result.output
    assert not temp.exists()
    assert (tmp_path / "db.json").read_bytes() == found
    assert names(api) == ["a", "b"]
