"""Classify storage as training data, model weights or other.

Signals, strongest first: a tag (or GCP label) that says so, a bucket-name word, then the
extensions of sampled object keys. The first signal that decides wins, and the reason is kept
so that a reader can check it. Names that merely sound like ML ("model-training-logs") decide
nothing: only whole words from the configured lists count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache

from auditor.classify.model import MODEL_WEIGHTS, OTHER, TRAINING_DATA, UNKNOWN, Classification
from auditor.classify.settings import COMPRESSION_SUFFIXES, ClassificationSettings
from auditor.inventory import Inventory, Resource

STORAGE_TYPES = frozenset({"aws.s3.bucket", "gcp.storage.bucket"})
# the attributes whose values can decide a classification (the name is always known)
SIGNALS = ("tags", "object_sample")
_WORD_SPLIT = re.compile(r"[-_./]+")


def classify_inventory(inventory: Inventory,
                       settings: ClassificationSettings | None = None) -> dict[str, Classification]:
    settings = settings or ClassificationSettings()
    return {r.id: classify(r, settings) for r in inventory.resources if r.type in STORAGE_TYPES}


def classify(resource: Resource, settings: ClassificationSettings) -> Classification:
    decided = (_by_tags(resource, settings) or _by_name(resource.name, settings)
               or _by_object_keys(_sampled_keys(resource), settings))
    if decided:
        return decided
    # a bucket whose tags or objects could not be read is not known to be "other"
    missing = [signal for signal in SIGNALS if signal in resource.unknown]
    if missing:
        return Classification(UNKNOWN, (f"no signal decides, and {' and '.join(missing)} "
                                        f"could not be collected",))
    return Classification(OTHER, ("no tag, name or object key marks it as training data or weights",))


def _by_tags(resource: Resource, settings: ClassificationSettings) -> Classification | None:
    wanted = {k.lower() for k in settings.tag_keys}
    for key, value in sorted(resource.tags.items()):
        if key.lower() not in wanted:
            continue
        label = _label_for(value.lower(), settings.weights_tag_values, settings.data_tag_values)
        if label:
            return Classification(label, (f"tag {key}={value}",))
    return None


def _by_name(name: str, settings: ClassificationSettings) -> Classification | None:
    lowered = name.lower()
    words = set(_WORD_SPLIT.split(lowered))
    for label, candidates in ((MODEL_WEIGHTS, settings.weights_name_words),
                              (TRAINING_DATA, settings.data_name_words)):
        for word in candidates:
            # multi-word entries ("training-data") match as a substring of whole words
            if word in words or ("-" in word and re.search(rf"(^|[-_.]){re.escape(word)}($|[-_.])",
                                                           lowered)):
                return Classification(label, (f"name contains '{word}'",))
    return None


def _by_object_keys(keys: Iterable[str], settings: ClassificationSettings) -> Classification | None:
    votes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for key in keys:
        label = _label_for_key(key, settings)
        if label:
            votes[label] += 1
            examples.setdefault(label, key)
    if not votes:
        return None
    # weights win a tie: they are the more valuable asset to protect
    label = max((MODEL_WEIGHTS, TRAINING_DATA), key=lambda lab: votes[lab])
    return Classification(label, (f"{votes[label]} sampled object key(s) such as '{examples[label]}'",))


def _label_for(value: str, weights: tuple[str, ...], data: tuple[str, ...]) -> str | None:
    if value in {v.lower() for v in weights}:
        return MODEL_WEIGHTS
    if value in {v.lower() for v in data}:
        return TRAINING_DATA
    return None


def _label_for_key(key: str, settings: ClassificationSettings) -> str | None:
    stem = key.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem.endswith(tuple(e.lower() for e in settings.weights_extensions)):
        return MODEL_WEIGHTS
    if stem.endswith(tuple(e.lower() for e in settings.data_extensions)):
        return TRAINING_DATA
    if any(p.search(stem) for p in _compiled(settings.data_key_patterns)):
        return TRAINING_DATA
    return None


@cache
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _sampled_keys(resource: Resource) -> list[str]:
    sample = resource.attributes.get("object_sample") or []
    return [str(o.get("key") or o.get("name") or "") for o in sample if isinstance(o, dict)]
