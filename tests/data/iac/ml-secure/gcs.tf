# A well-configured ML storage module (written for these tests): every check of ours passes.

resource "google_kms_crypto_key" "datasets" {
  name            = "datasets"
  key_ring        = "projects/acme-ml/locations/us/keyRings/ml"
  rotation_period = "7776000s"
}

resource "google_storage_bucket" "datasets" {
  name                        = "acme-training-datasets"
  location                    = "US"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  encryption {
    default_kms_key_name = google_kms_crypto_key.datasets.id
  }
  logging {
    log_bucket = "acme-access-logs"
  }
  labels = {
    ml-asset = "training-data"
  }
}

resource "google_storage_bucket_iam_member" "datasets_reader" {
  bucket = google_storage_bucket.datasets.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:trainer@acme-ml.iam.gserviceaccount.com"
}
