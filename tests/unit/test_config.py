"""harness.toml loading: discovery, validation, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    loaded = load_config(start=tmp_path)
    assert loaded.source is None
    assert loaded.config.journeys == ["journeys"]


def test_found_walking_up_and_targets_resolve(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text(
        'seed = 9\n[targets.staging]\nurl = "http://127.0.0.1:9000"\nallow_load = true\n'
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    loaded = load_config(start=nested)
    assert loaded.source == tmp_path / "harness.toml"
    target = loaded.config.targets["staging"].resolve("staging")
    assert target.api == "http://127.0.0.1:9000/api/v1"
    assert target.mobile == "http://127.0.0.1:9000/mobile/v2"
    assert target.allow_load


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.harness]\nseed = 4\n")
    assert load_config(start=tmp_path).config.seed == 4


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text("sed = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key `sed`; did you mean `seed`\?"):
        load_config(start=tmp_path)


def test_unknown_target_key(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text('[targets.x]\nurll = "http://a"\n')
    with pytest.raises(ConfigError, match=r"targets\.x\.urll.*did you mean `url`"):
        load_config(start=tmp_path)


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text('seed = "many"\n')
    with pytest.raises(ConfigError, match=r"`seed` = 'many' is invalid"):
        load_config(start=tmp_path)


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(start=tmp_path)


def test_target_needs_urls(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text('[targets.x]\nweb = "http://a/"\n')
    with pytest.raises(ConfigError, match="needs `url`"):
        load_config(start=tmp_path).config.targets["x"].resolve("x")
