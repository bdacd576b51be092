"""Compliance as data: frameworks map requirements to rule ids (rules/frameworks/*.yaml)."""
