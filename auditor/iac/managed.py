"""AWS managed policies that read the objects of every bucket.

Code attaches them by ARN (``managed_policy_arns``, ``aws_iam_role_policy_attachment``...), so
the IaC check cannot read their statements. ``aws_managed_readers.json`` (beside this module,
with the LICENSE, NOTICE and SOURCE of the data it was derived from) lists those whose
document allows s3:GetObject on every bucket, by the same test the check applies to inline
policies. Refresh it from a newer copy of iann0036/iam-dataset's managed policies:

    python -m auditor.iac.managed managed_policies_documents.json > auditor/iac/aws_managed_readers.json
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from auditor.access.aws.principals import statements
from auditor.errors import InputError
from auditor.iac.policy import Document, grants_on_every_bucket

DATA_FILE = "aws_managed_readers.json"
READ_ACTION = "s3:GetObject"
_MANAGED_ARN = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/(?:[\w+=,.@/-]*/)?(?P<name>[\w+=,.@-]+)$")


@cache
def every_bucket_readers() -> Mapping[str, str]:
    """Name -> ARN of each AWS managed policy that reads every bucket."""
    text = files("auditor.iac").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)["policies"]


def reader_named_by(arn: str) -> str | None:
    """The managed policy an ARN names, when it is one that reads every bucket."""
    match = _MANAGED_ARN.match(arn.strip())
    if not match:
        return None
    name = match["name"]
    return name if name in every_bucket_readers() else None


def derive(documents: Mapping[str, Any]) -> dict[str, str]:
    """From iam-dataset's ``{name: {"arn", "document", ...}}``: the policies that read every bucket."""
    readers = {}
    for name, entry in sorted(documents.items()):
        document = entry.get("document") if isinstance(entry, Mapping) else None
        if isinstance(document, Mapping) and grants_on_every_bucket(
                Document(tuple(statements(document)), name), READ_ACTION):
            readers[name] = str(entry.get("arn") or f"arn:aws:iam::aws:policy/{name}")
    return readers


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[0])
    try:
        documents = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the managed policies: {exc}", source=str(source)) from None
    print(json.dumps({"action": READ_ACTION, "policies": derive(documents)}, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
