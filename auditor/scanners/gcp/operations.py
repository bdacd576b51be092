"""Every Google API method the GCP scanner may call, with the IAM permission it needs.

The table is the single source of the scanner's ``permissions`` and of its read-only
guarantee: a call site names its operation, and an operation missing from the table is a
programming error, never sent. (No Google imports here: the plugin registry reads it.)
"""

from __future__ import annotations

# (service, API method) -> the IAM permission that authorizes it
OPERATIONS: dict[tuple[str, str], str] = {
    ("cloudresourcemanager", "organizations.get"): "resourcemanager.organizations.get",
    ("cloudresourcemanager", "organizations.getIamPolicy"): "resourcemanager.organizations.getIamPolicy",
    ("cloudresourcemanager", "folders.get"): "resourcemanager.folders.get",
    ("cloudresourcemanager", "folders.list"): "resourcemanager.folders.list",
    ("cloudresourcemanager", "folders.getIamPolicy"): "resourcemanager.folders.getIamPolicy",
    ("cloudresourcemanager", "projects.get"): "resourcemanager.projects.get",
    ("cloudresourcemanager", "projects.list"): "resourcemanager.projects.list",
    ("cloudresourcemanager", "projects.getIamPolicy"): "resourcemanager.projects.getIamPolicy",
    ("orgpolicy", "policies.getEffectivePolicy"): "orgpolicy.policy.get",
    ("iam", "policies.listPolicies"): "iam.denypolicies.list",
    ("iam", "policies.get"): "iam.denypolicies.get",
    ("iam", "roles.list"): "iam.roles.list",
    ("iam", "serviceAccounts.list"): "iam.serviceAccounts.list",
    ("iam", "serviceAccounts.getIamPolicy"): "iam.serviceAccounts.getIamPolicy",
    ("iam", "serviceAccounts.keys.list"): "iam.serviceAccountKeys.list",
    # projection=full returns ACLs, which needs storage.buckets.getIamPolicy as well
    ("storage", "buckets.list"): "storage.buckets.list",
    ("storage", "buckets.getIamPolicy"): "storage.buckets.getIamPolicy",
    ("storage", "objects.list"): "storage.objects.list",
    ("storage", "objectAccessControls.list"): "storage.objects.getIamPolicy",
    ("storage", "projects.hmacKeys.list"): "storage.hmacKeys.list",
    ("cloudkms", "locations.list"): "cloudkms.locations.list",
    ("cloudkms", "keyRings.list"): "cloudkms.keyRings.list",
    ("cloudkms", "keyRings.getIamPolicy"): "cloudkms.keyRings.getIamPolicy",
    ("cloudkms", "cryptoKeys.list"): "cloudkms.cryptoKeys.list",
    ("cloudkms", "cryptoKeys.getIamPolicy"): "cloudkms.cryptoKeys.getIamPolicy",
}

PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))
