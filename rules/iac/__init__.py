"""Our IaC checks, one module per service (rule ids ``iac.<module>.<slug>``).

Each rule is a class of auditor.iac.rules.IacRule; auditor.iac.rules.load_rules finds them all
here and auditor.iac.engine registers each with checkov as a custom check.
"""
