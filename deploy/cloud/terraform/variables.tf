variable "project_id" {
  description = "Google Cloud project that hosts Plant-Vita."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Cloud SQL, the bucket and the image repository."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "plantvita"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "bucket_name" {
  description = "Globally unique name of the image bucket; empty: <project_id>-<name>-images."
  type        = string
  default     = ""
}

variable "database_version" {
  description = "Cloud SQL PostgreSQL major version."
  type        = string
  default     = "POSTGRES_17"
}

variable "database_tier" {
  description = "Cloud SQL machine tier; see docs/operations.md for sizing."
  type        = string
  default     = "db-custom-2-7680"
}

variable "database_disk_gb" {
  description = "Initial SSD size; storage grows automatically."
  type        = number
  default     = 20
}

variable "database_high_availability" {
  description = "Regional (HA, automatic failover) instead of zonal Cloud SQL."
  type        = bool
  default     = true
}

variable "database_max_connections" {
  description = "PostgreSQL max_connections; must cover every Cloud Run instance's pool."
  type        = number
  default     = 400
}

variable "database_max_wal_size_mb" {
  description = "PostgreSQL max_wal_size in MB: at least 1.9 x the WAL of 30 minutes (4096 up to 100k nodes, 40960 at 1M; docs/scaling.md)."
  type        = number
  default     = 4096
}

variable "deletion_protection" {
  description = "Refuse to destroy the database and the bucket."
  type        = bool
  default     = true
}

variable "image_nearline_after_days" {
  description = "Move images to Nearline storage after this many days."
  type        = number
  default     = 30
}

variable "image_coldline_after_days" {
  description = "Move images to Coldline storage after this many days."
  type        = number
  default     = 365
}

variable "image_delete_after_days" {
  description = "Delete images after this many days; 0 keeps them for ever."
  type        = number
  default     = 0
}
