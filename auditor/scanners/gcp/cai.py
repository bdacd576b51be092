"""Offline input: a Cloud Asset Inventory export read into the same inventory as a live scan.

The file is JSON lines as ``gcloud asset export`` writes them, with the ``resource`` and
``iam-policy`` content types merged per asset (one line may carry both, or each may come on its
own line; line order means nothing). An ``org-policy`` content type, when present, gives the
effective ``storage.publicAccessPrevention`` constraint. Asset types the auditor does not use
are skipped. A malformed line raises ``InputError`` naming the file and the line.

What a CAI export never holds is recorded as not known (null and named in ``unknown``):
IAM deny policies, the organization policy when no org-policy content was exported, and the
object listing of a bucket unless the harness extension ``resource.data["x-objects"]`` gives one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.inventory import Resource, Scope
from auditor.inventory.io import check_values
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import ids, records
from auditor.scanners.gcp.records import MalformedRecord

ORGANIZATION = "cloudresourcemanager.googleapis.com/Organization"
FOLDER = "cloudresourcemanager.googleapis.com/Folder"
PROJECT = "cloudresourcemanager.googleapis.com/Project"
BUCKET = "storage.googleapis.com/Bucket"
SERVICE_ACCOUNT = "iam.googleapis.com/ServiceAccount"
SERVICE_ACCOUNT_KEY = "iam.googleapis.com/ServiceAccountKey"
ROLE = "iam.googleapis.com/Role"
KEY_RING = "cloudkms.googleapis.com/KeyRing"
CRYPTO_KEY = "cloudkms.googleapis.com/CryptoKey"
NODE_TYPES = (ORGANIZATION, FOLDER, PROJECT)
# the harness's stand-in for an object listing (no real bucket field starts with "x-")
OBJECTS_KEY = "x-objects"
PUBLIC_ACCESS_PREVENTION_CONSTRAINT = "constraints/storage.publicAccessPrevention"
# what a CAI export cannot tell, on every organization, folder and project
NOT_IN_EXPORT = ("deny_policies",)


@dataclass(slots=True)
class Asset:
    name: str
    asset_type: str
    lines: list[int] = field(default_factory=list)
    ancestors: list[str] = field(default_factory=list)
    data: dict[str, Any] | None = None
    iam_policy: dict[str, Any] | None = None
    org_policy: list[dict[str, Any]] | None = None


def read_export(path: Path, settings: ScanSettings) -> Iterator[Resource | Scope]:
    """Every scope and resource of the export at ``path``."""
    assets = load_assets(path)
    return iter(_Converter(str(path), assets, settings).records())


# -- reading lines ------------------------------------------------------------------------------------
def load_assets(path: Path) -> dict[str, Asset]:
    """The export's assets by name, content types merged."""
    source = str(path)
    try:
        # split on newlines only: JSON strings may hold other line separators (U+2028)
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise InputError(f"cannot read the CAI export: {exc.strerror}", source=source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=source) from None
    assets: dict[str, Asset] = {}
    for number, line in enumerate(lines, 1):
        if line.strip():
            _merge(assets, _parse_line(line, source, number), source, number)
    return assets


def _pick(raw: Mapping[str, Any], snake: str, camel: str) -> Any:
    return raw[snake] if snake in raw else raw.get(camel)


def _parse_line(line: str, source: str, number: int) -> Asset:
    where = f"line {number}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", source=source,
                         location=where) from None
    except RecursionError:
        raise InputError("not valid JSON: nested too deeply", source=source,
                         location=where) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"not valid JSON: {exc}", source=source, location=where) from None
    # deep nesting and lone surrogates would break the inventory written from it
    check_values(raw, source, prefix=f"{where} ")

    def fail(message: str, path: str) -> InputError:
        return InputError(message, source=source, location=f"{where} {path}")

    if not isinstance(raw, dict):
        raise fail(f"expected a JSON object, found {type(raw).__name__}", "$")
    name, asset_type = raw.get("name"), _pick(raw, "asset_type", "assetType")
    if not isinstance(name, str) or not name:
        raise fail("missing the asset name", "$.name")
    if not isinstance(asset_type, str) or not asset_type:
        raise fail("missing the asset type", "$.asset_type")
    asset = Asset(name=name, asset_type=asset_type, lines=[number])
    ancestors = raw.get("ancestors") or []
    if not isinstance(ancestors, list) or not all(isinstance(a, str) for a in ancestors):
        raise fail("must be a list of strings", "$.ancestors")
    asset.ancestors = ancestors
    resource = raw.get("resource")
    if resource is not None:
        if not isinstance(resource, dict) or not isinstance(resource.get("data"), dict):
            raise fail("must be an object with an object 'data'", "$.resource")
        asset.data = resource["data"]
    policy = _pick(raw, "iam_policy", "iamPolicy")
    if policy is not None:
        if not isinstance(policy, dict):
            raise fail("must be an object", "$.iam_policy")
        asset.iam_policy = policy
    org_policy = _pick(raw, "org_policy", "orgPolicy")
    if org_policy is not None:
        if not isinstance(org_policy, list) or not all(isinstance(p, dict) for p in org_policy):
            raise fail("must be a list of objects", "$.org_policy")
        asset.org_policy = org_policy
    return asset


def _merge(assets: dict[str, Asset], part: Asset, source: str, number: int) -> None:
    known = assets.get(part.name)
    if known is None:
        assets[part.name] = part
        return
    if known.asset_type != part.asset_type:
        raise InputError(f"asset {part.name} has type {part.asset_type}, but "
                         f"{known.asset_type} on line {known.lines[0]}", source=source,
                         location=f"line {number} $.asset_type")
    for attribute in ("data", "iam_policy", "org_policy"):
        mine, theirs = getattr(known, attribute), getattr(part, attribute)
        if theirs is None:
            continue
        if mine is not None and mine != theirs:
            raise InputError(f"asset {part.name} already has a different {attribute} on line "
                             f"{known.lines[0]}", source=source, location=f"line {number}")
        setattr(known, attribute, theirs)
    known.ancestors = known.ancestors or part.ancestors
    known.lines.append(number)


# -- converting assets ----------------------------------------------------------------------------------
class _Converter:
    def __init__(self, source: str, assets: dict[str, Asset], settings: ScanSettings):
        self.source = source
        self.assets = assets
        self.settings = settings
        self.project_ids = {
            asset.name.rsplit("/", 1)[-1]: str(asset.data.get("projectId"))
            for asset in assets.values()
            if asset.asset_type == PROJECT and asset.data and asset.data.get("projectId")}
        # org policies are only "not set" when the export has the org-policy content type at all
        self.has_org_policies = any(a.org_policy is not None for a in assets.values())
        self.nodes = {_node_name(a.name): a for a in assets.values() if a.asset_type in NODE_TYPES}
        self.builders: dict[str, Callable[[Asset], Resource]] = {
            ORGANIZATION: self._organization, FOLDER: self._folder, PROJECT: self._project,
            BUCKET: self._bucket, SERVICE_ACCOUNT: self._with_policy(records.service_account),
            SERVICE_ACCOUNT_KEY: self._plain(records.service_account_key),
            ROLE: self._plain(records.role),
            KEY_RING: self._with_policy(records.key_ring),
            CRYPTO_KEY: self._with_policy(records.crypto_key),
        }

    def records(self) -> Iterator[Resource | Scope]:
        services: dict[str, set[str]] = {}
        built: list[Resource] = []
        for asset in sorted(self.assets.values(), key=lambda a: a.lines[0]):
            builder = self.builders.get(asset.asset_type)
            if builder is None:
                continue  # an asset type the auditor does not use
            if asset.data is None:
                raise InputError(f"asset {asset.name} has no resource content: export the "
                                 "'resource' content type too", source=self.source,
                                 location=f"line {asset.lines[0]} $.resource")
            try:
                resource = builder(asset)
            except MalformedRecord as exc:
                json_path = f"$.resource.{exc.path}" if exc.path.startswith("data") else f"$.{exc.path}"
                raise InputError(exc.message, source=self.source,
                                 location=f"line {asset.lines[0]} {json_path}") from None
            built.append(resource)
            project = self._project_of(asset)
            if project:
                services.setdefault(project, set()).add(asset.asset_type.split(".googleapis.com")[0])
        for project, names in sorted(services.items()):
            yield Scope(provider=ids.PROVIDER, account=project, services=tuple(sorted(names)))
        yield from built

    def _project_of(self, asset: Asset) -> str | None:
        for ancestor in asset.ancestors:
            if ancestor.startswith("projects/"):
                number = ancestor.split("/", 1)[1]
                return self.project_ids.get(number, number)
        return None

    # builders ------------------------------------------------------------------------------------------
    def _plain(self, build: Callable[..., Resource]) -> Callable[[Asset], Resource]:
        return lambda asset: build(asset.data, asset.ancestors, where="data")

    def _with_policy(self, build: Callable[..., Resource]) -> Callable[[Asset], Resource]:
        def make(asset: Asset) -> Resource:
            resource = build(asset.data, asset.ancestors, where="data")
            records.set_policy(resource, asset.iam_policy)
            return resource
        return make

    def _node(self, resource: Resource, asset: Asset) -> Resource:
        records.set_policy(resource, asset.iam_policy)
        records.mark_unknown(resource, *NOT_IN_EXPORT)
        enforced = self._public_access_prevention(asset)
        if enforced is None:
            records.mark_unknown(resource, "public_access_prevention_enforced")
        else:
            resource.attributes["public_access_prevention_enforced"] = enforced
        return resource

    def _organization(self, asset: Asset) -> Resource:
        return self._node(records.organization(asset.data, where="data"), asset)

    def _folder(self, asset: Asset) -> Resource:
        return self._node(records.folder(asset.data, asset.ancestors or [_node_name(asset.name)],
                                         where="data"), asset)

    def _project(self, asset: Asset) -> Resource:
        return self._node(records.project(asset.data, asset.ancestors or [_node_name(asset.name)],
                                          where="data"), asset)

    def _bucket(self, asset: Asset) -> Resource:
        data = asset.data
        number = data.get("projectNumber")
        if number is None and asset.ancestors and asset.ancestors[0].startswith("projects/"):
            number = asset.ancestors[0].split("/", 1)[1]
        names = data.get(OBJECTS_KEY)
        objects = None
        if isinstance(names, list):
            limit = self.settings.object_sample_size
            objects = [records.object_entry(str(n)) for n in names[:limit]]
        resource = records.bucket(
            data, project_id=self.project_ids.get(str(number)) if number is not None else None,
            ancestors=asset.ancestors, objects=objects,
            truncated=isinstance(names, list) and len(names) > self.settings.object_sample_size,
            where="data")
        records.set_policy(resource, asset.iam_policy)
        return resource

    def _public_access_prevention(self, asset: Asset) -> bool | None:
        """The effective storage.publicAccessPrevention constraint: the nearest node that sets it
        decides (boolean constraints do not merge); none sets it -> the default, not enforced."""
        if not self.has_org_policies:
            return None
        for ancestor in asset.ancestors or [_node_name(asset.name)]:
            node = self.nodes.get(ancestor)
            for policy in (node.org_policy or []) if node else []:
                if policy.get("constraint") != PUBLIC_ACCESS_PREVENTION_CONSTRAINT:
                    continue
                if policy.get("restoreDefault") is not None:
                    return False
                return bool((policy.get("booleanPolicy") or {}).get("enforced"))
        return False


def _node_name(asset_name: str) -> str:
    """``//cloudresourcemanager.googleapis.com/projects/123`` -> ``projects/123``."""
    return asset_name.split("googleapis.com/", 1)[-1]
