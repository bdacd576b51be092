"""What marks an asset as training data or model weights; every list can be set per profile."""

from __future__ import annotations

from dataclasses import dataclass, fields

WEIGHTS_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".ggml", ".onnx",
                      ".h5", ".keras", ".msgpack", ".tflite", ".mlmodel", ".pb")
DATA_EXTENSIONS = (".parquet", ".tfrecord", ".tfrecords", ".jsonl", ".arrow", ".avro",
                   ".webdataset", ".npy", ".npz")
# e.g. shard-000123.tar, train-00001-of-00064.tar: WebDataset-style training shards
DATA_KEY_PATTERNS = (r"(^|/)[^/]*\d{4,}[^/]*\.tar$",)
COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".snappy")
# whole words of a bucket name (split on - _ . /)
WEIGHTS_NAME_WORDS = ("weights", "checkpoints", "checkpoint", "ckpt", "ckpts", "model-weights")
DATA_NAME_WORDS = ("datasets", "dataset", "corpus", "corpora", "training-data", "train-data",
                   "trainingdata")
TAG_KEYS = ("ml-asset", "data-classification", "data-class", "classification", "asset-class",
            "ml-asset-type")
WEIGHTS_TAG_VALUES = ("model-weights", "weights", "checkpoints", "model")
DATA_TAG_VALUES = ("training-data", "dataset", "datasets", "training", "train")


@dataclass(frozen=True, slots=True)
class ClassificationSettings:
    weights_extensions: tuple[str, ...] = WEIGHTS_EXTENSIONS
    data_extensions: tuple[str, ...] = DATA_EXTENSIONS
    data_key_patterns: tuple[str, ...] = DATA_KEY_PATTERNS
    weights_name_words: tuple[str, ...] = WEIGHTS_NAME_WORDS
    data_name_words: tuple[str, ...] = DATA_NAME_WORDS
    tag_keys: tuple[str, ...] = TAG_KEYS
    weights_tag_values: tuple[str, ...] = WEIGHTS_TAG_VALUES
    data_tag_values: tuple[str, ...] = DATA_TAG_VALUES

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
