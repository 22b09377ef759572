"""`manage.py issue_promocodes` (docs/interface.md §11): unique single-use codes of a promotion
in a new CSV file, mode 0600, no code on stdout; every bad argument exits non-zero with one
line and writes neither a file nor a code row; an interrupted run leaves nothing behind."""

import csv
import dataclasses
import io
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from promotions.codes import promo_code_hash, promo_code_normalize
from promotions.management.commands import issue_promocodes
from promotions.models import Promotion, PromotionCode
from promotions.services import promotion_create, promotion_disable
from promotions.services.codes import MAX_CODES, PROMO_CODE_LENGTH
from tests.promotions.staff_users import fixed_terms, manager
from wallet.codes import ALPHABET, CodeTypo, code_normalize

pytestmark = pytest.mark.django_db


@pytest.fixture
def promotion():
    terms = dataclasses.replace(
        fixed_terms("spring"), codes=Promotion.Codes.UNIQUE, code="", ends_on=None
    )
    return promotion_create(terms=terms, created_by=manager())


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_promocodes", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        return next(reader), list(reader)


def test_issues_unique_single_use_codes_to_a_private_file(promotion, tmp_path):
    output = tmp_path / "codes.csv"

    out, err = _run("--promotion", "spring", "--count", "50", "--output", str(output))

    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    header, rows = _read(output)
    assert header == ["code", "promotion", "expires_at"]
    assert len(rows) == 50
    codes = [promo_code_normalize(row[0]) for row in rows]
    assert len(set(codes)) == 50
    for code, row in zip(codes, rows, strict=True):
        assert len(code) == PROMO_CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert row[1:] == ["spring", ""]
        with pytest.raises(CodeTypo):
            code_normalize(code)  # never read as a gift card's claim code
    stored = PromotionCode.objects.filter(promotion=promotion)
    assert stored.count() == 50
    assert set(stored.values_list("code_hash", flat=True)) == {promo_code_hash(c) for c in codes}
    assert all(stored.values_list("single_use", flat=True))
    assert out.count("\n") == 1
    assert "Issued 50 codes of promotion 'spring'" in out
    for code, row in zip(codes, rows, strict=True):
        assert code not in out + err
        assert row[0] not in out + err
    assert not list(tmp_path.glob(".*"))


def test_the_expiry_column_is_the_promotions_last_day(promotion, tmp_path):
    import datetime

    Promotion.objects.filter(pk=promotion.pk).update(ends_on=datetime.date(2030, 1, 31))
    _run("--promotion", "SPRING", "--count", "2", "--output", str(tmp_path / "c.csv"))
    _, rows = _read(tmp_path / "c.csv")
    assert {row[2] for row in rows} == {"2030-01-31"}


def _refused(tmp_path, *args, match):
    output = tmp_path / "codes.csv"
    with pytest.raises(CommandError, match=match) as error:
        _run(*args, "--output", str(output))
    assert "\n" not in str(error.value)
    assert not output.exists()
    assert not list(tmp_path.glob(".*"))
    return error


@pytest.mark.parametrize(
    ("slug", "count", "match"),
    [
        ("nope", "5", "unknown promotion 'nope'"),
        ("spring", "0", "above zero"),
        ("spring", "-3", "above zero"),
        ("spring", "ten", "above zero"),
        ("spring", "1.5", "above zero"),
        ("spring", "", "above zero"),
        ("spring", str(MAX_CODES + 1), "refused; split"),
    ],
)
def test_bad_arguments_write_no_file_and_no_code(promotion, tmp_path, slug, count, match):
    _refused(tmp_path, "--promotion", slug, "--count", count, match=match)
    assert not PromotionCode.objects.filter(single_use=True).exists()


def test_a_promotion_without_unique_codes_is_refused(promotion, tmp_path):
    promotion_create(terms=fixed_terms("vanity"), created_by=manager())
    _refused(tmp_path, "--promotion", "vanity", "--count", "5", match="does not use unique codes")
    assert not PromotionCode.objects.filter(single_use=True).exists()


def test_a_disabled_promotion_is_refused(promotion, tmp_path):
    promotion_disable(promotion_id=promotion.pk, disabled_by=promotion.created_by, reason="off")
    _refused(tmp_path, "--promotion", "spring", "--count", "5", match="disabled")
    assert not PromotionCode.objects.exists()


def test_an_existing_file_is_refused_and_left_alone(promotion, tmp_path):
    output = tmp_path / "codes.csv"
    output.write_text("precious\n")

    with pytest.raises(CommandError, match="already exists"):
        _run("--promotion", "spring", "--count", "5", "--output", str(output))

    assert output.read_text() == "precious\n"
    assert not PromotionCode.objects.exists()


def test_a_missing_folder_is_refused(promotion, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _run("--promotion", "spring", "--count", "5", "--output", str(tmp_path / "no" / "c.csv"))
    assert not PromotionCode.objects.exists()


def test_a_missing_argument_is_one_line(promotion, tmp_path):
    with pytest.raises(CommandError, match="required"):
        call_command("issue_promocodes", "--promotion", "spring")
    assert not PromotionCode.objects.exists()


def test_interrupted_while_writing_leaves_no_file_and_no_code(promotion, tmp_path, monkeypatch):
    """Ctrl-C (or `kill`, turned into the same) halfway through the file: the rows roll back,
    the hidden file is removed, FILE never appears."""
    output = tmp_path / "codes.csv"
    written = []

    def display(code):
        written.append(code)
        if len(written) == 30:
            raise KeyboardInterrupt
        return code

    monkeypatch.setattr(issue_promocodes, "promocode_display", display)

    with pytest.raises(CommandError, match="interrupted"):
        _run("--promotion", "spring", "--count", "100", "--output", str(output))

    assert len(written) == 30
    assert not output.exists()
    assert not list(tmp_path.iterdir())
    assert not PromotionCode.objects.exists()


def test_a_failing_disk_leaves_no_file_and_no_code(promotion, tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(issue_promocodes.os, "fsync", no_space)
    output = tmp_path / "codes.csv"

    with pytest.raises(CommandError, match="No space left"):
        _run("--promotion", "spring", "--count", "10", "--output", str(output))

    assert not list(tmp_path.iterdir())
    assert not PromotionCode.objects.exists()


def test_a_file_left_by_a_killed_run_is_not_touched(promotion, tmp_path):
    leftover = tmp_path / ".codes.csv.partial"
    leftover.write_text("code,promotion,expires_at\n")

    with pytest.raises(CommandError, match="interrupted run"):
        _run("--promotion", "spring", "--count", "5", "--output", str(tmp_path / "codes.csv"))

    assert leftover.read_text() == "code,promotion,expires_at\n"
    assert not PromotionCode.objects.exists()


def test_manage_py_with_a_missing_argument_exits_non_zero_with_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "manage.py", "issue_promocodes", "--count", "5", "--output", "x.csv"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "issue_promocodes: the following arguments are required: --promotion" in result.stderr
    assert not (Path(settings.BASE_DIR) / "x.csv").exists()
