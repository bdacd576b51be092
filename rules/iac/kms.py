"""KMS keys in code: key policies open to anyone, and keys protecting ML assets that never rotate."""

from __future__ import annotations

from typing import ClassVar

from auditor.iac import values
from auditor.iac.context import NOT_APPLICABLE, IacScan, Verdict
from auditor.iac.model import Block
from auditor.iac.policy import actions_of, public_statements, read_document
from auditor.iac.rules import IacRule


class KeyPolicyWildcardPrincipal(IacRule):
    id = "iac.kms.key-policy-wildcard-principal"
    title = "KMS key policy allows any principal with no condition"
    severity = "high"
    terraform_types = ("aws_kms_key", "aws_kms_key_policy")
    cloudformation_types = ("AWS::KMS::Key",)
    rationale = ("A key policy is the root of access to a key: an Allow for Principal \"*\" with no "
                 "condition naming the caller's account or organization lets principals of any "
                 "account use the key (to decrypt whatever it protects) once their own IAM policy "
                 "allows it, which their administrators decide, not you.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Name the principals (your account root, specific roles), or add a kms:CallerAccount "
                "or aws:PrincipalOrgID condition to the statement.",
    }
    references = ("https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html",)

    def evaluate(self, block: Block, scan: IacScan) -> Verdict:
        value = block.config.get("KeyPolicy" if block.framework == "cloudformation" else "policy")
        if value is None:
            return Verdict.passed()  # the default key policy names the account only
        document = read_document(scan.model, block, value)
        if document is None:
            return Verdict.error(f"the key policy of {block.address} cannot be read from the code, so a "
                                 "wildcard principal cannot be ruled out")
        public = public_statements(document)
        if not public:
            return Verdict.passed()
        actions = sorted({a for s in public for a in actions_of(s)})
        return Verdict.failed(f"the key policy of {block.address} lets any principal do "
                              f"{', '.join(actions) or 'everything'}",
                              {"statements": public, "policy_source": document.source})


class SensitiveKeyRotationDisabled(IacRule):
    id = "iac.kms.sensitive-key-rotation-disabled"
    title = "KMS key protecting training data or model weights has automatic rotation off"
    severity = "medium"
    terraform_types = ("aws_kms_key",)
    cloudformation_types = ("AWS::KMS::Key",)
    rationale = ("A key that encrypts training data or weights by default keeps the same key material "
                 "for ever unless rotation is on: a leaked or mishandled key stays useful.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Turn on automatic rotation (enable_key_rotation = true / EnableKeyRotation: true).",
        "terraform": 'resource "aws_kms_key" "this" {\n  enable_key_rotation = true\n}',
    }

    def evaluate(self, block: Block, scan: IacScan) -> Verdict:
        protects = scan.key_classification(block)
        if protects is None or not protects.sensitive:
            return NOT_APPLICABLE
        cloudformation = block.framework == "cloudformation"
        spec = values.string(block.get("KeySpec" if cloudformation else "customer_master_key_spec"))
        if spec not in (None, "SYMMETRIC_DEFAULT"):
            return NOT_APPLICABLE  # only symmetric keys rotate automatically
        if values.as_bool(block.get("EnableKeyRotation" if cloudformation else "enable_key_rotation")):
            return Verdict.passed()
        return Verdict.failed(f"{block.address} encrypts {protects.label} ({'; '.join(protects.reasons)}) "
                              "and does not rotate", {"protects": list(protects.reasons)})
