# fails: iac.kms.key-policy-wildcard-principal, iac.kms.sensitive-key-rotation-disabled
resource "aws_kms_key" "exposed" {
  description         = "encrypts acme-eval-datasets"
  enable_key_rotation = false
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Anyone"
      Effect    = "Allow"
      Principal = { AWS = "*" }
      Action    = ["kms:Decrypt", "kms:DescribeKey"]
      Resource  = "*"
    }]
  })
}

# a wildcard principal tied to an organization is not open to anyone; this key protects no bucket
resource "aws_kms_key" "org_shared" {
  description = "shared with the organization"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = "*"
      Action    = "kms:Decrypt"
      Resource  = "*"
      Condition = { StringEquals = { "aws:PrincipalOrgID" = "o-abc123" } }
    }]
  })
}
