from pathlib import Path

import pytest

from auditor.config import find_config, load_profile
from auditor.errors import ConfigError

VALID = """
[profiles.prod]
fail_on = "medium"
rule_paths = ["extra-rules"]

[profiles.prod.aws]
profile = "audit-readonly"
regions = ["us-east-1", "eu-west-1"]
endpoint_url = "http://127.0.0.1:5000"

[profiles.prod.scan]
object_sample_size = 5

[profiles.prod.classification]
weights_extensions = [".bin"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return path


def test_valid_profile_is_loaded_with_types_and_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, VALID), "prod")
    assert profile.fail_on == "medium"
    assert profile.providers["aws"]["regions"] == ["us-east-1", "eu-west-1"]
    assert profile.providers["aws"]["endpoint_url"] == "http://127.0.0.1:5000"
    assert profile.scan.object_sample_size == 5
    assert profile.scan.max_workers == 8
    assert profile.classification.weights_extensions == (".bin",)
    assert profile.classification.data_extensions  # untouched lists keep their defaults
    assert profile.rule_paths == [(tmp_path / "extra-rules").resolve()]


@pytest.mark.parametrize(("text", "location", "words"), [
    (VALID.replace('profile = "audit-readonly"', 'profil = "x"'), "profiles.prod.aws.profil", "unknown key"),
    (VALID.replace('regions = ["us-east-1", "eu-west-1"]', 'regions = "us-east-1"'),
     "profiles.prod.aws.regions", "must be a list"),
    (VALID.replace('regions = ["us-east-1", "eu-west-1"]', 'regions = ["us-east-1", 3]'),
     "profiles.prod.aws.regions[1]", "must be a string"),
    (VALID.replace("object_sample_size = 5", "object_sample_size = true"),
     "profiles.prod.scan.object_sample_size", "must be an integer"),
    (VALID.replace("object_sample_size = 5", "object_sample_size = -1"),
     "profiles.prod.scan.object_sample_size", "negative"),
    (VALID.replace('fail_on = "medium"', 'fail_on = "urgent"'), "profiles.prod.fail_on", "one of"),
    (VALID.replace("[profiles.prod.scan]", "[profiles.prod.scna]"), "profiles.prod.scna", "unknown key"),
    (VALID + "\n[elsewhere]\nx = 1\n", "elsewhere", "unknown key"),
    ('[profiles.prod]\nfail_on = "high"\n', "profiles.prod", "names no provider"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, location: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_profile(path, "prod")
    assert caught.value.source == str(path)
    assert caught.value.location == location
    assert words in caught.value.message


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no profile 'dev'.*prod"):
        load_profile(write(tmp_path, VALID), "dev")


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.prod\nregions = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(path, "prod")
    assert caught.value.source == str(path)
    assert "line 1" in caught.value.message


def test_config_is_found_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no audit\.toml"):
        find_config(None)
    write(tmp_path, VALID)
    assert find_config(None) == tmp_path / "audit.toml"


@pytest.mark.parametrize(("name", "provider"), [("prod", "aws"), ("gcp-prod", "gcp")])
def test_the_shipped_example_is_valid(name: str, provider: str) -> None:
    example = Path(__file__).parent.parent / "audit.example.toml"
    assert list(load_profile(example, name).providers) == [provider]
