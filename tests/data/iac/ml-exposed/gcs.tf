# fails: iac.gcs.sensitive-bucket-uniform-access-off, iac.gcs.sensitive-bucket-public-access-prevention-off, iac.gcs.sensitive-bucket-no-cmek, iac.gcs.sensitive-bucket-versioning-disabled
resource "google_storage_bucket" "checkpoints" {
  name     = "acme-llm-checkpoints"
  location = "US"
  versioning {
    enabled = false
  }
}

# fails: iac.gcs.sensitive-bucket-public-iam
resource "google_storage_bucket_iam_member" "public_read" {
  bucket = google_storage_bucket.checkpoints.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

# fails: iac.gcs.sensitive-bucket-public-iam
resource "google_storage_bucket_iam_policy" "checkpoints" {
  bucket      = google_storage_bucket.checkpoints.name
  policy_data = data.google_iam_policy.checkpoints.policy_data
}

data "google_iam_policy" "checkpoints" {
  binding {
    role    = "roles/storage.objectViewer"
    members = ["allAuthenticatedUsers", "group:ml@acme.example"]
  }
}
