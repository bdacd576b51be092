"""Read-only by proof: a pytest plugin that records every cloud API call made in the test
process and fails the test during which the auditor made a call that is not a read, or a
scanner made a call that ``audit permissions`` does not grant.

Register it for the whole suite in tests/conftest.py::

    pytest_plugins = ["tests.readonly_plugin"]

(or for one run: ``python -m pytest -p tests.readonly_plugin``).

What is recorded (on the wire side of the client libraries, not at the scanner's own
allow-list, which is what is being proven):

* AWS: every botocore client created while the plugin is active gets a
  ``provide-client-params`` hook, the first event of every API call, which every handler
  receives (``botocore.session.Session.create_client`` is wrapped; boto3 creates its clients
  through it). The operation is the API operation botocore sends (``ListObjectsV2``), page by
  page under paginators, also when a Stubber answers it.
* Google: every gRPC unary call of every channel (``grpc._channel.Channel.unary_unary``: the
  stubs of every gapic client: Resource Manager, IAM, KMS, Org Policy) and every Cloud Storage
  JSON API request (``google.cloud._http.JSONConnection._do_request``).

Whose calls are checked, by construction:

* calls made by code of the ``auditor`` package (the innermost ``auditor/`` frame of the
  calling thread), except ``auditor/demo/`` (the demo seeder: the one place that writes, to an
  emulator only) and ``auditor/deliver/`` (delivery to s3:// and gs://, the one sanctioned
  write, of the auditor's own reports);
* and every call of an AWS client carrying the auditor's user agent (``auditor/VERSION``, set
  by the scanner's client factory), whoever calls it: that client must never write.

Test fixtures' own clients (plain boto3, the GCS seeding script in tests/data/gcp/) and the
seeder (user agent ``auditor-demo-seed/``) are test setup, not the auditor, so their writes are
not checked. Calls made in other processes (the CLI run in a subprocess) are not seen here:
tests/test_faults.py checks those at its proxy.

The checks, per test (so that the failing test is the one that made the call, under
pytest-xdist too):

1. read-only: AWS operations ``List*``, ``Get*``, ``Describe*``, ``Head*``, ``Lookup*``, plus
   ``sts:AssumeRole`` (it changes nothing in any account; IAM classes it as a write, so the
   scanner declares it apart as an entry permission); Google gRPC methods ``Get*`` (with
   ``GetIamPolicy``), ``List*``, ``TestIamPermissions``; Cloud Storage requests ``GET``/``HEAD``;
2. covered: every call made by code that reads the customer's cloud (``auditor/scanners/``,
   and ``auditor/scanners/aws/log_objects.py`` fetching s3:// logs) needs an IAM permission
   that ``auditor.permissions.least_privilege_policy(provider)`` grants. The permission of a
   call is derived here, independently of the scanners' tables: ``<prefix>:<Operation>`` for
   AWS, with the documented irregular names in ``AWS_IRREGULAR_ACTIONS``; tables for Google.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest

import auditor

AUDITOR_DIR = os.path.dirname(auditor.__file__) + os.sep
# auditor code whose calls are not the auditor reading: it writes on purpose, elsewhere
SANCTIONED_WRITERS = ("demo/", "deliver/")
# auditor code that reads the customer's cloud: every call it makes must be granted by
# `audit permissions`; the log reader (`audit activity` fetching s3:// logs) by what
# `--log-source` adds
CLOUD_READERS = ("scanners/",)
LOG_READER = "scanners/aws/log_objects.py"
AUDITOR_USER_AGENT = re.compile(r"(^|\s)auditor/")

AWS_READ_VERBS = re.compile(r"^(List|Get|Describe|Head|Lookup)[A-Z]")
# changes nothing, but IAM classes it as a write (the scanner's entry_permissions)
AWS_READ_ONLY_EXCEPTIONS = frozenset({("sts", "AssumeRole")})
# API operations whose IAM action is not "<prefix>:<Operation>" (AWS Service Authorization
# Reference); keyed by (botocore service, operation)
AWS_IRREGULAR_ACTIONS: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}

GOOGLE_READ_VERBS = re.compile(r"^(Get|List)[A-Z]|^TestIamPermissions$")
_RM = "/google.cloud.resourcemanager.v3"
_KMS = "/google.cloud.kms.v1.KeyManagementService"
# gRPC method -> IAM permission
GRPC_PERMISSIONS: dict[str, str] = {
    f"{_RM}.Organizations/GetOrganization": "resourcemanager.organizations.get",
    f"{_RM}.Organizations/GetIamPolicy": "resourcemanager.organizations.getIamPolicy",
    f"{_RM}.Folders/GetFolder": "resourcemanager.folders.get",
    f"{_RM}.Folders/ListFolders": "resourcemanager.folders.list",
    f"{_RM}.Folders/GetIamPolicy": "resourcemanager.folders.getIamPolicy",
    f"{_RM}.Projects/GetProject": "resourcemanager.projects.get",
    f"{_RM}.Projects/ListProjects": "resourcemanager.projects.list",
    f"{_RM}.Projects/GetIamPolicy": "resourcemanager.projects.getIamPolicy",
    "/google.cloud.orgpolicy.v2.OrgPolicy/GetEffectivePolicy": "orgpolicy.policy.get",
    "/google.iam.v2.Policies/ListPolicies": "iam.denypolicies.list",
    "/google.iam.v2.Policies/GetPolicy": "iam.denypolicies.get",
    "/google.iam.admin.v1.IAM/ListRoles": "iam.roles.list",
    "/google.iam.admin.v1.IAM/ListServiceAccounts": "iam.serviceAccounts.list",
    "/google.iam.admin.v1.IAM/GetIamPolicy": "iam.serviceAccounts.getIamPolicy",
    "/google.iam.admin.v1.IAM/ListServiceAccountKeys": "iam.serviceAccountKeys.list",
    "/google.cloud.location.Locations/ListLocations": "cloudkms.locations.list",
    f"{_KMS}/ListKeyRings": "cloudkms.keyRings.list",
    f"{_KMS}/ListCryptoKeys": "cloudkms.cryptoKeys.list",
}
# the IAMPolicy mixin serves many APIs: the permission follows the resource's collection
IAM_POLICY_MIXIN = "/google.iam.v1.IAMPolicy/"
MIXIN_COLLECTIONS = {"cryptoKeys": "cloudkms.cryptoKeys", "keyRings": "cloudkms.keyRings"}
# Cloud Storage JSON API: (method, path under /storage/v1) -> IAM permission ("" needs none)
STORAGE_PERMISSIONS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), permission) for method, pattern, permission in (
        ("GET", r"^/b$", "storage.buckets.list"),
        ("GET", r"^/b/[^/]+$", "storage.buckets.get"),
        ("GET", r"^/b/[^/]+/iam$", "storage.buckets.getIamPolicy"),
        ("GET", r"^/b/[^/]+/iam/testPermissions$", ""),
        ("GET", r"^/b/[^/]+/(acl|defaultObjectAcl)$", "storage.buckets.getIamPolicy"),
        ("GET", r"^/b/[^/]+/o$", "storage.objects.list"),
        ("GET", r"^/b/[^/]+/o/[^/]+/acl$", "storage.objects.getIamPolicy"),
        ("GET", r"^/b/[^/]+/o/[^/]+$", "storage.objects.get"),
        ("GET", r"^/projects/[^/]+/hmacKeys$", "storage.hmacKeys.list"),
    ))
STORAGE_API_PREFIX = "/storage/v1"


@dataclass(frozen=True, slots=True)
class Call:
    provider: str  # "aws" or "gcp"
    service: str  # botocore service name, gRPC service, or "storage"
    operation: str  # "ListObjectsV2", "/google.iam.admin.v1.IAM/ListRoles", "GET /b/x/o"
    read_only: bool
    permission: str | None  # the IAM permission it needs; None: not known here
    by_auditor: bool  # made by the auditor, so it must be read-only
    origin: str | None  # the auditor module that made it, relative to the package
    test: str = ""

    @property
    def reads_cloud(self) -> bool:
        return bool(self.origin and self.origin.startswith(CLOUD_READERS))

    def describe(self) -> str:
        where = f" from auditor/{self.origin}" if self.origin else ""
        return f"{self.provider} {self.service} {self.operation}{where}"


# -- classifying calls ----------------------------------------------------------------------------
def calling_module() -> str | None:
    """The innermost module of the auditor package on the calling thread's stack."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(AUDITOR_DIR):
            return filename[len(AUDITOR_DIR):].replace(os.sep, "/")
        frame = frame.f_back
    return None


def _is_auditor(origin: str | None, user_agent: str = "") -> bool:
    return (bool(AUDITOR_USER_AGENT.search(user_agent))
            or (origin is not None and not origin.startswith(SANCTIONED_WRITERS)))


def aws_call(service: str, iam_prefix: str, operation: str, user_agent: str,
             origin: str | None) -> Call:
    return Call(provider="aws", service=service, operation=operation,
                read_only=(bool(AWS_READ_VERBS.match(operation))
                           or (service, operation) in AWS_READ_ONLY_EXCEPTIONS),
                permission=AWS_IRREGULAR_ACTIONS.get((service, operation),
                                                     f"{iam_prefix}:{operation}"),
                by_auditor=_is_auditor(origin, user_agent), origin=origin)


def grpc_call(method: str, resource: str, origin: str | None) -> Call:
    service, _, name = method.lstrip("/").rpartition("/")
    permission = GRPC_PERMISSIONS.get(method)
    if method.startswith(IAM_POLICY_MIXIN):
        collections = re.findall(r"(?:^|/)([A-Za-z]+)/[^/]+", resource)
        prefix = MIXIN_COLLECTIONS.get(collections[-1]) if collections else None
        permission = f"{prefix}.{name[0].lower()}{name[1:]}" if prefix else None
    return Call(provider="gcp", service=service, operation=method,
                read_only=bool(GOOGLE_READ_VERBS.match(name)), permission=permission,
                by_auditor=_is_auditor(origin), origin=origin)


def storage_call(method: str, url: str, origin: str | None) -> Call:
    path = urlsplit(url).path
    path = path[len(STORAGE_API_PREFIX):] if path.startswith(STORAGE_API_PREFIX) else path
    permission = next((p for m, pattern, p in STORAGE_PERMISSIONS
                       if m == method.upper() and pattern.match(path)), None)
    return Call(provider="gcp", service="storage", operation=f"{method.upper()} {path}",
                read_only=method.upper() in ("GET", "HEAD"), permission=permission,
                by_auditor=_is_auditor(origin), origin=origin)


@cache
def granted(provider: str, reads_logs: bool = False) -> frozenset[str]:
    """What ``audit permissions --provider PROVIDER`` grants a scan (with the AssumeRole of
    organization scans), or, for ``reads_logs``, what it adds to read s3:// log sources (so
    that a scanner reading object content is still caught)."""
    from auditor.permissions import LOGS_SID, least_privilege_policy, policy_permissions

    if not reads_logs:
        return frozenset(policy_permissions(least_privilege_policy(provider, entry_role="any")))
    policy = least_privilege_policy(provider, log_locations=["s3://any-log-bucket/"])
    return frozenset(action for statement in policy.get("Statement", ())
                     if statement["Sid"] == LOGS_SID for action in statement["Action"])


def is_granted(permission: str, provider: str, reads_logs: bool = False) -> bool:
    return any(fnmatch.fnmatchcase(permission.lower(), grant.lower())
               for grant in granted(provider, reads_logs))


def problems(calls: list[Call]) -> list[str]:
    """Why these calls break the read-only guarantee; empty when they do not."""
    found: dict[str, None] = {}  # once each, in order
    for call in calls:
        if call.by_auditor and not call.read_only:
            found[f"not read-only: {call.describe()}"] = None
        if call.reads_cloud and not (call.permission == "" or (call.permission and is_granted(
                call.permission, call.provider, reads_logs=call.origin == LOG_READER))):
            found[f"not granted: {call.describe()} needs "
                  f"{call.permission or 'an unknown permission'}, which `audit permissions "
                  f"--provider {call.provider}` does not print"] = None
    return list(found)


# -- recording ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Recorder:
    calls: list[Call] = field(default_factory=list)
    test: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self._lock:
            self.calls.append(replace(call, test=self.test))

    def take(self) -> list[Call]:
        with self._lock:
            taken, self.calls = self.calls, []
        return taken


_recorders: list[Recorder] = []
_patches: list[tuple[Any, str, Any]] = []  # (owner, attribute, original)
_patch_lock = threading.Lock()
# set by recording(isolated=True) in this thread: calls go to that recorder alone
_isolated: ContextVar[Recorder | None] = ContextVar("auditor_readonly_isolated", default=None)


def _record(call: Call) -> None:
    only = _isolated.get()
    for recorder in [only] if only is not None else list(_recorders):
        recorder.add(call)


def _aws_hook(client: Any) -> Callable[..., None]:
    user_agent = client.meta.config.user_agent_extra or ""
    service = client.meta.service_model.service_name
    prefix = client.meta.service_model.signing_name

    def on_call(model: Any, **_: Any) -> None:
        _record(aws_call(service, prefix, model.name, user_agent, calling_module()))

    return on_call


def _wrap_create_client(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("provide-client-params", _aws_hook(client),
                                    unique_id="auditor-readonly-recorder")
        return client
    return create_client


class _RecordingMultiCallable:
    """A gRPC unary-unary stub that records each call, then makes it."""

    def __init__(self, inner: Any, method: str):
        self._inner = inner
        self._method = method

    def _note(self, request: Any) -> None:
        _record(grpc_call(self._method, str(getattr(request, "resource", "") or ""),
                          calling_module()))

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(request)
        return self._inner(request, *args, **kwargs)

    def with_call(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(request)
        return self._inner.with_call(request, *args, **kwargs)

    def future(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(request)
        return self._inner.future(request, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _wrap_unary_unary(original: Callable[..., Any]) -> Callable[..., Any]:
    def unary_unary(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        return _RecordingMultiCallable(original(self, method, *args, **kwargs), method)
    return unary_unary


def _wrap_do_request(original: Callable[..., Any]) -> Callable[..., Any]:
    def do_request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        _record(storage_call(method, url, calling_module()))
        return original(self, method, url, *args, **kwargs)
    return do_request


def _targets() -> Iterator[tuple[Any, str, Callable[[Any], Any]]]:
    import botocore.session

    yield botocore.session.Session, "create_client", _wrap_create_client
    try:  # the Google libraries are optional extras
        import grpc._channel
        yield grpc._channel.Channel, "unary_unary", _wrap_unary_unary
    except ImportError:
        pass
    try:
        import google.cloud._http
        yield google.cloud._http.JSONConnection, "_do_request", _wrap_do_request
    except ImportError:
        pass


def _install() -> None:
    for owner, name, wrap in _targets():
        original = owner.__dict__[name]
        _patches.append((owner, name, original))
        setattr(owner, name, wrap(original))


def _uninstall() -> None:
    while _patches:
        owner, name, original = _patches.pop()
        setattr(owner, name, original)


def start(recorder: Recorder) -> None:
    with _patch_lock:
        if not _recorders:
            _install()
        _recorders.append(recorder)


def stop(recorder: Recorder) -> None:
    with _patch_lock:
        _recorders.remove(recorder)
        if not _recorders:
            _uninstall()


@contextmanager
def recording(isolated: bool = False) -> Iterator[Recorder]:
    """Record the calls made inside the block (by clients created inside it, or while the
    plugin is active). ``isolated``: calls made by this thread go to this recorder only, so
    that a test planting a write on purpose does not fail itself through the suite's record."""
    recorder = Recorder()
    start(recorder)
    token = _isolated.set(recorder) if isolated else None
    try:
        yield recorder
    finally:
        if token is not None:
            _isolated.reset(token)
        stop(recorder)


def summary(calls: list[Call]) -> Counter[str]:
    """How many calls by the auditor each provider's operation had (a Cloud Storage request
    counts by the permission it needs: its path holds bucket and object names)."""
    return Counter(f"{c.provider} {c.permission if c.service == 'storage' else c.operation}"
                   for c in calls if c.by_auditor)


# -- the pytest plugin ----------------------------------------------------------------------------
_SUITE = Recorder()
_seen: Counter[str] = Counter()
_outside_tests: list[str] = []  # problems of calls made outside any test (collection)
_WORKER_KEY = "auditor_readonly_calls"


def is_active() -> bool:
    return _SUITE in _recorders


def pytest_configure(config: pytest.Config) -> None:
    start(_SUITE)


def pytest_unconfigure(config: pytest.Config) -> None:
    if is_active():
        stop(_SUITE)


def _take_outside_tests() -> None:
    calls = _SUITE.take()
    _seen.update(summary(calls))
    _outside_tests.extend(problems(calls))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _take_outside_tests()
    _SUITE.test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    if call.when == "teardown":
        calls = _SUITE.take()
        _seen.update(summary(calls))
        found = problems(calls)
        if found:
            report.outcome = "failed"
            report.longrepr = ("the auditor broke its read-only guarantee during this test "
                               "(tests/readonly_plugin.py):\n  " + "\n  ".join(found))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    _take_outside_tests()
    if _outside_tests:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: hand the counts to the controller
        workeroutput[_WORKER_KEY] = dict(_seen)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _seen.update(getattr(node, "workeroutput", {}).get(_WORKER_KEY, {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for problem in _outside_tests:
        terminalreporter.write_line(f"read-only guarantee broken outside any test: {problem}",
                                    red=True)
    if not _seen:
        return
    by_provider = Counter(key.split(" ", 1)[0] for key in _seen)
    terminalreporter.write_sep("-", "read-only proof (tests/readonly_plugin.py)")
    terminalreporter.write_line(
        f"{sum(_seen.values())} cloud API calls by the auditor, "
        + ", ".join(f"{n} distinct {p} operations" for p, n in sorted(by_provider.items()))
        + "; any write, or a cloud read not granted by `audit permissions`, fails its test")
