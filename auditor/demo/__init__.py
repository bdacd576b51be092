"""The demo: an emulated ML organization (a scenario file) seeded into a local moto server,
so that ``audit demo`` and the test suite can scan something real without an AWS account."""
