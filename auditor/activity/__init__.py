"""Activity: who actually touched the training data and the weights, and what looks like theft.

The other half of the question the auditor answers: access analysis says who *can* read an
asset; the logs say who *did*, how much, when and from where.

1. **Ingestion** (``ingest``): CloudTrail (the AWSLogs/... layout of gzip Records files, JSON
   arrays, JSON lines; local folders or ``s3://bucket/prefix``), S3 server access logs and
   Cloud Storage audit logs go into one DuckDB table, ``events`` (columns in ``store``). A
   file or line that cannot be read is returned as an ``IngestIssue`` naming the file and the
   line; everything else is still read.
2. **Key usage** (``usage``): last use of every access key and KMS key seen, and every access
   key of the inventory with its age, idle time and the ML assets it reaches.
3. **Used versus granted** (``granted``): per sensitive asset, who may read it and did, who
   may and did not (candidates for removal), who did without a known grant.
4. **Detections** (``detections``): the ``activity`` pack, each finding with its events as
   evidence:

   * ``ml.anonymous-sensitive-read`` (critical): an anonymous caller read or listed training
     data or weights;
   * ``ml.sensitive-bucket-made-public`` (critical): a policy, ACL, IAM binding or Block Public
     Access change opened a sensitive (or unclassified) bucket;
   * ``ml.bulk-read-above-baseline`` (high): a principal's reads of an asset in a day exceed
     its median day ``bulk_read_factor`` times (without a baseline: the minimums);
   * ``ml.sensitive-read-untrusted-network`` (high): a read from outside ``trusted_cidrs``;
   * ``aws.kms.sensitive-key-decrypt-spike`` (high): a key protecting ML assets decrypted
     ``kms_spike_factor`` times its usual day;
   * ``aws.iam.access-key-created-for-other-user`` (high): CreateAccessKey for another user;
   * ``aws.cloudtrail.logging-disabled`` (high): StopLogging, DeleteTrail, or an UpdateTrail or
     PutEventSelectors that narrows what is logged;
   * ``ml.first-time-sensitive-access`` (medium): a principal touched an asset for the first
     time after the learning period;
   * ``ml.sensitive-read-off-hours`` (medium): a person read outside ``working_hours`` /
     ``working_days`` in ``time_zone``;
   * ``ml.sensitive-read-new-address`` (medium): a read from an address the principal did not
     use in the learning period;
   * ``ml.access-key-multiple-addresses`` (medium): one access key used from more than
     ``key_max_addresses`` untrusted addresses;
   * ``ml.unused-key-reaches-sensitive-data`` / ``ml.overdue-key-reaches-sensitive-data``
     (medium): an active key idle for ``key_unused_days``, or older than ``key_max_age_days``,
     that can reach ML assets.

``run_activity`` chains it all; the settings and log sources are ``[profiles.NAME.activity]``
(``settings.ACTIVITY_OPTIONS``). Like the rest of the pipeline after ``scan``, nothing here
calls a cloud API, except reading log objects from s3:// prefixes, which the scanners do for it
(``auditor.scanners.aws.log_objects``).
"""

from auditor.activity.detections import DETECTIONS, run_detections
from auditor.activity.run import ActivityResult, analyse, run_activity
from auditor.activity.settings import ACTIVITY_OPTIONS, ActivitySettings, LogSources, parse_activity

__all__ = ["ACTIVITY_OPTIONS", "DETECTIONS", "ActivityResult", "ActivitySettings", "LogSources",
           "analyse", "parse_activity", "run_activity", "run_detections"]
