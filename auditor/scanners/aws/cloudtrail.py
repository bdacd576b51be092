"""CloudTrail trails, one task per scanned region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.scanners.aws.collect import AwsContext, ResourceDraft
from auditor.scanners.runner import Record, Task, TaskContext

TRAIL = "aws.cloudtrail.trail"


def trail_region_task(context: AwsContext, region: str) -> Task:
    def run(_: TaskContext) -> Iterator[Record]:
        response = context.api.call("cloudtrail", "DescribeTrails", region=region,
                                    includeShadowTrails=True)
        for trail in response.get("trailList", []):
            if _reporting_region(context, trail) == region:
                yield from scan_trail(context, region, trail)

    return Task(label=f"cloudtrail trails {region}", run=run, service="cloudtrail", region=region)


def _reporting_region(context: AwsContext, trail: dict[str, Any]) -> str:
    """A multi-region or organization trail is visible from every region: report it once,
    from its home region, or from the first scanned region when its home is not scanned."""
    home = trail.get("HomeRegion")
    return home if home in context.regions else min(context.regions)


def scan_trail(context: AwsContext, region: str, trail: dict[str, Any]) -> Iterator[Record]:
    arn = trail["TrailARN"]
    draft = ResourceDraft(context, id=arn, type=TRAIL, name=trail["Name"],
                          region=trail.get("HomeRegion") or region)
    draft.attributes.update(
        home_region=trail.get("HomeRegion"), is_multi_region=bool(trail.get("IsMultiRegionTrail")),
        is_organization_trail=bool(trail.get("IsOrganizationTrail")),
        s3_bucket_name=trail.get("S3BucketName"), kms_key_id=trail.get("KmsKeyId"),
        log_file_validation=bool(trail.get("LogFileValidationEnabled")))
    draft.read("is_logging", "GetTrailStatus", lambda r: bool(r.get("IsLogging")), Name=arn)
    draft.read(("event_selectors", "advanced_event_selectors"), "GetEventSelectors",
               lambda r: (r.get("EventSelectors"), r.get("AdvancedEventSelectors")),
               TrailName=arn)
    return draft.records()
