"""Only here because pyproject.toml cannot say both "find insp_cli's packages" and "ship the top-level conf/
folder as insp_cli/conf" (Hydra configs must be found from a checkout AND from an installed wheel)."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["insp_cli", "insp_cli.*"]) + ["insp_cli.conf"],
      package_dir={"insp_cli.conf": "conf"})
