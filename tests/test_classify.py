import json
from pathlib import Path

import pytest

from auditor.classify.ml import classify
from auditor.classify.model import MODEL_WEIGHTS, OTHER, TRAINING_DATA
from auditor.classify.settings import ClassificationSettings
from auditor.inventory import Resource

DATA = Path(__file__).parent / "data"


def bucket(name: str, tags: dict[str, str] | None = None, keys: list[str] | None = None) -> Resource:
    return Resource(id=f"arn:aws:s3:::{name}", type="aws.s3.bucket", provider="aws", account="1",
                    name=name, tags=tags or {},
                    attributes={"object_sample": [{"key": k} for k in keys or []]})


@pytest.mark.parametrize(("resource", "label", "reason"), [
    (bucket("b", {"ml-asset": "model-weights"}), MODEL_WEIGHTS, "tag ml-asset=model-weights"),
    (bucket("b", {"Data-Classification": "Training-Data"}), TRAINING_DATA, "tag"),
    (bucket("team-checkpoints"), MODEL_WEIGHTS, "name contains 'checkpoints'"),
    (bucket("web.datasets.eu"), TRAINING_DATA, "name contains 'datasets'"),
    (bucket("x", keys=["a/model.safetensors", "a/config.json"]), MODEL_WEIGHTS, "sampled object key"),
    (bucket("x", keys=["part-0001.jsonl.gz"]), TRAINING_DATA, "sampled object key"),
    (bucket("x", keys=["shards/train-000123.tar"]), TRAINING_DATA, "sampled object key"),
    # names that only sound like ML decide nothing
    (bucket("acme-model-training-logs", keys=["job/algo-1.log", "2024/11/01/000000.gz"]), OTHER, "no tag"),
    (bucket("x", {"team": "weights"}), OTHER, "no tag"),
])
def test_signals(resource: Resource, label: str, reason: str) -> None:
    result = classify(resource, ClassificationSettings())
    assert result.label == label
    assert reason in result.reasons[0]


def test_a_tag_outranks_the_name_and_keys() -> None:
    resource = bucket("my-datasets", {"ml-asset": "weights"}, ["a.parquet"])
    assert classify(resource, ClassificationSettings()).label == MODEL_WEIGHTS


def test_patterns_are_configurable() -> None:
    settings = ClassificationSettings(weights_extensions=(".mdl",), data_extensions=())
    assert classify(bucket("x", keys=["m.mdl"]), settings).label == MODEL_WEIGHTS
    assert classify(bucket("x", keys=["d.parquet"]), settings).label == OTHER


def test_dev_scenario_buckets_from_their_own_signals() -> None:
    scenario = json.loads((DATA / "aws-ml-org.json").read_text())
    for spec in scenario["buckets"]:
        resource = bucket(spec["name"], spec["tags"], [o["key"] for o in spec["objects"]])
        got = classify(resource, ClassificationSettings()).label
        assert got == scenario["expected"]["classification"][spec["name"]], spec["name"]
