"""The layout rules of STYLE.md, read from the source with `ast` (no import runs).

- Imports between shop apps go one way only: catalog ← accounts ← wallet ← promotions ← checkout.
- `select_for_update` lives only in modules named `locks.py`.
- No junk-drawer modules (`utils.py`, `helpers.py`, `signals.py`) inside the apps.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which other shop apps each app may import (STYLE.md, "Layout"). A new app must be added here.
ALLOWED_IMPORTS = {
    "catalog": set(),
    "accounts": {"catalog"},
    "wallet": {"catalog", "accounts"},
    "promotions": {"catalog", "wallet", "accounts"},
    "checkout": {"catalog", "accounts", "wallet", "promotions"},
    "subscriptions": {"catalog", "accounts", "wallet", "promotions", "checkout"},
}
SHOP_APPS = set(ALLOWED_IMPORTS)
JUNK_DRAWERS = {"utils", "helpers", "signals"}


def _app_dirs():
    return sorted(path.parent for path in ROOT.glob("*/apps.py"))


def _python_files(app_dir):
    return sorted(path for path in app_dir.rglob("*.py") if "__pycache__" not in path.parts)


def _parse(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_apps(tree):
    """(line, shop app) for every absolute import of a shop app, at any depth in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their own app
        for name in names:
            top = name.split(".")[0]
            if top in SHOP_APPS:
                yield node.lineno, top


def _select_for_update_lines(tree):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "select_for_update") or (
            isinstance(node, ast.Name) and node.id == "select_for_update"
        ):
            yield node.lineno
        elif isinstance(node, ast.Constant) and node.value == "select_for_update":
            yield node.lineno  # getattr(qs, "select_for_update")


def _where(path, line):
    return f"{path.relative_to(ROOT)}:{line}"


def test_the_apps_are_the_known_shop_apps():
    found = {path.name for path in _app_dirs()} - {"config"}
    assert found, "no app found: the test looks for <app>/apps.py under the repository root"
    unknown = found - SHOP_APPS
    assert not unknown, f"add {sorted(unknown)} to ALLOWED_IMPORTS (and to STYLE.md's layout)"
    assert {"catalog", "accounts", "wallet"} <= found


# Only the apps that exist (promotions/ and checkout/ come with later issues): no skipped test.
@pytest.mark.parametrize("app", sorted(app for app in SHOP_APPS if (ROOT / app).is_dir()))
def test_imports_point_only_the_allowed_way(app):
    app_dir = ROOT / app
    allowed = ALLOWED_IMPORTS[app] | {app}
    wrong = [
        f"{_where(path, line)} imports {imported}"
        for path in _python_files(app_dir)
        for line, imported in _imported_apps(_parse(path))
        if imported not in allowed
    ]
    assert not wrong, (
        f"{app} may import only {sorted(allowed - {app}) or 'no other shop app'}:\n"
        + ("\n".join(wrong))
    )


def test_select_for_update_only_in_locks_modules():
    wrong = [
        _where(path, line)
        for app_dir in _app_dirs()
        for path in _python_files(app_dir)
        if path.name != "locks.py"
        for line in _select_for_update_lines(_parse(path))
    ]
    assert not wrong, "select_for_update belongs in a locks.py helper:\n" + "\n".join(wrong)


def test_no_junk_drawer_modules():
    wrong = [
        str(path.relative_to(ROOT))
        for app_dir in _app_dirs()
        for path in app_dir.rglob("*")
        if "__pycache__" not in path.parts
        and (path.stem if path.suffix == ".py" else path.name) in JUNK_DRAWERS
        and (path.suffix == ".py" or path.is_dir())
    ]
    assert not wrong, "name a module for what it holds, not utils/helpers/signals:\n" + "\n".join(
        wrong
    )


# STYLE.md: a module past ~400 lines holds more than one concern and becomes a package.
MAX_MODULE_LINES = 420


def test_no_module_is_over_about_400_lines():
    wrong = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for app_dir in _app_dirs()
        for path in _python_files(app_dir)
        if "migrations" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not wrong, "split these modules by concern (a package):\n" + "\n".join(wrong)


def test_every_transactional_test_restores_the_database():
    """A transactional test without `serialized_rollback` ends by emptying the tables, and any
    content type it created on the way then collides with the next serialized test's restore
    (a UNIQUE error in its set-up): the two kinds cannot be mixed in one run."""
    wrong = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "django_db(transaction=True" in line and "serialized_rollback=True" not in line
    ]
    assert not wrong, "add serialized_rollback=True:\n" + "\n".join(wrong)


def test_the_modules_left_to_sqlite_exist_and_hold_no_postgresql_test():
    """The PostgreSQL stage leaves RUN_ON_SQLITE_ONLY to the SQLite stage (tests/conftest.py):
    a module renamed away would silently run twice again, and a PostgreSQL test in one would
    never run at all."""
    from tests.conftest import RUN_ON_SQLITE_ONLY

    missing = [path for path in RUN_ON_SQLITE_ONLY if not (ROOT / path).is_file()]
    assert not missing, f"no such test module: {missing}"
    marked = [
        path
        for path in RUN_ON_SQLITE_ONLY
        if "pytest.mark.postgres" in (ROOT / path).read_text(encoding="utf-8")
    ]
    assert not marked, f"these need PostgreSQL and must stay in its stage: {marked}"
