"""The web app's API types, generated from the API's own OpenAPI document (web/src/api/schema.d.ts).

    python scripts/web_api_types.py          regenerate the file
    python scripts/web_api_types.py --check  exit 1 when the committed file differs from what the API describes now

The document is built from the application factory, so no server needs to run; openapi-typescript (web/ dev
dependency) turns it into TypeScript.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
TYPES = WEB / "src" / "api" / "schema.d.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


def openapi_document() -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from api.app import create_app
    from core.config import Settings

    return create_app(Settings()).openapi()


def generate() -> str:
    if not GENERATOR.exists():
        raise SystemExit("openapi-typescript is not installed: run `npm ci` in web/")
    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp) / "openapi.json"
        document.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True))
        output = Path(tmp) / "schema.d.ts"
        subprocess.run([str(GENERATOR), str(document), "-o", str(output)], check=True, capture_output=True)
        return output.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when the committed types are stale")
    args = parser.parse_args()
    fresh = generate()
    if args.check:
        if not TYPES.exists() or TYPES.read_text() != fresh:
            print(
                f"{TYPES.relative_to(ROOT)} is stale: the API's OpenAPI document changed. "
                "Run `.venv/bin/python scripts/web_api_types.py` and commit the result.",
                file=sys.stderr,
            )
            return 1
        return 0
    TYPES.parent.mkdir(parents=True, exist_ok=True)
    TYPES.write_text(fresh)
    print(f"wrote {TYPES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
