terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
  }

  # State in a GCS bucket of your own (versioned): `terraform init -backend-config=bucket=<name>`.
  backend "gcs" {
    prefix = "incident-management"
  }
}
