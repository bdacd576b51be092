"""Benchmark: read and analyse 2 million CloudTrail events.

    .venv/bin/python bench/activity_bench.py [--events N] [--keep DIR]

Writes N synthetic CloudTrail records (default 2,000,000; S3 data events on a weights and a
dataset bucket, KMS decryptions, some management calls, and one planted bulk read) as gzip
files of 2,000 records in the AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD layout, then times

* ``audit activity``'s library path (``run_activity``: DuckDB ingestion, every detection, key
  usage and used-versus-granted), and
* a baseline over the same files: a plain Python loop that decompresses each file, parses it
  with json.loads and looks at every record,

and prints events per second for both and their ratio. Both run in the same process on the
same files, so the ratio holds on a busy machine even when the absolute figures do not.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.access.model import AccessMap
from auditor.activity.run import run_activity
from auditor.activity.settings import ActivitySettings, LogSources
from auditor.classify.ml import classify_inventory
from auditor.inventory import Inventory, Resource

ACCOUNT = "111122223333"
REGION = "us-east-1"
RECORDS_PER_FILE = 2000
START = datetime(2025, 5, 1, tzinfo=UTC)
DAYS = 30
WEIGHTS = "acme-model-weights"
DATASETS = "acme-training-datasets"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLES = ("trainer", "evaluator", "data-loader", "notebook", "release")
PLANTED = "arn:aws:iam::111122223333:user/mallory"

# the shape of real S3 data events and KMS calls, filled in per record (no json.dumps per record)
GET_OBJECT = (
    '{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE%(role)s:%(session)s",'
    '"arn":"arn:aws:sts::' + ACCOUNT + ':assumed-role/%(role)s/%(session)s","accountId":"' + ACCOUNT + '",'
    '"accessKeyId":"ASIA%(key)s","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE%(role)s",'
    '"arn":"arn:aws:iam::' + ACCOUNT + ':role/%(role)s","accountId":"' + ACCOUNT + '","userName":"%(role)s"},'
    '"attributes":{"creationDate":"%(time)s","mfaAuthenticated":"false"}}},"eventTime":"%(time)s",'
    '"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"' + REGION + '",'
    '"sourceIPAddress":"%(ip)s",'
    '"userAgent":"[aws-sdk-python/1.34.0 Python/3.11.9 Linux/6.1 Botocore/1.34.0]",'
    '"requestParameters":{"bucketName":"%(bucket)s","Host":"%(bucket)s.s3.' + REGION + '.amazonaws.com",'
    '"key":"%(object)s"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4",'
    '"CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader",'
    '"x-amz-id-2":"%(request)sEXAMPLEiD2","bytesTransferredOut":%(bytes)d},"requestID":"%(request)s",'
    '"eventID":"%(event)s","readOnly":true,"resources":[{"type":"AWS::S3::Object",'
    '"ARN":"arn:aws:s3:::%(bucket)s/%(object)s"},{"accountId":"' + ACCOUNT + '","type":"AWS::S3::Bucket",'
    '"ARN":"arn:aws:s3:::%(bucket)s"}],"eventType":"AwsApiCall","managementEvent":false,'
    '"recipientAccountId":"' + ACCOUNT + '","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3",'
    '"cipherSuite":"TLS_AES_128_GCM_SHA256",'
    '"clientProvidedHostHeader":"%(bucket)s.s3.' + REGION + '.amazonaws.com"}}')
DECRYPT = (
    '{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE%(role)s:%(session)s",'
    '"arn":"arn:aws:sts::' + ACCOUNT + ':assumed-role/%(role)s/%(session)s","accountId":"' + ACCOUNT + '",'
    '"accessKeyId":"ASIA%(key)s","sessionContext":{"sessionIssuer":{"type":"Role",'
    '"arn":"arn:aws:iam::' + ACCOUNT + ':role/%(role)s","accountId":"' + ACCOUNT + '",'
    '"userName":"%(role)s"}},'
    '"invokedBy":"s3.amazonaws.com"},"eventTime":"%(time)s","eventSource":"kms.amazonaws.com",'
    '"eventName":"Decrypt","awsRegion":"' + REGION + '","sourceIPAddress":"s3.amazonaws.com",'
    '"userAgent":"s3.amazonaws.com","requestParameters":{"encryptionAlgorithm":"SYMMETRIC_DEFAULT",'
    '"encryptionContext":{"aws:s3:arn":"arn:aws:s3:::%(bucket)s/%(object)s"}},"responseElements":null,'
    '"requestID":"%(request)s","eventID":"%(event)s","readOnly":true,'
    '"resources":[{"accountId":"' + ACCOUNT + '",'
    '"type":"AWS::KMS::Key","ARN":"' + KEY_ARN + '"}],"eventType":"AwsApiCall","managementEvent":true,'
    '"recipientAccountId":"' + ACCOUNT + '","eventCategory":"Management"}')
MANAGEMENT = (
    '{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE%(session)s",'
    '"arn":"arn:aws:iam::' + ACCOUNT + ':user/%(session)s","accountId":"' + ACCOUNT + '",'
    '"accessKeyId":"AKIA%(key)s","userName":"%(session)s"},"eventTime":"%(time)s",'
    '"eventSource":"%(service)s.amazonaws.com","eventName":"%(name)s","awsRegion":"' + REGION + '",'
    '"sourceIPAddress":"%(ip)s","userAgent":"aws-cli/2.15.0","requestParameters":null,'
    '"responseElements":null,"requestID":"%(request)s","eventID":"%(event)s","readOnly":true,'
    '"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"' + ACCOUNT + '",'
    '"eventCategory":"Management"}')
CALLS = (("s3", "ListBuckets"), ("iam", "ListRoles"), ("sts", "GetCallerIdentity"),
         ("ec2", "DescribeInstances"), ("kms", "ListKeys"))


def _record(index: int, moment: datetime, rng: random.Random) -> str:
    role = ROLES[index % len(ROLES)]
    # each session has its own key and address, as jobs do
    session = index % 211
    values = {"role": role, "session": f"{role}-{session:03d}", "key": f"EXAMPLE{session:08d}",
              "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "ip": f"10.{session % 4}.{session}.10",
              "bucket": WEIGHTS if index % 3 else DATASETS,
              "object": f"runs/{index % 50}/shard-{index % 4096:05d}.bin",
              "bytes": 4_000_000 + rng.randrange(1_000_000), "request": f"{index:016X}",
              "event": f"{index:08x}-{index % 65536:04x}-4000-8000-{index:012x}"}
    kind = index % 20
    if kind < 17:
        return GET_OBJECT % values
    if kind < 19:
        return DECRYPT % values
    service, name = CALLS[index % len(CALLS)]
    return MANAGEMENT % {**values, "service": service, "name": name}


def _write_file(args: tuple[Path, int, int]) -> int:
    root, number, files = args
    rng = random.Random(number)
    first = number * RECORDS_PER_FILE
    moment = START + timedelta(days=DAYS) * (number / files)
    records = [_record(first + i, moment + timedelta(milliseconds=i * 40), rng)
               for i in range(RECORDS_PER_FILE)]
    folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / moment.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{ACCOUNT}_CloudTrail_{REGION}_{moment:%Y%m%dT%H%MZ}_{number:08X}.json.gz"
    body = '{"Records":[' + ",".join(records) + "]}"
    (folder / name).write_bytes(gzip.compress(body.encode(), compresslevel=6))
    return RECORDS_PER_FILE


def _planted(root: Path) -> int:
    """One principal reading the whole weights bucket on one night."""
    moment = START + timedelta(days=DAYS - 2, hours=3)
    records = []
    for i in range(RECORDS_PER_FILE):
        record = json.loads(_record(i, moment + timedelta(seconds=i), random.Random(i)))
        record["userIdentity"] = {"type": "IAMUser", "principalId": "AIDAMALLORY", "arn": PLANTED,
                                  "accountId": ACCOUNT, "accessKeyId": "AKIAMALLORYEXAMPLE1",
                                  "userName": "mallory"}
        record["eventName"], record["eventSource"] = "GetObject", "s3.amazonaws.com"
        record["requestParameters"] = {"bucketName": WEIGHTS, "key": f"final/shard-{i:05d}.safetensors"}
        record["additionalEventData"] = {"bytesTransferredOut": 200_000_000}
        record["sourceIPAddress"] = "203.0.113.66"
        records.append(record)
    folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / moment.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ACCOUNT}_CloudTrail_{REGION}_{moment:%Y%m%dT%H%MZ}_PLANTED.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return len(records)


def generate(root: Path, events: int) -> int:
    files = max(1, (events - RECORDS_PER_FILE) // RECORDS_PER_FILE)
    jobs = [(root, n, files) for n in range(files)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        written = sum(pool.map(_write_file, jobs, chunksize=8))
    return written + _planted(root)


def inventory() -> Inventory:
    buckets = [Resource(id=f"arn:aws:s3:::{name}", type="aws.s3.bucket", provider="aws", account=ACCOUNT,
                        name=name, region=REGION, tags={"ml-asset": label},
                        attributes={"encryption": {"algorithm": "aws:kms", "kms_key_id": KEY_ARN,
                                                   "bucket_key_enabled": False}})
               for name, label in ((WEIGHTS, "model-weights"), (DATASETS, "training-data"))]
    return Inventory(resources=buckets)


def baseline(root: Path) -> int:
    """The plain Python way: json.loads each file and look at every record."""
    seen = 0
    for path in sorted(root.rglob("*.json.gz")):
        with path.open("rb") as handle:
            for record in json.loads(gzip.decompress(handle.read()))["Records"]:
                seen += record["eventName"] is not None
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="activity-bench-"))
    try:
        if args.keep and any(root.rglob("*.json.gz")):
            print(f"reusing the logs in {root}")
        else:
            started = time.perf_counter()
            count = generate(root, args.events)
            print(f"generated {count:,} events in {time.perf_counter() - started:.1f} s ({root})")
        inv = inventory()
        classifications = classify_inventory(inv)
        settings = ActivitySettings(bulk_read_min_bytes=50 * 1024**3, bulk_read_min_objects=5000)
        started, cpu = time.perf_counter(), time.process_time()
        result = run_activity(LogSources(cloudtrail=(str(root / "AWSLogs"),)), settings, inv,
                              classifications, AccessMap(), timedelta(days=DAYS + 1),
                              START + timedelta(days=DAYS), work_dir=root.parent)
        ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
        if result.errors:
            print(f"{len(result.errors)} read errors, first: {result.errors[0]}", file=sys.stderr)
        started, cpu = time.perf_counter(), time.process_time()
        parsed = baseline(root)
        theirs, theirs_cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"auditor (DuckDB ingest + analysis): {result.events:,} events in {ours:.1f} s = "
              f"{result.events / ours:,.0f} events/s ({ours_cpu:.1f} CPU-s, "
              f"{result.events / ours_cpu:,.0f} events per CPU-s); {len(result.findings)} "
              f"findings ({', '.join(sorted({f.rule_id for f in result.findings})) or 'none'})")
        print(f"baseline (Python gzip + json.loads, no analysis): {parsed:,} events in {theirs:.1f} s = "
              f"{parsed / theirs:,.0f} events/s ({theirs_cpu:.1f} CPU-s, "
              f"{parsed / theirs_cpu:,.0f} events per CPU-s)")
        # other processes on the machine slow both down; CPU time is the steadier comparison
        print(f"ratio: {(result.events / ours) / (parsed / theirs):.2f}x the baseline in time, "
              f"{theirs_cpu / ours_cpu:.2f}x in CPU; {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
