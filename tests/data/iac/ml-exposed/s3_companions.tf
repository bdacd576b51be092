# AWS provider v4+ style: the bucket and its companion resources.

data "aws_caller_identity" "current" {}

# fails: iac.s3.sensitive-bucket-no-access-logging
resource "aws_s3_bucket" "weights" {
  bucket_prefix = "acme-"
  tags = {
    ml-asset = "model-weights"
  }
}

# fails: iac.s3.sensitive-bucket-public-acl
resource "aws_s3_bucket_acl" "weights" {
  bucket = aws_s3_bucket.weights.id
  access_control_policy {
    grant {
      grantee {
        type = "Group"
        uri  = "http://acs.amazonaws.com/groups/global/AllUsers"
      }
      permission = "READ"
    }
    owner {
      id = "c0ffee"
    }
  }
}

# fails: iac.s3.sensitive-bucket-public-access-block-off
resource "aws_s3_bucket_public_access_block" "weights" {
  bucket                  = aws_s3_bucket.weights.id
  block_public_acls       = false
  ignore_public_acls      = false
  block_public_policy     = false
  restrict_public_buckets = false
}

# fails: iac.s3.sensitive-bucket-no-cmk-encryption
resource "aws_s3_bucket_server_side_encryption_configuration" "weights" {
  bucket = aws_s3_bucket.weights.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = "alias/aws/s3"
    }
  }
}

# fails: iac.s3.sensitive-bucket-versioning-disabled
resource "aws_s3_bucket_versioning" "weights" {
  bucket = aws_s3_bucket.weights.id
  versioning_configuration {
    status = "Suspended"
  }
}

# fails: iac.s3.sensitive-bucket-public-policy
resource "aws_s3_bucket_policy" "weights" {
  bucket = aws_s3_bucket.weights.id
  policy = data.aws_iam_policy_document.weights_public.json
}

data "aws_iam_policy_document" "weights_public" {
  statement {
    sid     = "Mirror"
    actions = ["s3:GetObject"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    resources = ["${aws_s3_bucket.weights.arn}/*"]
    condition {
      test     = "StringLike"
      variable = "aws:Referer"
      values   = ["https://mirror.example.com/*"]
    }
  }
}

# A bucket named by its companions literally, encrypted under the exposed key in kms.tf.
resource "aws_s3_bucket" "eval_datasets" {
  bucket = "acme-eval-datasets"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "eval_datasets" {
  bucket = "acme-eval-datasets"
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.exposed.arn
    }
  }
}

resource "aws_s3_bucket_versioning" "eval_datasets" {
  bucket = "acme-eval-datasets"
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_logging" "eval_datasets" {
  bucket        = "acme-eval-datasets"
  target_bucket = "acme-access-logs"
}

resource "aws_s3_bucket_public_access_block" "eval_datasets" {
  bucket                  = "acme-eval-datasets"
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

# a public policy that Block Public Access above neutralises; our own account is a reference
resource "aws_s3_bucket_policy" "eval_datasets" {
  bucket = "acme-eval-datasets"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = "*"
        Action    = "s3:GetObject"
        Resource  = "arn:aws:s3:::acme-eval-datasets/*"
      },
      {
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/evaluator" }
        Action    = "s3:GetObject"
        Resource  = "arn:aws:s3:::acme-eval-datasets/*"
      },
    ]
  })
}
