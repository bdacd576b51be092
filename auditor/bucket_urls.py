"""``s3://BUCKET/PREFIX`` and ``gs://BUCKET/PREFIX``: the one way such a location is split."""

from __future__ import annotations


def split_bucket_url(value: str, scheme: str) -> tuple[str, str] | None:
    """(bucket, key prefix exactly as written) of ``scheme://BUCKET/PREFIX``; None when
    ``value`` is not of that scheme or names no bucket."""
    head = f"{scheme}://"
    bucket, _, prefix = value.removeprefix(head).partition("/")
    if not value.startswith(head) or not bucket:
        return None
    return bucket, prefix
