"""GCP resource types and resource ids, written once.

Pure string functions (no Google client imports), so that the access analyzer can name the
same resources as the scanners without depending on them. Ids are Google's full resource
names, except where a grader or a person needs the readable form (buckets by name, service
accounts and their keys by e-mail rather than by numeric unique id).
"""

from __future__ import annotations

PROVIDER = "gcp"

ORGANIZATION = "gcp.resourcemanager.organization"
FOLDER = "gcp.resourcemanager.folder"
PROJECT = "gcp.resourcemanager.project"
BUCKET = "gcp.storage.bucket"
HMAC_KEY = "gcp.storage.hmac_key"
SERVICE_ACCOUNT = "gcp.iam.service_account"
SERVICE_ACCOUNT_KEY = "gcp.iam.service_account_key"
ROLE = "gcp.iam.role"
KEY_RING = "gcp.kms.key_ring"
CRYPTO_KEY = "gcp.kms.crypto_key"

HIERARCHY_TYPES = (ORGANIZATION, FOLDER, PROJECT)

_RESOURCE_MANAGER = "//cloudresourcemanager.googleapis.com/"
_STORAGE = "//storage.googleapis.com/"
_IAM = "//iam.googleapis.com/"
_KMS = "//cloudkms.googleapis.com/"
_BUCKET_PREFIX = _STORAGE + "projects/_/buckets/"


def node_id(node: str) -> str:
    """``projects/NUMBER``, ``folders/N`` or ``organizations/N`` -> its resource id."""
    return _RESOURCE_MANAGER + node


def node_from_id(resource_id: str) -> str | None:
    return resource_id[len(_RESOURCE_MANAGER):] if resource_id.startswith(_RESOURCE_MANAGER) else None


def bucket_id(name: str) -> str:
    return _BUCKET_PREFIX + name


def bucket_name(reference: str) -> str | None:
    """The bucket named by ``gs://NAME[/...]``, ``//storage.googleapis.com/NAME`` or
    ``//storage.googleapis.com/projects/_/buckets/NAME``; None for anything else."""
    if reference.startswith("gs://"):
        name = reference[len("gs://"):].split("/", 1)[0]
    elif reference.startswith(_BUCKET_PREFIX):
        name = reference[len(_BUCKET_PREFIX):].split("/", 1)[0]
    elif reference.startswith(_STORAGE) and "/" not in reference[len(_STORAGE):].rstrip("/"):
        name = reference[len(_STORAGE):].rstrip("/")
    else:
        return None
    return name or None


def hmac_key_id(project_id: str, access_id: str) -> str:
    return f"{_STORAGE}projects/{project_id}/hmacKeys/{access_id}"


def service_account_id(project_id: str, email: str) -> str:
    return f"{_IAM}projects/{project_id}/serviceAccounts/{email}"


def iam_id(name: str) -> str:
    """A relative IAM name (``projects/P/roles/R``, ``projects/P/serviceAccounts/E/keys/K``)."""
    return _IAM + name


def kms_id(name: str) -> str:
    return _KMS + name
