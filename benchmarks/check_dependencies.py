"""Does installing pytest-dualdb change a project's framework versions?

A test plugin must not: a project with a locked Starlette that installed an
earlier version of this plugin got the newest FastAPI (and Starlette) pulled in.
This script makes a fresh virtual environment holding a "project" pinned to
older framework releases, installs the plugin from this checkout without
extras, and prints each package's version before and after, plus what the
plugin added. Exit status 1 when a pinned package changed.

    python benchmarks/check_dependencies.py [--pins starlette==0.36.3 pydantic==2.5.3 hypothesis==6.90.0]

It downloads from the package index, so it needs the network the machine has.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PINS = ("starlette==0.36.3", "pydantic==2.5.3", "hypothesis==6.90.0")


def installed(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True)
    return {p["name"].lower(): p["version"] for p in json.loads(out.stdout)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pins", nargs="*", default=list(DEFAULT_PINS), help="the project's locked packages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dualdb-deps-") as tmp:
        env = Path(tmp) / "venv"
        venv.create(env, with_pip=True)
        python = env / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *args.pins], check=True)
        before = installed(python)
        subprocess.run([*pip, str(REPO)], check=True)
        after = installed(python)
    pinned = [p.split("==")[0].lower() for p in args.pins]
    rows = [[name, before.get(name, "-"), after.get(name, "-"), "changed" if before.get(name) != after.get(name) else "kept"]
            for name in pinned]
    print(tabulate(rows, headers=["project's package", "before", "after installing pytest-dualdb", ""]))
    added = sorted(set(after) - set(before))
    print(f"\nadded by the plugin: {', '.join(added)}")
    for framework in ("fastapi", "httpx"):
        print(f"{framework} installed: {'yes' if framework in after else 'no'}")
    return 1 if any(row[3] == "changed" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
