from __future__ import annotations

from typing import Any

import pytest

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.moderation.tests.factories import comment_on, message_between, note_for


@pytest.fixture
def author() -> Any:
    return UserFactory()


@pytest.fixture
def reader() -> Any:
    return UserFactory()


@pytest.fixture
def curator() -> Any:
    return CuratorFactory()


@pytest.fixture
def note(author: Any) -> Any:
    return note_for(author)


@pytest.fixture
def comment(note: Any, author: Any) -> Any:
    return comment_on(note, author)


@pytest.fixture
def message(author: Any, reader: Any) -> Any:
    """A message the author sent to the reader."""
    return message_between(author, reader)


@pytest.fixture
def targets(note: Any, comment: Any, message: Any, author: Any) -> dict[str, int]:
    """One target of each kind, all owned by `author` and visible to `reader`."""
    return {"note": note.pk, "comment": comment.pk, "message": message.pk, "user": author.pk}
