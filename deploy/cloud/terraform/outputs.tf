# Each output in upper case is a placeholder in ../run/*.yaml (envsubst); see ../README.md.

output "project_id" {
  value = var.project_id
}

output "region" {
  value = var.region
}

output "service_account" {
  description = "Identity of the API, the worker and the migration job."
  value       = google_service_account.cloud.email
}

output "sql_connection_name" {
  description = "For run.googleapis.com/cloudsql-instances."
  value       = google_sql_database_instance.main.connection_name
}

output "bucket" {
  value = google_storage_bucket.images.name
}

output "image_repository" {
  description = "Push the cloud image here: <repository>/cloud:<tag>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "secret_ids" {
  value = {
    database_url   = google_secret_manager_secret.database_url.secret_id
    jwt_secret     = google_secret_manager_secret.jwt_secret.secret_id
    gemini_api_key = google_secret_manager_secret.gemini_api_key.secret_id
  }
}
