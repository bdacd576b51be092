"""``audit demo``: the whole audit of the emulated ML org, with no cloud account.

A moto server is started in this process, the packaged scenario is seeded into it, and the
ordinary pipeline scans it with fake credentials, evaluates the rules and writes the reports.
"""

from __future__ import annotations

from pathlib import Path

from auditor import clock, pipeline
from auditor.config import Profile
from auditor.demo.scenario import DEMO_SCENARIO, demo_scenario
from auditor.demo.seed import seed
from auditor.demo.server import emulator_credentials, start_moto
from auditor.run import RunResult

DEMO_PROFILE = "demo"


def run_demo(output_dir: Path,
             progress: pipeline.Progress | None = None) -> tuple[RunResult, Path]:
    """Audit the demo org and write the reports into ``output_dir``; returns the result."""
    say = progress or (lambda _message: None)
    scenario = demo_scenario()
    started_at = clock.isoformat(clock.now())
    with start_moto() as moto:
        say(f"started an emulated AWS account (moto) at {moto.endpoint_url}")
        say(str(seed(scenario, moto.endpoint_url)))
        profile = Profile(name=DEMO_PROFILE, source=f"auditor.demo/{DEMO_SCENARIO}",
                          providers={"aws": {"endpoint_url": moto.endpoint_url,
                                             "regions": [scenario["region"]]}})
        with emulator_credentials(scenario["account_id"]):
            inventory = pipeline.scan(profile, progress)
    result = pipeline.evaluate(inventory, pipeline.EvaluationOptions.from_profile(profile),
                               started_at=started_at)
    pipeline.write_outputs(result, output_dir)
    return result, output_dir
