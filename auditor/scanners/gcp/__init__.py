"""GCP scanner: Cloud Storage, the resource hierarchy, IAM, service-account keys and KMS."""
