# Plant-Vita on Google Cloud: the infrastructure the Cloud Run workloads in ../run/ use.
# Cloud Run services and the migration job are deployed from those YAML files with gcloud,
# so releases do not need Terraform; this file owns what outlives a release.

locals {
  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.project_id}-${var.name}-images"
  services = [
    "run.googleapis.com",
    "sqladmin.googleapis.com",
    "secretmanager.googleapis.com",
    "artifactregistry.googleapis.com",
    "aiplatform.googleapis.com",
    "iamcredentials.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "enabled" {
  for_each           = toset(local.services)
  service            = each.value
  disable_on_destroy = false
}

# ---- container images -------------------------------------------------------------------------

resource "google_artifact_registry_repository" "images" {
  repository_id = var.name
  location      = var.region
  format        = "DOCKER"
  description   = "Plant-Vita cloud images"

  # Delete images older than 90 days, except the 20 most recent (KEEP wins over DELETE).
  cleanup_policies {
    id     = "delete-old-images"
    action = "DELETE"
    condition {
      older_than = "7776000s"
    }
  }

  cleanup_policies {
    id     = "keep-recent-releases"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  depends_on = [google_project_service.enabled]
}

# ---- the one identity every Cloud Run workload runs as ---------------------------------------

resource "google_service_account" "cloud" {
  account_id   = "${var.name}-cloud"
  display_name = "Plant-Vita cloud (API, worker, migrations)"
}

# Cloud SQL Auth proxy connections (run.googleapis.com/cloudsql-instances).
resource "google_project_iam_member" "cloud_sql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.cloud.email}"
}

# Gemini through Vertex AI. With a Gemini API key (GEMINI_API_KEY) the key is what counts; this
# role lets the same account switch to Vertex without a key.
resource "google_project_iam_member" "vertex_user" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = "serviceAccount:${google_service_account.cloud.email}"
}

# Objects in the image bucket only: no project-wide storage role.
resource "google_storage_bucket_iam_member" "images_object_admin" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.cloud.email}"
}

# V4 signed URLs on Cloud Run have no private key: they are signed through IAM signBlob, which
# the account may call on itself only.
resource "google_service_account_iam_member" "sign_own_urls" {
  service_account_id = google_service_account.cloud.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.cloud.email}"
}

# ---- PostgreSQL -------------------------------------------------------------------------------

resource "google_sql_database_instance" "main" {
  name                = "${var.name}-pg"
  database_version    = var.database_version
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.database_tier
    edition           = "ENTERPRISE"
    availability_type = var.database_high_availability ? "REGIONAL" : "ZONAL"
    disk_type         = "PD_SSD"
    disk_size         = var.database_disk_gb
    disk_autoresize   = true

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
      transaction_log_retention_days = 7
      backup_retention_settings {
        retained_backups = 14
      }
    }

    # Only the Cloud SQL Auth proxy (IAM-authorised, TLS) connects; no authorised networks.
    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "ENCRYPTED_ONLY"
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
      record_client_address   = false
    }

    database_flags {
      name  = "max_connections"
      value = tostring(var.database_max_connections)
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "500"
    }

    # WAL per reading: 30-minute checkpoints with compressed page images take it from about
    # 2.5 KB to 571 B (bench.wal, docs/scaling.md); max_wal_size must hold 1.9 x the WAL of
    # 30 minutes, or checkpoints come by volume first.
    database_flags {
      name  = "checkpoint_timeout"
      value = "1800"
    }

    database_flags {
      name  = "wal_compression"
      value = "on"
    }

    database_flags {
      name  = "max_wal_size"
      value = tostring(var.database_max_wal_size_mb)
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_sql_database" "plantvita" {
  name     = var.name
  instance = google_sql_database_instance.main.name
}

# Letters and digits only: the password goes into a URL without escaping.
resource "random_password" "database" {
  length  = 40
  special = false
}

resource "google_sql_user" "plantvita" {
  name     = var.name
  instance = google_sql_database_instance.main.name
  password = random_password.database.result
}

# ---- images -----------------------------------------------------------------------------------

resource "google_storage_bucket" "images" {
  name                        = local.bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Objects are content-addressed and never rewritten; versions guard against a bad delete.
  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  lifecycle_rule {
    condition {
      age = var.image_nearline_after_days
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  lifecycle_rule {
    condition {
      age = var.image_coldline_after_days
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }

  # Uploads a hub started but never finished.
  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.image_delete_after_days > 0 ? [var.image_delete_after_days] : []
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

# ---- secrets ----------------------------------------------------------------------------------

resource "google_secret_manager_secret" "database_url" {
  secret_id = "${var.name}-database-url"
  replication {
    auto {}
  }
  depends_on = [google_project_service.enabled]
}

# Through the Cloud SQL Auth proxy's Unix socket that Cloud Run mounts under /cloudsql.
resource "google_secret_manager_secret_version" "database_url" {
  secret      = google_secret_manager_secret.database_url.id
  secret_data = "postgresql://${google_sql_user.plantvita.name}:${random_password.database.result}@/${google_sql_database.plantvita.name}?host=/cloudsql/${google_sql_database_instance.main.connection_name}"
}

resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "jwt_secret" {
  secret_id = "${var.name}-jwt-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "jwt_secret" {
  secret      = google_secret_manager_secret.jwt_secret.id
  secret_data = random_password.jwt.result
}

# The operator adds the value: printf %s "$KEY" | gcloud secrets versions add <id> --data-file=-
resource "google_secret_manager_secret" "gemini_api_key" {
  secret_id = "${var.name}-gemini-api-key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.enabled]
}

# Read access to exactly these three secrets.
resource "google_secret_manager_secret_iam_member" "cloud_reads" {
  for_each = {
    database_url   = google_secret_manager_secret.database_url.id
    jwt_secret     = google_secret_manager_secret.jwt_secret.id
    gemini_api_key = google_secret_manager_secret.gemini_api_key.id
  }
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.cloud.email}"
}
