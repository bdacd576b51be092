"""The scanned code as blocks, and how one block refers to another.

Checkov parses and evaluates the code (variables, locals, ``jsonencode``...); this module
indexes what it produced so that a check on one resource can look at another: an
``aws_s3_bucket_acl`` at the bucket it configures, a bucket at the KMS key that encrypts it,
an ``aws_s3_bucket_policy`` at the ``aws_iam_policy_document`` that holds its statements.

A block is known by ``(file, address)``: the file as checkov names it while scanning (``/`` +
the path relative to the scanned root) and the Terraform address (``module.m.aws_s3_bucket.x``)
or, for CloudFormation, ``Type.LogicalId`` (``AWS::S3::Bucket.Weights``), as checkov's records do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from auditor.iac import values

Framework = Literal["terraform", "cloudformation"]
BlockKind = Literal["resource", "data"]
FRAMEWORKS: tuple[Framework, ...] = ("terraform", "cloudformation")

# aws_s3_bucket.x.id, ${aws_s3_bucket.x.arn}, data.aws_iam_policy_document.x.json,
# aws_kms_key.x[0].arn: the attribute after the name does not matter here
_TF_REFERENCE = re.compile(r"^\$?\{?(?P<data>data\.)?(?P<type>[a-z][a-z0-9]*_[a-z0-9_]+)\."
                           r"(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(\[[^\]]*\])?(\.[A-Za-z0-9_.*\[\]]+)?\}?$")


@dataclass(frozen=True, slots=True)
class Block:
    framework: Framework
    file: str
    abs_path: str
    address: str
    type: str
    name: str
    kind: BlockKind
    # Terraform: checkov's attributes (values wrapped in lists); CloudFormation: Properties
    config: Mapping[str, Any]
    start_line: int
    end_line: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.address)

    @property
    def terraform_address(self) -> str:
        """The address as Terraform writes it (checkov leaves ``data.`` out of a data block's)."""
        if self.kind != "data" or self.framework != "terraform":
            return self.address
        prefix = module_prefix(self.address)
        return f"{prefix}data.{self.address.removeprefix(prefix).removeprefix('data.')}"

    @property
    def scope(self) -> tuple[str, str]:
        """What a reference in this block can see: its module instance, or its template."""
        if self.framework == "cloudformation":
            return (self.file, "")
        return (os.path.dirname(self.file), module_prefix(self.address))

    def get(self, key: str) -> Any:
        """One attribute, unwrapped from checkov's list (``None`` when absent)."""
        return values.first(self.config, key) if self.framework == "terraform" else self.config.get(key)


def looks_like_reference(value: str) -> bool:
    """Text that names another block or a variable rather than a literal (bucket name, say)."""
    stripped = value.strip()
    return ("${" in stripped or stripped.startswith(("var.", "local.", "module.", "data."))
            or bool(_TF_REFERENCE.match(stripped)))


def module_prefix(address: str) -> str:
    """``module.a.module.b.`` for ``module.a.module.b.aws_s3_bucket.x`` ('' at the root)."""
    parts = address.split(".")
    prefix: list[str] = []
    while len(parts) > 2 and parts[0] == "module":
        prefix += parts[:2]
        parts = parts[2:]
    return "".join(f"{p}." for p in prefix)


def terraform_blocks(definitions: Mapping[Any, Mapping[str, Any]], root: str) -> Iterator[Block]:
    """Blocks of checkov's evaluated Terraform definitions (keys: TFDefinitionKey)."""
    for key, definition in definitions.items():
        abs_path = str(getattr(key, "file_path", key))
        file = f"{os.sep}{os.path.relpath(abs_path, root)}"
        for kind in ("resource", "data"):
            for entity in definition.get(kind) or []:
                for block_type, by_name in entity.items():
                    for name, config in (by_name or {}).items():
                        if not isinstance(config, Mapping):
                            continue
                        yield Block(framework="terraform", file=file, abs_path=abs_path,
                                    address=str(config.get("__address__") or f"{block_type}.{name}"),
                                    type=block_type, name=name, kind=kind, config=config,
                                    start_line=int(config.get("__start_line__") or 1),
                                    end_line=int(config.get("__end_line__") or 1))


def cloudformation_blocks(definitions: Mapping[str, Any], context: Mapping[str, Any],
                          root: str | None) -> Iterator[Block]:
    """Blocks of checkov's CloudFormation templates; lines come from checkov's context."""
    for abs_path, template in definitions.items():
        resources = template.get("Resources") if isinstance(template, Mapping) else None
        if not isinstance(resources, Mapping):
            continue
        file = f"/{os.path.relpath(abs_path, root)}"
        lines = (context.get(abs_path) or {}).get("Resources") or {}
        for logical_id, resource in resources.items():
            if not isinstance(resource, Mapping) or not isinstance(resource.get("Type"), str):
                continue
            where = lines.get(logical_id) or {}
            properties = resource.get("Properties")
            yield Block(framework="cloudformation", file=file, abs_path=str(abs_path),
                        address=f"{resource['Type']}.{logical_id}", type=resource["Type"],
                        name=logical_id, kind="resource",
                        config=properties if isinstance(properties, Mapping) else {},
                        start_line=int(where.get("start_line") or resource.get("__startline__") or 1),
                        end_line=int(where.get("end_line") or resource.get("__endline__") or 1))


class Model:
    """Every block of one scan, and the references between them."""

    def __init__(self, blocks: Iterable[Block]):
        self._by_key: dict[tuple[str, str], Block] = {}
        self._by_local: dict[tuple[tuple[str, str], str, str, str], Block] = {}
        for block in blocks:
            self._by_key.setdefault(block.key, block)
            self._by_local.setdefault((block.scope, block.kind, block.type, block.name), block)

    def __iter__(self) -> Iterator[Block]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, file: str, address: str) -> Block | None:
        return self._by_key.get((file, address))

    def of_type(self, *types: str) -> list[Block]:
        return [b for b in self._by_key.values() if b.type in types and b.kind == "resource"]

    def resolve(self, block: Block, value: Any) -> Block | None:
        """The block that ``value`` (an attribute of ``block``) refers to, if it is in the scan."""
        if block.framework == "cloudformation":
            logical_id = values.cfn_reference(value)
            return next((b for b in self._by_key.values() if b.scope == block.scope
                         and b.name == logical_id), None) if logical_id else None
        if not isinstance(value, str):
            return None
        match = _TF_REFERENCE.match(value.strip())
        if not match:
            return None
        kind = "data" if match["data"] else "resource"
        return self._by_local.get((block.scope, kind, match["type"], match["name"]))
