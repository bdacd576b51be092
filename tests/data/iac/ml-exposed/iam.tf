# fails: iac.iam.policy-reads-every-bucket
resource "aws_iam_role_policy" "notebook" {
  name = "notebook-s3"
  role = "notebook"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:Get*", "s3:List*"]
      Resource = "arn:aws:s3:::*/*"
    }]
  })
}

# fails: iac.iam.policy-reads-every-bucket
resource "aws_iam_policy" "not_iam" {
  name = "everything-but-iam"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      NotAction = ["iam:*"]
      Resource  = "*"
    }]
  })
}

# fails: iac.iam.policy-reads-every-bucket
resource "aws_iam_role" "analyst" {
  name                = "analyst"
  assume_role_policy  = jsonencode({ Version = "2012-10-17", Statement = [] })
  managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
}

# one named bucket: fine
resource "aws_iam_policy" "one_bucket" {
  name = "read-eval-datasets"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "s3:GetObject"
      Resource = "arn:aws:s3:::acme-eval-datasets/*"
    }]
  })
}

# everything, then an unconditional deny of S3: no object read
resource "aws_iam_policy" "no_s3" {
  name = "admin-without-s3"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "*", Resource = "*" },
      { Effect = "Deny", Action = "s3:*", Resource = "*" },
    ]
  })
}
