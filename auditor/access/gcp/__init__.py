"""GCP effective access: hierarchy inheritance, roles, IAM Conditions, impersonation."""
