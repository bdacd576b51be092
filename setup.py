"""Packages that pyproject.toml cannot express on its own.

rules/ and reports/templates/ live at the top of the repository, where reviewers read them as
data, and ship inside the wheel as auditor._data.rules and auditor._data.templates.
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {
    "auditor._data.rules": "rules",
    # our checkov checks are Python modules, imported from the installed package
    "auditor._data.rules.iac": "rules/iac",
    "auditor._data.templates": "reports/templates",
}

setup(
    packages=find_packages(include=["auditor", "auditor.*"]) + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
)
