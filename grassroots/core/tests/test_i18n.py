"""Simplified Chinese: the committed catalogue is complete, compiled, and served."""

from __future__ import annotations

import ast
import gettext
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import UserFactory

LC_MESSAGES = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[sdif]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def parse_po(path: Path) -> list[Entry]:
    """The translated entries of a .po file (header and obsolete #~ entries left out)."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal current, target
        if current.msgid:
            entries.append(current)
        current, target = Entry(), None

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            finish()
        elif line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, line
            value = ast.literal_eval(line)  # PO escapes (\n, \", \\) are Python's
            if target[0] == "msgstr":
                current.msgstrs[target[1]] += value
            else:
                setattr(current, target[0], getattr(current, target[0]) + value)
        else:
            keyword, _, literal = line.partition(" ")
            value = ast.literal_eval(literal)
            if keyword.startswith("msgstr"):
                index = int(keyword[7:-1]) if "[" in keyword else 0
                current.msgstrs.append(value)
                target = ("msgstr", index)
            elif keyword in ("msgctxt", "msgid", "msgid_plural"):
                setattr(current, keyword, value)
                target = (keyword, 0)
            else:
                pytest.fail(f"unexpected line in {path.name}: {line}")
    finish()
    return entries


def test_every_entry_is_translated_and_keeps_its_placeholders():
    entries = parse_po(PO_FILE)

    assert len(entries) > 600
    untranslated = [e.msgid for e in entries if not all(s.strip() for s in e.msgstrs)]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []
    for entry in entries:
        wanted = sorted(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for msgstr in entry.msgstrs:
            assert sorted(PLACEHOLDER.findall(msgstr)) == wanted, entry.msgid
        if entry.msgid_plural is not None:
            assert len(entry.msgstrs) == 1, entry.msgid  # nplurals=1 for Chinese


def test_compiled_catalogue_matches_the_po_file():
    entries = parse_po(PO_FILE)

    with MO_FILE.open("rb") as fp:
        compiled = gettext.GNUTranslations(fp)

    stale = []
    for entry in entries:
        if entry.msgctxt is not None:
            served = compiled.pgettext(entry.msgctxt, entry.msgid)
        elif entry.msgid_plural is None:
            served = compiled.gettext(entry.msgid)
        else:
            served = compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
        if served != entry.msgstrs[0]:
            stale.append(entry.msgid)
    assert stale == [], "run `django-admin compilemessages -l zh_Hans` in grassroots/"


def test_gettext_serves_chinese_under_zh_hans():
    with translation.override("zh-hans"):
        assert translation.gettext("Cart") == "购物车"
        assert translation.gettext("Counterfeit") == "假冒商品"
        assert (
            translation.ngettext("%(counter)s open report", "%(counter)s open reports", 3) % {"counter": 3}
            == "3 条待处理举报"
        )
    with translation.override("en"):
        assert translation.gettext("Cart") == "Cart"


@pytest.mark.django_db
def test_language_switch_changes_the_home_page(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in home
    assert ">登录</a>" in home
    assert ">注册</a>" in home
    assert 'placeholder="搜索商品"' in home
    assert ">Log in</a>" not in home

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    home = client.get("/").content.decode()
    assert '<html lang="en">' in home
    assert ">Log in</a>" in home
    assert "登录" not in home


@pytest.mark.django_db
def test_api_error_follows_accept_language(client):
    UserFactory(email="taken@example.com")
    payload = json.dumps({"email": "taken@example.com", "password": "a-long-enough-pass", "display_name": "Mei"})

    chinese = client.post(
        "/api/v1/accounts/signup", data=payload, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    english = client.post(
        "/api/v1/accounts/signup", data=payload, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert chinese.status_code == 422
    assert chinese.json() == {
        "code": "email_taken",
        "message": "该邮箱已注册。",
        "fields": {"email": "该邮箱已注册。"},
    }
    assert english.status_code == 422
    assert english.json()["message"] == "An account with this email already exists."
    assert User.objects.filter(email="taken@example.com").count() == 1
