terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }

  # The state holds the generated database password and JWT secret: keep it in a private,
  # versioned bucket. terraform init -backend-config="bucket=<state bucket>"
  backend "gcs" {
    prefix = "plantvita/cloud"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
