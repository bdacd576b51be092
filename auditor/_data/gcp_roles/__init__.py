"""Predefined GCP role data (see auditor.access.gcp.role_data), with its LICENSE and SOURCE."""
