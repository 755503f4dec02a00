"""Configuration from DATASET_API_* environment variables."""

import pytest

from app import SETTINGS, create_app
from app.settings import ConfigError
from tests.conftest import Api, issue_key


def test_environment_sets_the_store_and_rules(tmp_path, monkeypatch):
    path = tmp_path / "new" / "folder" / "store.json"
    monkeypatch.setenv("DATASET_API_DB_PATH", str(path))
    monkeypatch.setenv("DATASET_API_NAME_RULE", "legacy")
    monkeypatch.setenv("DATASET_API_EMBD_ID", "BAAI/bge-m3")
    monkeypatch.setenv("DATASET_API_LANGUAGE", "Chinese")
    monkeypatch.setenv("DATASET_API_MAX_CONTENT_LENGTH", "100")
    app = create_app({"TESTING": True})
    assert not path.parent.exists()  # made with the store, not as the app starts
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    assert path.parent.is_dir()
    assert api.create("My Dataset").json["data"]["dataset_name"] == "My Dataset"
    assert path.is_file()
    [record] = api.list().json["data"]
    assert (record["embd_id"], record["language"]) == ("BAAI/bge-m3", "Chinese")
    assert api.create("x" * 100).status_code == 413


@pytest.mark.parametrize("name, value, message", [
    ("NAME_RULE", "loose", "DATASET_API_NAME_RULE"),
    ("CACHE", "sometimes", "DATASET_API_CACHE must be on or off"),
    ("MAX_CONTENT_LENGTH", "lots", "DATASET_API_MAX_CONTENT_LENGTH"),
    ("MAX_CONTENT_LENGTH", "0", "DATASET_API_MAX_CONTENT_LENGTH"),
    ("LOG_FORMAT", "xml", "DATASET_API_LOG_FORMAT must be plain or json, not 'xml'"),
    ("METRICS_BIND", "9390", "DATASET_API_METRICS_BIND must be HOST:PORT or off"),
    ("METRICS_BIND", "localhost:65536", "DATASET_API_METRICS_BIND"),
    ("METRICS_BIND", "[::1]:", "DATASET_API_METRICS_BIND"),
])
def test_bad_values_refuse_to_start(tmp_path, monkeypatch, name, value, message):
    monkeypatch.setenv(f"DATASET_API_{name}", value)
    with pytest.raises(ValueError, match=message):
        create_app({"DB_PATH": str(tmp_path / "db.json")})


NUMBERS = [name for name, default in SETTINGS.items() if isinstance(default, (int, float))]


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("value", ["lots", "0", "-3", "nan", "inf", "true", ""])
def test_every_number_is_checked(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(f"DATASET_API_{name}", value)
    with pytest.raises(ConfigError, match=f"^DATASET_API_{name} must be a .*number above 0, "
                                          f"not '{value}'$"):
        create_app({"DB_PATH": str(tmp_path / "db.json")})


@pytest.mark.parametrize("name", ["DB_PATH", "NAME_RULE", "EMBD_ID", "LANGUAGE", "LOG_FORMAT",
                                  "METRICS_BIND"])
def test_text_settings_may_not_be_empty(monkeypatch, name):
    monkeypatch.setenv(f"DATASET_API_{name}", " ")
    with pytest.raises(ConfigError, match=f"^DATASET_API_{name} must not be empty$"):
        create_app()


def test_numbers_are_read_as_their_defaults_type(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_API_LOCK_TIMEOUT", "2.5")
    monkeypatch.setenv("DATASET_API_LIST_LIMIT", "7")
    app = create_app({"DB_PATH": str(tmp_path / "db.json")})
    assert (app.config["LOCK_TIMEOUT"], app.config["LIST_LIMIT"]) == (2.5, 7)
    monkeypatch.setenv("DATASET_API_LIST_LIMIT", "7.5")
    with pytest.raises(ConfigError, match="DATASET_API_LIST_LIMIT must be a whole number"):
        create_app({"DB_PATH": str(tmp_path / "db.json")})
