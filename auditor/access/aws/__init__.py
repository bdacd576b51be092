"""AWS effective access: policy evaluation, the principal graph, S3 and KMS specifics."""
