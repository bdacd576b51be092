"""Shift left: the audit's questions asked of Terraform and CloudFormation before they apply.

``scan_iac(path, settings)`` runs checkov in-process and offline (auditor.iac.engine) with its
built-in Terraform and CloudFormation checks and our own (rules/iac, auditor.iac.rules), which
find training-data and model-weights buckets in the code with the live audit's classification
settings. The result is a RunResult like a live audit's, so findings.json, report.html, SARIF
and JUnit come out of the same renderers; each finding points at its file and lines.

Rule ids: ours ``iac.<service>.<slug>``; checkov's ``checkov.<CKV_ID>`` (severity: see
auditor.iac.results).
"""

from auditor.iac.scan import scan_iac

__all__ = ["scan_iac"]
