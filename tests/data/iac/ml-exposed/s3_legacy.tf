# AWS provider v3 style: everything inline in the bucket block.

# fails: iac.s3.sensitive-bucket-public-acl, iac.s3.sensitive-bucket-public-policy, iac.s3.sensitive-bucket-cross-account-policy, iac.s3.sensitive-bucket-public-access-block-off, iac.s3.sensitive-bucket-no-cmk-encryption, iac.s3.sensitive-bucket-versioning-disabled, iac.s3.sensitive-bucket-no-access-logging
resource "aws_s3_bucket" "corpus" {
  bucket = "acme-training-data"
  acl    = "public-read"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "PublicRead"
        Effect    = "Allow"
        Principal = "*"
        Action    = "s3:GetObject"
        Resource  = "arn:aws:s3:::acme-training-data/*"
      },
      {
        Sid       = "PartnerRead"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::999988887777:root" }
        Action    = ["s3:GetObject", "s3:ListBucket"]
        Resource  = ["arn:aws:s3:::acme-training-data", "arn:aws:s3:::acme-training-data/*"]
      },
    ]
  })
  versioning {
    enabled = false
  }
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}

# not training data or weights: none of our checks apply (checkov's do)
resource "aws_s3_bucket" "website" {
  bucket = "acme-www"
  acl    = "public-read"
}
