"""Hostile input: every reader of a file from elsewhere gives a result or its documented error
(ConfigError, InputError, RuleError) naming the file (and the place, where there is one),
never another exception, on random documents, mutations of valid ones, huge documents, deep
nesting (JSON and YAML nested 10,000 deep: Python's parsers raise RecursionError), odd Unicode,
lone surrogates and NUL bytes.

Readers: audit.toml (auditor/config.py), inventory.json (auditor/inventory/io.py), Cloud Asset
Inventory exports (auditor/scanners/gcp/cai.py), rule files (auditor/rules/loader.py), IAM
policies (auditor/access/aws/policy.py: tests/test_policy_properties.py has the random
documents; the huge and deep ones are here), and the activity logs (auditor/activity).

And files from elsewhere are data, never code: no module of the auditor can unpickle, eval,
exec or load YAML with anything but a safe loader (checked on the source's syntax tree).
"""

from __future__ import annotations

import ast
import copy
import json
import math
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditor
from auditor.access.aws.evaluator import NamedPolicy, PolicySet, Request, evaluate
from auditor.access.aws.policy import parse_policy
from auditor.config import Profile, load_profile
from auditor.errors import AuditorError, ConfigError, InputError, RuleError
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.inventory.io import parse, to_json
from auditor.rules.loader import parse_rule
from auditor.scanners.aws.options import AwsOptions
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp.cai import read_export

REPOSITORY = Path(__file__).resolve().parent.parent
CAI_EXPORT = REPOSITORY / "tests" / "data" / "gcp" / "gcp-ml-org.cai.jsonl"
RULE_FILE = REPOSITORY / "rules" / "aws" / "s3" / "sensitive-block-public-access-off.yaml"
DEEP = 10_000
HUGE = 10_000
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# -- strategies -----------------------------------------------------------------------------------
TRICKY = ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\u2028", "e\u0301", "💥", "${aws:username}",
          "*", "", " ", "\\", '"', "'", "\n", "a" * 5000, "../../etc/passwd", "<script>", "%s%n"]
# any code point, lone surrogates and NUL included (hypothesis leaves surrogates out by default)
odd_text = st.one_of(st.sampled_from(TRICKY),
                     st.text(st.characters(exclude_categories=()), max_size=30))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**40),
                    st.floats(allow_nan=False, allow_infinity=False), odd_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(odd_text, inner, max_size=4), max_leaves=25)


def raw_bytes(text: str) -> bytes:
    """The text as a file would hold it; a lone surrogate becomes invalid UTF-8."""
    return text.encode("utf-8", "surrogatepass")


def deep_json(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def expect(error: type[AuditorError], call: Callable[[], Any], *, source: str,
           positioned: bool = False) -> Any:
    """``call()``'s result, or None when it raised ``error`` naming ``source`` (and a place
    when ``positioned``); any other exception fails the test."""
    try:
        return call()
    except error as exc:
        assert exc.source == source, exc
        assert not positioned or exc.location, exc
        return None


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with a few values replaced, removed or added at random places."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = _random_place(draw, document)
        if parent is None:
            return draw(json_values)
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "remove":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(odd_text)] = draw(json_values)
        else:
            parent.insert(key, draw(json_values))
    return document


def _random_place(draw: st.DrawFn, document: Any) -> tuple[Any, Any]:
    parent, key = None, None
    node = document
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, draw(st.sampled_from(keys))
        node = node[key]
    if parent is None and isinstance(document, dict | list) and document:
        keys = list(document) if isinstance(document, dict) else list(range(len(document)))
        parent, key = document, draw(st.sampled_from(keys))
    return parent, key


# -- audit.toml -----------------------------------------------------------------------------------
def toml_value(value: Any) -> str:
    """A TOML inline value (TOML has no null: None becomes an empty inline table)."""
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF:
            escaped.append(f"\\u{ord(char):04X}")  # a surrogate escape is invalid TOML
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


PROFILE_KEYS = ["fail_on", "output_dir", "rule_paths", "suppressions", "state"]
SECTION_KEYS = {
    "aws": ["profile", "regions", "endpoint_url", "organization", "role_name", "accounts",
            "exclude_accounts"],
    "gcp": ["organization", "folders", "projects", "storage_endpoint", "cai_export"],
    "scan": ["object_sample_size", "object_acl_sample_size", "max_workers"],
    "classification": ["weights_extensions", "data_key_patterns", "tag_keys", "data_name_words"],
}
config_values = st.one_of(scalars, st.datetimes(), st.lists(scalars, max_size=3),
                          st.lists(odd_text, max_size=3),
                          st.dictionaries(odd_text, scalars, max_size=3))


@st.composite
def profile_documents(draw: st.DrawFn) -> str:
    """A profile whose tables hold random values under known and unknown keys."""
    lines = ["[profiles.p]"]
    for key in draw(st.lists(st.sampled_from(PROFILE_KEYS) | odd_text, max_size=3, unique=True)):
        lines.append(f"{toml_string(key)} = {toml_value(draw(config_values))}")
    for section in draw(st.lists(st.sampled_from(list(SECTION_KEYS)), min_size=1, unique=True)):
        lines.append(f"[profiles.p.{section}]")
        keys = draw(st.lists(st.sampled_from(SECTION_KEYS[section]) | odd_text, max_size=4,
                             unique=True))
        lines.extend(f"{toml_string(key)} = {toml_value(draw(config_values))}" for key in keys)
    return "\n".join(lines) + "\n"


def load_config(tmp_path: Path, content: bytes) -> Profile | None:
    path = tmp_path / "audit.toml"
    path.write_bytes(content)

    def load() -> Profile:
        profile = load_profile(path, "p")
        if "aws" in profile.providers:  # the AWS scanner's own checks of its table
            AwsOptions.from_config(profile.providers["aws"])
        return profile

    return expect(ConfigError, load, source=str(path))


@FUZZ
@given(st.text(st.characters(exclude_categories=()), max_size=200))
def test_any_text_as_audit_toml_is_a_profile_or_a_config_error(tmp_path: Path, text: str) -> None:
    load_config(tmp_path, raw_bytes(text))


@FUZZ
@given(profile_documents())
def test_random_values_in_a_profile_are_a_profile_or_a_config_error(tmp_path: Path,
                                                                    document: str) -> None:
    load_config(tmp_path, raw_bytes(document))


@pytest.mark.parametrize("content", [
    "[profiles.p.aws]\nregions = " + deep_json(),
    "[profiles.p.aws]\nx = " + "{a = " * 3000 + "1" + "}" * 3000,
    "[profiles.p.aws]\nregions = [" + ", ".join(['"us-east-1"'] * HUGE) + "]",
    "[profiles.p]\nrule_paths = [\"rules\\u0000x\"]\n[profiles.p.aws]\n",
    "[profiles.p]\nstate = \"\"\n[profiles.p.aws]\n",
    "[profiles.p.aws]\n[profiles.p.classification]\ndata_key_patterns = [\"((\"]\n",
    "[profiles.p.aws]\n[profiles.p.scan]\nmax_workers = 0\n",
    "[profiles.p.aws]\n[profiles.p.scan]\nmax_workers = " + "9" * 5000 + "\n",
    "[profiles.p.aws]\nregions = [\"\\uD800\"]\n",
    "\ufeff[profiles.p.aws]\n",
], ids=["deep-array", "deep-table", "huge", "nul-path", "empty-path", "bad-regex", "no-workers",
        "huge-int", "surrogate-escape", "bom"])
def test_deep_huge_and_odd_profiles_are_handled(tmp_path: Path, content: str) -> None:
    profile = load_config(tmp_path, raw_bytes(content))
    if profile is not None:  # what loads is usable: paths and patterns are real ones
        assert all("\x00" not in str(p) for p in profile.rule_paths)
        assert profile.scan.max_workers >= 1


def test_a_bad_pattern_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.toml"
    path.write_text("[profiles.p.aws]\n[profiles.p.classification]\n"
                    "data_key_patterns = [\"ok\", \"((\"]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path, "p")
    assert caught.value.location == "profiles.p.classification.data_key_patterns[1]"


# -- inventory.json -------------------------------------------------------------------------------
def valid_inventory() -> dict[str, Any]:
    inventory = Inventory()
    inventory.add([
        Scope("aws", "123456789012", ("us-east-1",), ("s3",)),
        Resource(id="arn:aws:s3:::data", type="aws.s3.bucket", provider="aws",
                 account="123456789012", name="data", region="us-east-1",
                 attributes={"policy": {"Version": "2012-10-17", "Statement": [
                     {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                      "Resource": "arn:aws:s3:::data/*"}]}, "acl": None},
                 tags={"ml-asset": "training-data"}, unknown=["acl"]),
        CollectionError(provider="aws", account="123456789012", service="s3",
                        operation="GetBucketAcl", code="AccessDenied", message="denied",
                        region="us-east-1", resource_id="arn:aws:s3:::data", attribute="acl"),
    ])
    return json.loads(to_json(inventory))


def parse_inventory(text: str, positioned: bool = False) -> Inventory | None:
    inventory = expect(InputError, lambda: parse(text, "inventory.json"), source="inventory.json",
                       positioned=positioned)
    if inventory is not None:  # whatever is read can be written back, as UTF-8, unchanged
        written = to_json(inventory)
        written.encode("utf-8")
        assert to_json(parse(written, "again")) == written
    return inventory


@FUZZ
@given(st.text(st.characters(exclude_categories=()), max_size=200) | json_values.map(json.dumps))
def test_any_text_as_an_inventory_is_one_or_an_input_error(text: str) -> None:
    parse_inventory(text)


@FUZZ
@given(mutated(valid_inventory()))
def test_a_mutated_inventory_is_one_or_an_input_error_at_its_place(document: Any) -> None:
    parse_inventory(json.dumps(document), positioned=isinstance(document, dict)
                    and document.get("format") == "auditor-inventory"
                    and document.get("schema_version") == 1)


def _inventory_with(attributes: Any) -> str:
    document = valid_inventory()
    document["resources"][0]["attributes"] = {"policy": attributes}
    return json.dumps(document)


@pytest.mark.parametrize(("text", "location"), [
    (deep_json(), None),
    (_inventory_with(json.loads("[" * 150 + "]" * 150)), "$.resources[0].attributes.policy"),
    (_inventory_with("\ud800"), "$.resources[0].attributes.policy"),
    (_inventory_with({"\udfff": 1}), "$.resources[0].attributes.policy"),
    (_inventory_with(float("nan")), None),
    ('{"format": ' + "1" * 5000 + "}", None),
], ids=["deep", "deep-attribute", "surrogate", "surrogate-key", "nan", "huge-int"])
def test_deep_and_unwritable_inventories_are_input_errors(text: str, location: str | None) -> None:
    with pytest.raises(InputError) as caught:
        parse(text, "inventory.json")
    assert caught.value.source == "inventory.json"
    assert (caught.value.location or "").startswith(location or "")


def test_a_huge_inventory_with_nul_and_odd_unicode_reads_back() -> None:
    document = valid_inventory()
    resource = document["resources"][0]
    document["resources"] = [{**resource, "id": f"arn:aws:s3:::b{i}\x00\u202e💥", "name": f"b{i}"}
                             for i in range(HUGE)]
    started = time.monotonic()
    inventory = parse_inventory(json.dumps(document))
    assert inventory is not None and len(inventory.resources) == HUGE
    assert time.monotonic() - started < 30


# -- Cloud Asset Inventory exports ----------------------------------------------------------------
CAI_LINES = [json.loads(line) for line in CAI_EXPORT.read_text(encoding="utf-8").splitlines()
             if line.strip()]


def read_cai(tmp_path: Path, content: bytes, positioned: bool = False) -> list[Any] | None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(content)
    return expect(InputError, lambda: list(read_export(path, ScanSettings())), source=str(path),
                  positioned=positioned)


@FUZZ
@given(st.lists(st.text(st.characters(exclude_categories=()), max_size=80)
                | json_values.map(json.dumps), max_size=4))
def test_any_lines_as_a_cai_export_are_records_or_an_input_error(tmp_path: Path,
                                                                  lines: list[str]) -> None:
    read_cai(tmp_path, raw_bytes("\n".join(lines)))


@FUZZ
@given(st.integers(0, len(CAI_LINES) - 1).flatmap(lambda i: mutated(CAI_LINES[i])),
       st.integers(0, len(CAI_LINES)))
def test_a_mutated_cai_line_is_records_or_an_input_error_at_its_line(tmp_path: Path, line: Any,
                                                                      position: int) -> None:
    lines = [json.dumps(x) for x in CAI_LINES]
    lines.insert(position, json.dumps(line))
    read_cai(tmp_path, "\n".join(lines).encode("utf-8"), positioned=True)


@pytest.mark.parametrize("line", [
    deep_json(),
    '{"name": "x", "asset_type": "storage.googleapis.com/Bucket", "resource": {"data": '
    + deep_json(DEEP) + "}}",
    '{"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket", '
    '"resource": {"data": {"name": "b", "labels": {"team": "\\ud800"}}}}',
    '{"name": ' + "9" * 5000 + "}",
], ids=["deep", "deep-data", "surrogate", "huge-int"])
def test_deep_and_unwritable_cai_lines_are_input_errors_at_their_line(tmp_path: Path,
                                                                      line: str) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(CAI_LINES[0]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_export(path, ScanSettings()))
    assert (caught.value.source, (caught.value.location or "").split(" ")[0:2]) == \
        (str(path), ["line", "2"])


# -- rule files -----------------------------------------------------------------------------------
RULE = yaml.safe_load(RULE_FILE.read_text(encoding="utf-8"))


def read_rule(text: str, positioned: bool = False) -> Any:
    return expect(RuleError, lambda: parse_rule(text, "rule.yaml"), source="rule.yaml",
                  positioned=positioned)


@FUZZ
@given(st.text(st.characters(exclude_categories=()), max_size=200))
def test_any_text_as_a_rule_file_is_a_rule_or_a_rule_error(text: str) -> None:
    read_rule(text)


@FUZZ
@given(mutated(RULE))
def test_a_mutated_rule_is_a_rule_or_a_rule_error_at_its_line(document: Any) -> None:
    read_rule(yaml.safe_dump(document, allow_unicode=True), positioned=True)


def billion_laughs(levels: int = 6) -> str:
    """Ten lines that expand to 9**(levels + 1) values (six levels: 4.8 million, enough to
    take a reader without a bound many seconds; nine would exhaust the memory of the test
    process)."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        previous, name = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    deep_json(), "a:\n" + "".join(" " * i + "- \n" for i in range(1, 3000)),
    billion_laughs(), "id: \x00\n", "id: \ud800\n",
    "id: x\n" * HUGE,
], ids=["deep-flow", "deep-block", "billion-laughs", "nul", "surrogate", "huge-duplicates"])
def test_deep_explosive_and_odd_rule_files_are_rule_errors_quickly(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(RuleError) as caught:
        parse_rule(text, "rule.yaml")
    assert caught.value.source == "rule.yaml"
    assert time.monotonic() - started < 10


# -- IAM policies: huge and deep (random ones: tests/test_policy_properties.py) -------------------
def test_a_policy_of_10000_statements_is_parsed_and_evaluated() -> None:
    statements = [{"Sid": f"s{i}\u202e", "Effect": "Allow" if i % 3 else "Deny",
                   "Action": [f"s3:Get{i}*", "kms:Decrypt"], "Resource": f"arn:aws:s3:::b{i}/*",
                   "Condition": {"StringEquals": {"aws:PrincipalTag/team": f"t{i}\x00"}}}
                  for i in range(HUGE)]
    started = time.monotonic()
    policy = NamedPolicy("huge", {"Version": "2012-10-17", "Statement": statements})
    result = evaluate(Request(principal="arn:aws:iam::111122223333:user/alice",
                              principal_account="111122223333", action="s3:GetObject",
                              resource="arn:aws:s3:::b7/x", resource_account="111122223333"),
                      PolicySet(identity=(policy,)))
    assert result.decision in ("allow", "conditional", "explicit-deny", "implicit-deny")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("document", [
    json.loads(deep_json(900)),
    {"Version": "2012-10-17", "Statement": json.loads(deep_json(900))},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                             "Condition": json.loads('{"a":' * 900 + "1" + "}" * 900)}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow\x00", "Action": "\ud800:*",
                                             "Resource": "*"}]},
], ids=["deep-document", "deep-statement", "deep-condition", "nul-and-surrogate"])
def test_deep_and_odd_policies_are_input_errors(document: Any) -> None:
    with pytest.raises(InputError):
        parse_policy(document, source="policy.json")


# -- data, never code -----------------------------------------------------------------------------
# modules that turn bytes into live objects or run them
CODE_LOADING_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                        "jsonpickle", "joblib"}
CODE_RUNNING_BUILTINS = {"eval", "exec", "compile", "__import__"}
# the only yaml names the auditor may use: safe loading and dumping, errors, nodes
SAFE_YAML_NAMES = {"SafeLoader", "safe_load", "safe_load_all", "safe_dump", "safe_dump_all",
                   "SafeDumper", "YAMLError", "MarkedYAMLError", "nodes", "compose"}


def auditor_sources() -> list[Path]:
    return sorted(Path(auditor.__file__).parent.rglob("*.py"))


def code_from_data(source: str, name: str) -> list[str]:
    tree = ast.parse(source, filename=name)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names]
            found += [f"imports {n}" for n in names if n.split(".")[0] in CODE_LOADING_MODULES]
            if isinstance(node, ast.ImportFrom) and node.module == "yaml":
                found += [f"from yaml import {a.name}" for a in node.names
                          if a.name not in SAFE_YAML_NAMES]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in CODE_RUNNING_BUILTINS:
            found.append(f"calls {node.func.id}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "yaml" and node.attr not in SAFE_YAML_NAMES:
            found.append(f"uses yaml.{node.attr}")
    return [f"{name}: {problem}" for problem in found]


def test_no_module_turns_data_into_code() -> None:
    sources = auditor_sources()
    assert len(sources) > 50  # the whole package was searched
    assert [problem for path in sources for problem in code_from_data(
        path.read_text(encoding="utf-8"), str(path.relative_to(REPOSITORY)))] == []


@pytest.mark.parametrize("snippet", [
    "import pickle", "from marshal import loads", "yaml.load(text)", "yaml.unsafe_load(text)",
    "yaml.full_load(text)", "yaml.Loader", "from yaml import UnsafeLoader", "eval(text)",
    "exec(text)", "__import__(text)",
])
def test_the_check_finds_each_way_of_running_data(snippet: str) -> None:
    assert code_from_data(f"import yaml\n{snippet}\n", "probe.py")
    assert code_from_data("import yaml\nyaml.safe_load(text)\nself.eval(node)\n", "ok.py") == []


def test_yaml_is_read_with_a_safe_loader() -> None:
    from auditor.rules import yamlfile

    loader = yamlfile._Loader("!!python/object/apply:os.system ['true']")
    with pytest.raises(yaml.YAMLError):
        loader.get_single_data()
    assert issubclass(yamlfile._Loader, yaml.SafeLoader)
    with pytest.raises(RuleError):
        parse_rule("id: !!python/object/apply:os.system ['true']\n", "rule.yaml")
