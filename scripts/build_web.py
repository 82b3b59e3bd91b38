"""Install and build the web app (web/) when needed: `npm ci` when the lock file changed since the last install,
`npm run build` when a source changed since the last build. Used by `./run up`, `./run test` and the browser tests.

    python scripts/build_web.py
"""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
INSTALL_STAMP = WEB / "node_modules" / ".leadflow-installed"
BUILD_STAMP = WEB / "dist" / ".leadflow-built"
BUILD_INPUTS = ("src", "index.html", "package-lock.json", "vite.config.ts", "tsconfig.json")


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(WEB)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _inputs() -> list[Path]:
    files: list[Path] = []
    for name in BUILD_INPUTS:
        path = WEB / name
        files.extend(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else files.append(path)
    return files


def _fresh(stamp: Path, digest: str) -> bool:
    return stamp.is_file() and stamp.read_text() == digest


def ensure_built(*, quiet: bool = False) -> Path:
    """The build directory, installed and built from the current sources."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed: the web app needs Node.js 20+ and npm")
    lock = _digest([WEB / "package-lock.json", WEB / "package.json"])
    if not _fresh(INSTALL_STAMP, lock):
        print("==> installing the web app's packages (npm ci)", file=sys.stderr)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, capture_output=quiet)
        INSTALL_STAMP.write_text(lock)
    sources = _digest(_inputs())
    if not _fresh(BUILD_STAMP, sources):
        print("==> building the web app (vite build)", file=sys.stderr)
        subprocess.run([npm, "run", "build"], cwd=WEB, check=True, capture_output=quiet)
        BUILD_STAMP.write_text(sources)
    return WEB / "dist"


if __name__ == "__main__":
    ensure_built()
