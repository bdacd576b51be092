# A well-configured ML storage module (written for these tests): every check of ours passes.

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "weights" {
  description         = "customer-managed key for model weights"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdmin"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_s3_bucket" "weights" {
  bucket = "acme-llm-weights"
  tags = {
    ml-asset = "model-weights"
  }
}

resource "aws_s3_bucket_acl" "weights" {
  bucket = aws_s3_bucket.weights.id
  acl    = "private"
}

resource "aws_s3_bucket_public_access_block" "weights" {
  bucket                  = aws_s3_bucket.weights.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "weights" {
  bucket = aws_s3_bucket.weights.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.weights.arn
    }
  }
}

resource "aws_s3_bucket_versioning" "weights" {
  bucket = aws_s3_bucket.weights.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_logging" "weights" {
  bucket        = aws_s3_bucket.weights.id
  target_bucket = "acme-access-logs"
  target_prefix = "weights/"
}

resource "aws_s3_bucket_policy" "weights" {
  bucket = aws_s3_bucket.weights.id
  policy = data.aws_iam_policy_document.weights.json
}

data "aws_iam_policy_document" "weights" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.weights.arn, "${aws_s3_bucket.weights.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# training jobs read their own prefix of the weights bucket only
resource "aws_iam_role_policy" "trainer" {
  name = "trainer-read-weights"
  role = "trainer"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = "${aws_s3_bucket.weights.arn}/llm-7b/*"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "trainer_logs" {
  role       = "trainer"
  policy_arn = "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess"
}
