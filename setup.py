"""Only here because pyproject.toml cannot say both "find insp_cli's packages" and "ship the top-level conf/
folder as insp_cli/conf" (Hydra configs must be found from a checkout AND from an installed wheel)."""

from pathlib import Path

from setuptools import find_packages, setup

# conf/ and each config group under it (conf/data, conf/hydra/launcher, ...) ship as data-only packages
conf = ["insp_cli.conf"] + sorted("insp_cli.conf." + ".".join(p.relative_to("conf").parts)
                                  for p in Path("conf").rglob("*") if p.is_dir())
setup(packages=find_packages(include=["insp_cli", "insp_cli.*"]) + conf,
      package_dir={"insp_cli.conf": "conf"})
