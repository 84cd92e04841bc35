"""Notes services: rendering, limits, hashtags, mentions, disclosure, moderation, sharing, hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.attribution.models import ShareLink
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import NotFound, PermissionDenied, RateLimited, ValidationFailed
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.notes import services
from grassroots.notes.models import Hashtag, Note, NoteHashtag, NoteImage, NoteMention, NoteProduct, NoteShare
from grassroots.notes.tests.factories import uploads
from grassroots.notifications.models import Notification, NotificationKind
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import ShopFactory, ShopItemFactory
from grassroots.social.models import Block

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Records the feed hooks the notes services call (after commit)."""
    calls: list[tuple[str, int]] = []
    import grassroots.feeds.services as feeds

    monkeypatch.setattr(feeds, "feed_note_published", lambda *, note_id: calls.append(("published", note_id)))
    monkeypatch.setattr(feeds, "feed_note_withdrawn", lambda *, note_id: calls.append(("withdrawn", note_id)))
    return calls


def counts() -> dict[str, int]:
    return dict(Hashtag.objects.values_list("name", "note_count"))


def media_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- rendering ----------------------------------------------------------------------------


def test_body_is_escaped_linked_and_sanitised() -> None:
    author = UserFactory()
    friend = UserFactory(handle="lily_1")
    note = services.note_create(
        author=author,
        title="<b>Nice</b> tea",
        body='<script>alert("x")</script> #绿茶 and #GreenTea\nsay hi @Lily_1 and @nobody, mail a@b.com',
        publish=True,
    )
    assert note.title == "Nice tea"
    assert note.body.startswith("<script>")  # raw text kept
    html = note.body_html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert '<a href="/tags/%E7%BB%BF%E8%8C%B6/"' in html or 'href="/tags/绿茶/"' in html
    assert ">#绿茶</a>" in html and ">#GreenTea</a>" in html
    assert "<br>" in html
    assert '<a href="/u/lily_1/"' in html and ">@Lily_1</a>" in html
    assert "@nobody" in html and 'href="/u/nobody/"' not in html
    assert "a@b.com" in html and "/u/b/" not in html
    assert sorted(NoteHashtag.objects.filter(note=note).values_list("hashtag__name", flat=True)) == ["greentea", "绿茶"]
    assert list(NoteMention.objects.filter(note=note).values_list("user_id", flat=True)) == [friend.pk]


def test_entities_in_text_are_not_hashtags() -> None:
    note = services.note_create(author=UserFactory(), title="t", body="it's <fine> & 'ok'", publish=False)
    assert not NoteHashtag.objects.filter(note=note).exists()
    assert "hashtag" not in note.body_html


def test_hashtag_length_limit() -> None:
    long_tag = "a" * 51
    note = services.note_create(author=UserFactory(), title="t", body=f"#{long_tag} #{'b' * 50}", publish=True)
    assert list(NoteHashtag.objects.filter(note=note).values_list("hashtag__name", flat=True)) == ["b" * 50]


def test_blocked_members_are_not_mentioned() -> None:
    author = UserFactory()
    blocker = UserFactory(handle="blocker")
    blocked = UserFactory(handle="blocked")
    Block.objects.create(blocker=blocker, blocked=author)
    Block.objects.create(blocker=author, blocked=blocked)
    note = services.note_create(author=author, title="t", body="@blocker @blocked", publish=True)
    assert not NoteMention.objects.filter(note=note).exists()
    assert "/u/blocker/" not in note.body_html and "/u/blocked/" not in note.body_html


def test_mentions_notify_on_publish_once(django_capture_on_commit_callbacks: Any, hooks: list[Any]) -> None:
    author = UserFactory()
    friend = UserFactory(handle="friend")
    with django_capture_on_commit_callbacks(execute=True):
        note = services.note_create(author=author, title="t", body="@friend look", publish=False)
    assert not Notification.objects.filter(recipient=friend).exists()  # drafts notify nobody
    with django_capture_on_commit_callbacks(execute=True):
        services.note_publish(user=author, note_id=note.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.note_update(user=author, note_id=note.pk, body="@friend look again")
    notification = Notification.objects.get(recipient=friend)
    assert (notification.kind, notification.actor_id) == (NotificationKind.MENTION, author.pk)
    assert notification.target_url == f"/notes/{note.pk}/"


# --- limits: nothing written --------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body", "code"),
    [
        ("", "x", "title_required"),
        ("   ", "x", "title_required"),
        (None, "", "title_required"),
        ("t" * 101, "", "title_too_long"),
        ("ok", "b" * 2001, "body_too_long"),
    ],
)
def test_bad_title_or_body(title: Any, body: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.note_create(author=UserFactory(), title=title, body=body)
    assert caught.value.code == code and caught.value.status == 422
    assert not Note.objects.exists()


def test_limits_are_inclusive() -> None:
    note = services.note_create(author=UserFactory(), title="t" * 100, body="b" * 2000)
    assert len(note.title) == 100 and len(note.body) == 2000


def test_a_tenth_image_writes_nothing() -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.note_create(author=UserFactory(), title="t", images=uploads(10), publish=True)
    assert caught.value.code == "too_many_images"
    assert not Note.objects.exists() and not NoteImage.objects.exists()
    assert media_files() == []


def test_nine_images_with_thumbnails_and_sizes() -> None:
    note = services.note_create(author=UserFactory(), title="t", images=uploads(9))
    images = list(note.images.order_by("position"))
    assert [i.position for i in images] == list(range(9))
    assert images[0].width == 10 and images[0].height == 8 and images[8].width == 18
    assert all(i.thumbnail.name.endswith(".jpg") for i in images)


def test_not_an_image_is_refused() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("x.png", b"<script>not an image</script>", content_type="image/png")
    with pytest.raises(ValidationFailed) as caught:
        services.note_create(author=UserFactory(), title="t", images=[*uploads(1), bad])
    assert caught.value.code == "invalid_image"
    assert not Note.objects.exists() and media_files() == []


def test_edit_reorders_removes_and_adds_images_within_the_limit() -> None:
    author = UserFactory()
    note = services.note_create(author=author, title="t", images=uploads(3))
    a, b, c = note.images.order_by("position")
    services.note_update(user=author, note_id=note.pk, image_order=[c.pk, a.pk], new_images=uploads(2))
    order = list(note.images.order_by("position").values_list("pk", flat=True))
    assert order[:2] == [c.pk, a.pk] and len(order) == 4 and b.pk not in order
    with pytest.raises(ValidationFailed) as caught:
        services.note_update(user=author, note_id=note.pk, new_images=uploads(6))
    assert caught.value.code == "too_many_images"
    assert note.images.count() == 4
    with pytest.raises(ValidationFailed):
        services.note_update(user=author, note_id=note.pk, image_order=[999999])


def test_unlisted_or_suspended_products_cannot_be_tagged() -> None:
    listed = ProductFactory()
    unlisted = ProductFactory(is_listed=False, status=Product.Status.DRAFT)
    suspended = ProductFactory(status=Product.Status.SUSPENDED)
    unverified = ProductFactory(merchant=MerchantFactory(status=Merchant.Status.SUSPENDED))
    for bad in (unlisted, suspended, unverified):
        with pytest.raises(ValidationFailed) as caught:
            services.note_create(author=UserFactory(), title="t", product_ids=[listed.pk, bad.pk], publish=True)
        assert caught.value.code == "product_not_listed"
        assert caught.value.fields == {"product_ids": [bad.pk]}
    assert not Note.objects.exists() and not NoteProduct.objects.exists()


def test_at_most_six_products() -> None:
    products = [ProductFactory() for _ in range(7)]
    with pytest.raises(ValidationFailed) as caught:
        services.note_create(author=UserFactory(), title="t", product_ids=[p.pk for p in products])
    assert caught.value.code == "too_many_products"
    note = services.note_create(
        author=UserFactory(), title="t", product_ids=[p.pk for p in products[:6]] + [products[0].pk]
    )
    assert list(note.product_tags.values_list("product_id", flat=True)) == [p.pk for p in products[:6]]


def test_posting_is_rate_limited(settings: Any) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "NOTES_PER_HOUR": 2}
    author = UserFactory()
    services.note_create(author=author, title="1")
    services.note_create(author=author, title="2")
    with pytest.raises(RateLimited) as caught:
        services.note_create(author=author, title="3")
    assert caught.value.status == 429 and caught.value.retry_after > 0
    assert Note.objects.count() == 2
    services.note_create(author=UserFactory(), title="someone else")


# --- publishing, hashtags, hooks ----------------------------------------------------------


def test_hashtag_counts_follow_visibility(django_capture_on_commit_callbacks: Any, hooks: list[Any]) -> None:
    author = UserFactory()
    curator = CuratorFactory()
    with django_capture_on_commit_callbacks(execute=True):
        draft = services.note_create(author=author, title="d", body="#tea")
    assert counts() == {"tea": 0} and hooks == []
    with django_capture_on_commit_callbacks(execute=True):
        services.note_publish(user=author, note_id=draft.pk)
        other = services.note_create(author=author, title="o", body="#tea #cup", publish=True)
    assert counts() == {"tea": 2, "cup": 1}
    assert hooks == [("published", draft.pk), ("published", other.pk)]
    services.note_update(user=author, note_id=other.pk, body="#cup #pot")
    assert counts() == {"tea": 1, "cup": 1, "pot": 1}
    with django_capture_on_commit_callbacks(execute=True):
        services.note_moderate(note_id=other.pk, action="hide", reason="Check", moderator=curator)
    assert counts() == {"tea": 1, "cup": 0, "pot": 0}
    with django_capture_on_commit_callbacks(execute=True):
        services.note_moderate(note_id=other.pk, action="restore", reason="", moderator=curator)
    assert counts() == {"tea": 1, "cup": 1, "pot": 1}
    with django_capture_on_commit_callbacks(execute=True):
        services.note_delete(user=author, note_id=other.pk)
    assert counts() == {"tea": 1, "cup": 0, "pot": 0}
    assert hooks[2:] == [("withdrawn", other.pk), ("published", other.pk), ("withdrawn", other.pk)]
    other.refresh_from_db()
    assert other.status == Note.Status.DELETED and other.deleted_at is not None
    with pytest.raises(NotFound):
        services.note_update(user=author, note_id=other.pk, title="back")


def _publish_then_fail() -> None:
    from django.db import transaction

    with transaction.atomic():
        services.note_create(author=UserFactory(), title="t", publish=True)
        raise RuntimeError


def test_hooks_do_not_run_when_the_transaction_rolls_back(hooks: list[Any]) -> None:
    with pytest.raises(RuntimeError):
        _publish_then_fail()
    assert hooks == [] and not Note.objects.exists()


def test_only_the_author_edits_publishes_or_deletes() -> None:
    note = services.note_create(author=UserFactory(), title="t")
    stranger = UserFactory()
    for call in (
        lambda: services.note_update(user=stranger, note_id=note.pk, title="x"),
        lambda: services.note_publish(user=stranger, note_id=note.pk),
        lambda: services.note_delete(user=stranger, note_id=note.pk),
    ):
        with pytest.raises(NotFound):
            call()
    note.refresh_from_db()
    assert (note.title, note.status) == ("t", Note.Status.DRAFT)


# --- disclosure ---------------------------------------------------------------------------


def test_a_shopkeepers_note_on_a_carried_product_is_an_ad_for_good() -> None:
    product, other = ProductFactory(), ProductFactory()
    shop = ShopFactory()
    item = ShopItemFactory(shop=shop, product=product)
    plain = services.note_create(author=shop.owner, title="plain", product_ids=[other.pk], publish=True)
    assert plain.is_ad is False
    note = services.note_create(author=shop.owner, title="t", product_ids=[product.pk], publish=True)
    assert note.is_ad is True
    # card link minted for the carried product
    assert ShareLink.objects.filter(kind="note", note=note, product=product, shop=shop).exists()
    item.delete()
    services.note_update(user=shop.owner, note_id=note.pk, product_ids=[])
    note.refresh_from_db()
    assert note.is_ad is True  # never cleared


def test_a_paused_shop_does_not_label_or_link() -> None:
    product = ProductFactory()
    shop = ShopFactory(status=Shop.Status.PAUSED)
    ShopItemFactory(shop=shop, product=product)
    note = services.note_create(author=shop.owner, title="t", product_ids=[product.pk], publish=True)
    assert note.is_ad is False and not ShareLink.objects.filter(note=note).exists()


def test_adding_a_tagged_product_to_the_shop_labels_the_note(django_capture_on_commit_callbacks: Any) -> None:
    from grassroots.shops.services import shop_item_add

    product = ProductFactory()
    shop = ShopFactory()
    note = services.note_create(author=shop.owner, title="t", product_ids=[product.pk], publish=True)
    assert note.is_ad is False
    with django_capture_on_commit_callbacks(execute=True):
        shop_item_add(user=shop.owner, product_id=product.pk)
    note.refresh_from_db()
    assert note.is_ad is True
    assert ShareLink.objects.filter(kind="note", note=note, product=product).count() == 1
    assert services.notes_disclosure_refresh(author_id=shop.owner_id) == 0


def test_brand_notes() -> None:
    merchant = MerchantFactory()
    note = services.note_create(author=merchant.owner, title="t", merchant_id=merchant.pk, publish=True)
    assert (note.merchant_id, note.is_ad) == (merchant.pk, True)
    with pytest.raises(PermissionDenied):
        services.note_create(author=UserFactory(), title="t", merchant_id=merchant.pk)
    pending = MerchantFactory(status=Merchant.Status.APPLIED)
    with pytest.raises(ValidationFailed) as caught:
        services.note_create(author=pending.owner, title="t", merchant_id=pending.pk)
    assert caught.value.code == "merchant_not_verified"
    assert Note.objects.count() == 1


# --- moderation ---------------------------------------------------------------------------


def test_moderation_tells_the_author_why(django_capture_on_commit_callbacks: Any, hooks: list[Any]) -> None:
    author = UserFactory()
    curator = CuratorFactory()
    Block.objects.create(blocker=author, blocked=curator)  # even then the author hears why
    note = services.note_create(author=author, title="t", publish=True)
    with pytest.raises(PermissionDenied):
        services.note_moderate(note_id=note.pk, action="remove", reason="x", moderator=UserFactory())
    with pytest.raises(ValidationFailed):
        services.note_moderate(note_id=note.pk, action="remove", reason="  ", moderator=curator)
    with pytest.raises(ValidationFailed):
        services.note_moderate(note_id=note.pk, action="explode", reason="x", moderator=curator)
    with django_capture_on_commit_callbacks(execute=True):
        moderated = services.note_moderate(note_id=note.pk, action="remove", reason="Counterfeit", moderator=curator)
    assert (moderated.moderation, moderated.moderation_reason) == ("removed", "Counterfeit")
    notification = Notification.objects.get(recipient=author, kind=NotificationKind.MODERATION)
    assert notification.data["reason"] == "Counterfeit" and notification.data["action"] == "remove"
    assert ("withdrawn", note.pk) in hooks
    with pytest.raises(NotFound):
        services.note_moderate(note_id=10**9, action="hide", reason="x", moderator=curator)


# --- sharing ------------------------------------------------------------------------------


def test_share_through_the_authors_shop_counts_once_per_member() -> None:
    shop = ShopFactory()
    note = services.note_create(author=shop.owner, title="t", publish=True)
    reader, other = UserFactory(), UserFactory()
    first = services.note_share(note_id=note.pk, user=reader, base_url="https://example.com/")
    again = services.note_share(note_id=note.pk, user=reader, base_url="https://example.com/")
    third = services.note_share(note_id=note.pk, user=other)
    link = ShareLink.objects.get(kind="note", note=note, product=None)
    assert first.url == f"https://example.com/s/{link.code}/" and first.code == link.code
    assert again.url == first.url and third.path == first.path
    assert first.qr_svg.startswith("<svg")
    assert (first.share_count, again.share_count, third.share_count) == (1, 1, 2)
    assert NoteShare.objects.filter(note=note).count() == 2


def test_share_without_a_shop_is_the_plain_url() -> None:
    note = services.note_create(author=UserFactory(), title="t", publish=True)
    shared = services.note_share(note_id=note.pk, user=UserFactory(), base_url="http://testserver/")
    assert shared.url == f"http://testserver/notes/{note.pk}/" and shared.code == ""
    assert not ShareLink.objects.exists()


def test_drafts_and_blocked_authors_cannot_be_shared() -> None:
    from grassroots.core.errors import Conflict

    author = UserFactory()
    draft = services.note_create(author=author, title="t")
    with pytest.raises(NotFound):
        services.note_share(note_id=draft.pk, user=UserFactory())
    with pytest.raises(Conflict):
        services.note_share(note_id=draft.pk, user=author)
    note = services.note_create(author=author, title="t", publish=True)
    blocked = UserFactory()
    Block.objects.create(blocker=author, blocked=blocked)
    with pytest.raises(NotFound):
        services.note_share(note_id=note.pk, user=blocked)
    assert Note.objects.get(pk=note.pk).share_count == 0


def test_published_at_is_set_once() -> None:
    author = UserFactory()
    note = services.note_create(author=author, title="t", publish=True)
    first = note.published_at
    assert first is not None and first <= timezone.now()
    services.note_publish(user=author, note_id=note.pk)
    note.refresh_from_db()
    assert note.published_at == first
