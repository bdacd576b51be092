"""The AWS scanner: one module per service, sharing clients, the operation table, error
capture and the provider-neutral task runner."""
