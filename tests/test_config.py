"""Settings from the environment, Parse Server config files and flags."""

import json

import pytest

from bapp.cli import build_parser, settings_from_args
from bapp.config import ConfigError, Settings, apply_env, apply_parse_config


def test_env_variables(monkeypatch):
    settings = Settings()
    apply_env(settings, {"BAPP_PORT": "9000", "BAPP_MASTER_KEY_IPS": "10.0.0.0/8, ::1",
                         "BAPP_ALLOW_CLIENT_CLASS_CREATION": "true", "BAPP_BODY_LIMIT": "5mb"})
    assert settings.port == 9000
    assert settings.master_key_ips == ["10.0.0.0/8", "::1"]
    assert settings.allow_client_class_creation is True
    assert settings.body_limit == 5 * 1024 * 1024


def test_parse_server_config_is_mapped(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "appId": "myapp", "masterKey": "mk", "databaseURI": "mongodb://db/app", "port": 4000,
        "mountPath": "api/", "serverURL": "https://example.com/api", "allowClientClassCreation": True,
        "maxUploadSize": "30mb", "liveQuery": {"classNames": ["Message"]}, "maxLimit": 500,
    }))
    settings = Settings()
    apply_parse_config(settings, path)
    assert (settings.app_id, settings.master_key, settings.port) == ("myapp", "mk", 4000)
    assert settings.database_uri == "mongodb://db/app"
    assert settings.mount_path == "/api"
    assert settings.allow_client_class_creation is True
    assert settings.max_upload_size == 30 * 1024 * 1024
    assert settings.live_query_classes == ["Message"]
    assert settings.limits.max_limit == 500


def test_unknown_parse_option_is_refused_by_name(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "pushAdapter": {}, "fancy": 1}))
    with pytest.raises(ConfigError, match="unknown option\\(s\\): fancy, pushAdapter"):
        apply_parse_config(Settings(), path)


def test_flags_override_config(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "fromfile", "port": 4000}))
    monkeypatch.setenv("BAPP_PORT", "5000")
    args = build_parser().parse_args(["serve", "--config", str(path), "--port", "6000"])
    settings = settings_from_args(args)
    assert settings.app_id == "fromfile" and settings.port == 6000


def test_parse_options_bapp_does_not_support_are_refused_with_their_own_message(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"appId": "x", "loggerAdapter": {"module": "x"}, "verbose": True}))
    with pytest.raises(ConfigError, match="Parse Server option\\(s\\) bapp does not support: loggerAdapter"):
        apply_parse_config(Settings(), path)


def test_collection_prefix_is_mapped(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"collectionPrefix": "app1_", "logsFolder": "./logs"}))
    settings = Settings()
    apply_parse_config(settings, path)
    assert settings.collection_prefix == "app1_"
