"""Import every non-test module of every app, and name each one that needs a missing package.

CI runs it with the interpreter of a virtualenv made from ``requirements.txt`` alone (the fresh
clone of ``scripts/newcomer_smoke.py``), so a package the running platform imports but only
``requirements-dev.txt`` installs fails CI with the module that needs it::

    .venv/bin/python scripts/check_imports.py
    # {"modules": 212, "failed": [{"module": "events.ingest.scrape", "missing": "httpx", ...}]}

It connects to nothing: the settings get URLs of servers that need not exist (Django opens no
connection at import time), so the embedded servers are not started either.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ["analytics_site", "projects", "events", "dashboards", "alerts", "reports", "ml"]
# Test code may use the test tools; everything else is the running platform.
SKIP_PARTS = {"tests", "__pycache__"}
SKIP_MODULES = {"analytics_site.settings_test"}


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((BASE_DIR / package).rglob("*.py")):
            relative = path.relative_to(BASE_DIR).with_suffix("")
            if SKIP_PARTS & set(relative.parts):
                continue
            parts = list(relative.parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if name not in SKIP_MODULES:
                found.append(name)
    return found


def main() -> int:
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    os.environ["DJANGO_SETTINGS_MODULE"] = "analytics_site.settings"
    # Addresses nobody listens on: importing must not need the servers.
    os.environ.setdefault("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
    os.environ.setdefault("DATA_DIR", str(BASE_DIR / "var" / "check-imports"))

    import django

    django.setup()
    names = modules()
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            failed.append({"module": name, "missing": exc.name, "error": str(exc)})
        except Exception as exc:  # any import failure is worth naming
            last = traceback.format_exception_only(exc)[-1].strip()
            failed.append({"module": name, "missing": None, "error": last})
    for failure in failed:
        need = f"needs the package of {failure['missing']!r}" if failure["missing"] else "fails"
        print(f"{failure['module']}: {need} ({failure['error']})", file=sys.stderr)
    print(json.dumps({"python": sys.executable, "modules": len(names), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
