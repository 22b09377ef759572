"""Browser journeys: pytest-playwright driving Debian's Chromium against pytest-django's
`live_server` (MACHINE.md, "Browser tests").

Every test under tests/e2e/ is marked `e2e` here, so `pytest -m e2e` runs exactly these and
`pytest -m "not e2e"` none of them. Run: `DJANGO_ALLOW_ASYNC_UNSAFE=true pytest -m e2e`.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# pytest-playwright keeps an asyncio event loop running in the main thread, and Django's
# async-safety guard then refuses every ORM call there, even the test database set-up.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

HERE = Path(__file__).resolve().parent

# What Debian's Chromium needs to run headless as root in a container, offline (MACHINE.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


# Debian's headless shell: the same Blink that renders the pages, without the full browser's
# window machinery. With it the browser journeys took a third less CPU (385 -> 259 s for the
# e2e stage, 204 -> 142 s; 3 Dec 2026). `/usr/bin/chromium-headless-shell` is a shell script
# that does not `exec`: the binary itself is launched, so closing the browser ends it.
HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")


def _chromium_path() -> str:
    """Debian's headless shell when installed, else Debian's `chromium`, installed from the
    archive when missing and we are root.

    `playwright install` cannot work here (it downloads a browser); `make test` provisions
    both first (scripts/provision.sh), so the install here is for a bare `pytest -m e2e`.
    """
    if os.access(HEADLESS_SHELL, os.X_OK):
        return str(HEADLESS_SHELL)
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "chromium"]
        if subprocess.run(install, env=apt, check=False).returncode != 0:  # noqa: S603
            subprocess.run(["apt-get", "update", "-qq"], env=apt, check=True)  # noqa: S607
            subprocess.run(install, env=apt, check=True)  # noqa: S603
        path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's Chromium is missing: `apt-get install -y chromium` (or `make test`).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments, pointed at Debian's Chromium (its headless shell)."""
    return {
        **browser_type_launch_args,
        "executable_path": _chromium_path(),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: it must see the marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("django_db") is None:
            # live_server needs a transactional database; serialized_rollback restores the
            # rows of data migrations (the regions) that a transactional test's flush removes.
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))


@pytest.fixture
def screenshots_dir(pytestconfig) -> Path:
    """`test-results/screenshots/` (or under `--output`), kept for a person to look at."""
    folder = Path(pytestconfig.getoption("--output")).resolve() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shoot(page, screenshots_dir, request):
    """`shoot("step")` saves a full-page screenshot `<test>-<nn>-<step>.png` and returns it."""
    counter = iter(range(1, 100))
    prefix = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")

    def take(step: str) -> Path:
        path = screenshots_dir / f"{prefix}-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def offline_guard(page, live_server):
    """Records every request that leaves the live server and every failed response.

    The pages must work offline (no CDN): the journey asserts both lists are empty at the end.
    The browser's own favicon probe is left out of the failures (no page links a favicon).
    """
    outside: list[str] = []
    failures: list[str] = []
    page.on(
        "request",
        lambda req: (
            None if req.url.startswith((live_server.url, "data:")) else outside.append(req.url)
        ),
    )
    page.on(
        "response",
        lambda res: (
            failures.append(f"{res.status} {res.url}")
            if res.status >= 400 and not res.url.endswith("/favicon.ico")
            else None
        ),
    )
    return outside, failures
