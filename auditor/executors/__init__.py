"""Where scan units run: in this process (the default) or on a Dask cluster.

A scan is planned (the provider lists its units: accounts, the organization's metadata,
projects), optionally cut into shards, and each unit is scanned by the same code wherever it
runs (``auditor.executors.units.scan_unit``)."""
