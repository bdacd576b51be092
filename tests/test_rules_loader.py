"""The strict rule loader: valid files load, every mistake is a RuleError at the right line."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor import plugins
from auditor.errors import RuleError
from auditor.rules.loader import ENTRY_POINT_GROUP, load_rules, parse_rule
from auditor.rules.model import YamlRule

# every line of this rule is numbered in the comments of the cases below
VALID = textwrap.dedent("""\
    id: aws.s3.test-rule
    title: A test rule
    severity: high
    resource_type: aws.s3.bucket
    applies_to: {attr: classification, in: [training-data, model-weights]}
    condition:
      any:
        - {attr: encryption, exists: false}
        - {attr: tags.owner, equals: NO}
    message: "{name} in {region} is {encryption.algorithm}"
    evidence: [encryption]
    rationale: Because.
    remediation:
      text: Fix it.
      cli: aws s3api put-bucket-encryption --bucket B
      terraform: resource "x" "y" {}
    references:
      - https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html
    fixtures:
      pass:
        - - &bucket
            id: arn:aws:s3:::b
            type: aws.s3.bucket
            account: "111122223333"
            region: us-east-1
            name: b
            attributes: &attributes {encryption: {algorithm: AES256}, created: 2024-01-01T00:00:00Z}
      fail:
        - description: no encryption
          resources:
            - {<<: *bucket, attributes: {<<: *attributes, encryption: null}}
    """)


def write(tmp_path: Path, text: str, name: str = "rule.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(text: str, source: str = "rules/x.yaml") -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(text, source)
    return caught.value


def test_a_valid_rule_loads_with_its_fields() -> None:
    rule = parse_rule(VALID, "rules/x.yaml")
    assert (rule.id, rule.title, rule.severity, rule.resource_type) == (
        "aws.s3.test-rule", "A test rule", "high", "aws.s3.bucket")
    assert rule.evidence == ("encryption",)
    assert rule.remediation.to_dict() == {
        "text": "Fix it.", "cli": "aws s3api put-bucket-encryption --bucket B",
        "terraform": 'resource "x" "y" {}'}
    assert rule.references == (
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html",)
    assert rule.line == 1 and rule.source == "rules/x.yaml"
    assert [(f.expected, f.description, f.subject_id) for f in rule.fixtures] == [
        ("pass", "", "arn:aws:s3:::b"), ("fail", "no encryption", "arn:aws:s3:::b")]


def test_yaml_merge_keys_fill_in_fixture_fields() -> None:
    failing = parse_rule(VALID, "x.yaml").fixtures[1].inventory.get("arn:aws:s3:::b")
    assert failing is not None
    assert failing.region == "us-east-1" and failing.attributes["encryption"] is None


def test_yaml_11_booleans_and_timestamps_stay_strings() -> None:
    rule = parse_rule(VALID, "x.yaml")
    # `equals: NO` is the string "NO" (not False), a timestamp stays the string it was
    assert rule.condition.parts[1].argument == "NO"  # type: ignore[attr-defined]
    subject = rule.fixtures[0].inventory.get("arn:aws:s3:::b")
    assert subject is not None and subject.attributes["created"] == "2024-01-01T00:00:00Z"


def replace(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize(("text", "line", "words"), [
    (replace("rationale: Because.", "rationale: Because.\nrisk: high"), 13, "unknown key 'risk'"),
    (replace("title: A test rule\n", ""), 1, "missing the field 'title'"),
    (replace("severity: high", "severity: 3"), 3, "severity must be a string, found integer"),
    (replace("severity: high", "severity: urgent"), 3, "severity must be one of"),
    (replace("resource_type: aws.s3.bucket", "resource_type: aws.s3.bukket"), 4,
     "unknown resource_type 'aws.s3.bukket'"),
    (replace("id: aws.s3.test-rule", "id: aws.s3.Test_Rule"), 1, "<provider>.<service>"),
    (replace("id: aws.s3.test-rule", "id: gcp.storage.test-rule"), 4, "provider 'gcp'"),
    (replace("exists: false}", "exist: false}"), 8, "unknown operator 'exist'"),
    (replace("any:\n", "anyof:\n"), 7, "unknown condition 'anyof'"),
    (replace("exists: false}", "exists: maybe}"), 8, "'exists' needs true or false"),
    (replace("{attr: tags.owner, equals: NO}", "{attr: name, matches: '(unclosed'}"), 9,
     "valid regular expression"),
    (replace("{attr: tags.owner, equals: NO}", "{attr: name, equals: a, in: [b]}"), 9,
     "exactly one operator"),
    (replace("{attr: tags.owner, equals: NO}", "{attr: name, each: x, all: {attr: a, exists: true}}"),
     9, "cannot be both 'attr' and 'each'"),
    (replace("{attr: tags.owner, equals: NO}", "{each: object_sample, some: {attr: key, exists: true}}"),
     9, "exactly one of 'any' or 'all'"),
    (replace("{attr: tags.owner, equals: NO}", "{access: read, who: strangers}"), 9,
     "'who' must be one of"),
    (replace("{attr: tags.owner, equals: NO}", "{access: peek}"), 9, "'access' must be one of"),
    (replace("{attr: tags.owner, equals: NO}", "{access: read, count_gt: -1}"), 9,
     "count_gt must be 0 or more"),
    (replace("{attr: tags.owner, equals: NO}",
             "{references: {type: aws.kms.kee, attr: x}, any: {attr: a, exists: true}}"), 9,
     "'type' must be one of"),
    (replace("resource_type: aws.s3.bucket", "resource_type: aws.kms.key").replace(
        "{attr: tags.owner, equals: NO}", "{s3_data_events_logged: read}"), 9,
     "applies to aws.s3.bucket, not aws.kms.key"),
    (replace("{attr: tags.owner, equals: NO}", "{s3_data_events_logged: sometimes}"), 9,
     "must be one of read, write"),
    (replace("  any:\n    - {attr: encryption, exists: false}\n    - {attr: tags.owner, equals: NO}",
             "  any: []"), 7, "needs at least one condition"),
    (replace('message: "{name} in {region}', 'message: "{name!r} in {region}'), 10,
     "is not a field name"),
    (replace('message: "{name} in {region}', 'message: "{name in {region}'), 10, "unmatched"),
    (replace("evidence: [encryption]", "evidence: [encryption, 'a b']"), 11,
     "not an attribute path"),
    (replace("  - https://docs", "  - http://docs"), 18, "must be an https:// URL"),
    (replace("  terraform:", "  cloudformation: x\n  terraform:"), 16,
     "unknown key 'cloudformation' in remediation"),
    (replace("title: A test rule", "title: A test rule\ntitle: Again"), 3, "duplicate key 'title'"),
    (replace("  fail:", "  maybe:"), 28, "unknown key 'maybe' in fixtures"),
    (replace("        type: aws.s3.bucket", "        type: aws.iam.user"), 21,
     "must be a aws.s3.bucket, not aws.iam.user"),
    (replace("        name: b\n", "        name: b\n        colour: red\n"), 27,
     "unknown key 'colour'"),
    (replace("        region: us-east-1", "        region: 7"), 21,
     "expected str, found int"),
    (replace("        type: aws.s3.bucket", "        type: aws.s3.bucket\n"
             "        tags: {owner: [a]}"), 21, "tags.owner"),
])
def test_a_mistake_is_an_error_at_its_line(text: str, line: int, words: str) -> None:
    error = error_for(text)
    assert error.source == "rules/x.yaml"
    assert error.location == f"line {line}", str(error)
    assert words in error.message, str(error)
    assert str(error).startswith(f"rules/x.yaml:line {line}: ")


def test_a_yaml_syntax_error_names_a_line() -> None:
    error = error_for(replace("rationale: Because.", "rationale: [unclosed"))
    assert error.location is not None and error.location.startswith("line ")
    assert "not valid YAML" in error.message


def test_an_empty_file_is_an_error() -> None:
    assert "empty" in error_for("").message


def test_a_file_that_is_not_a_mapping_is_an_error() -> None:
    error = error_for("- just\n- a list\n")
    assert error.location == "line 1" and "must be a mapping" in error.message


def test_python_tags_are_refused() -> None:
    error = error_for(replace("rationale: Because.", "rationale: !!python/object:os.system ls"))
    assert error.location == "line 12" and "not valid YAML" in error.message


def test_load_rules_reads_files_and_directories(tmp_path: Path) -> None:
    folder = tmp_path / "pack" / "aws" / "s3"
    folder.mkdir(parents=True)
    write(folder, VALID, "test-rule.yaml")
    write(tmp_path, replace("id: aws.s3.test-rule", "id: aws.s3.other-rule"), "other.yml")
    rules = load_rules([tmp_path / "pack", tmp_path / "other.yml"])
    assert [r.id for r in rules] == ["aws.s3.other-rule", "aws.s3.test-rule"]
    assert rules[1].source == str(folder / "test-rule.yaml")


def test_a_duplicate_id_names_both_files_and_lines(tmp_path: Path) -> None:
    first = write(tmp_path, VALID, "a.yaml")
    second = write(tmp_path, "# the same id again\n" + VALID, "b.yaml")
    with pytest.raises(RuleError) as caught:
        load_rules([first, second])
    assert caught.value.source == str(second) and caught.value.location == "line 2"
    assert f"already defined in {first} line 1" in caught.value.message


def test_a_bad_file_is_never_skipped(tmp_path: Path) -> None:
    write(tmp_path, VALID, "good.yaml")
    write(tmp_path, replace("severity: high", "severity: urgent"), "bad.yaml")
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path])
    assert caught.value.source == str(tmp_path / "bad.yaml")


def test_missing_paths_and_empty_directories_are_errors(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no such rule file"):
        load_rules([tmp_path / "missing"])
    with pytest.raises(RuleError, match="no rule files"):
        load_rules([tmp_path])


def test_bundled_rules_load_from_the_package() -> None:
    rules = load_rules()
    ids = [r.id for r in rules]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert "aws.s3.sensitive-public-read" in ids
    public_read = next(r for r in rules if r.id == "aws.s3.sensitive-public-read")
    assert isinstance(public_read, YamlRule) and public_read.severity == "critical"


# ---------------------------------------------------------------- Python rules (entry points)

PLUGIN_MODULE = '''
from auditor.rules.model import Remediation, Verdict

class NamedBucketRule:
    id = "{rule_id}"
    title = "Bucket named bad"
    severity = "{severity}"
    resource_type = "aws.s3.bucket"
    remediation = Remediation("Rename it.")
    references = ()
    fixtures = ()
    source = "test plugin"

    def evaluate(self, resource, context):
        return [Verdict("fail" if resource.name == "bad" else "pass", "bad name")]

def rules():
    return [NamedBucketRule()]
'''


@pytest.fixture
def plugin_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Installs a real distribution (a .dist-info with entry_points.txt) on sys.path."""

    modules: list[str] = []

    def install(rule_id: str, severity: str = "low") -> None:
        module = f"auditor_test_rules_{len(modules)}"
        modules.append(module)
        (tmp_path / f"{module}.py").write_text(
            PLUGIN_MODULE.format(rule_id=rule_id, severity=severity), encoding="utf-8")
        info = tmp_path / "auditor_test_rules-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: auditor-test-rules\n"
                                       "Version: 1.0\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntest = {module}:rules\n",
                                               encoding="utf-8")
        plugins.registry.cache_clear()

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install
    monkeypatch.undo()
    for module in modules:
        sys.modules.pop(module, None)
    plugins.registry.cache_clear()


def test_python_rules_load_through_entry_points(plugin_distribution) -> None:
    plugin_distribution("aws.s3.named-bad")
    rule = next(r for r in load_rules() if r.id == "aws.s3.named-bad")
    assert rule.title == "Bucket named bad" and not isinstance(rule, YamlRule)
    assert rule.source == "test plugin"


def test_an_invalid_python_rule_is_an_error(plugin_distribution) -> None:
    plugin_distribution("aws.s3.named-bad", severity="dire")
    with pytest.raises(RuleError, match=r"entry point 'test'.*needs a severity"):
        load_rules()


def test_a_python_rule_cannot_reuse_a_rule_file_id(plugin_distribution) -> None:
    plugin_distribution("aws.s3.sensitive-public-read")
    with pytest.raises(RuleError) as caught:
        load_rules()
    assert caught.value.source == "test plugin"
    assert "sensitive-public-read.yaml line 1" in caught.value.message
