"""A believable demo catalogue: merchants, curated products in every screening state, accounts.

Pictures are drawn locally with Pillow, so the demo needs no network and no assets.
"""

from __future__ import annotations

import colorsys
import io
import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from grassroots.accounts.models import User
from grassroots.catalog.models import Category, Product, ProductImage, ProductStatusChange, Sku
from grassroots.core.text import render_markdown
from grassroots.core.uploads import make_thumbnail
from grassroots.curation.models import ScreeningStage, StageDecision, Submission
from grassroots.merchants.models import Merchant, MerchantMember, MerchantStatusChange

DEMO_PASSWORD = "grassroots-demo-2026"  # noqa: S105 (printed for demo accounts on purpose)


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: str


ACCOUNTS = [
    DemoAccount("admin@demo.grassroots", "Admin", "operator (Django admin + curator)"),
    DemoAccount("curator@demo.grassroots", "Cora Curator", "curator"),
    DemoAccount("tea@demo.grassroots", "Lin Wei", "merchant: Yunnan Highlands Tea"),
    DemoAccount("skin@demo.grassroots", "Mei Chen", "merchant: Jade Spring Skincare"),
    DemoAccount("home@demo.grassroots", "Sam Hughes", "merchant: Homestead Goods"),
    DemoAccount("buyer@demo.grassroots", "Bo Buyer", "buyer"),
    DemoAccount("fan@demo.grassroots", "Xiaohong Fan", "buyer"),
    DemoAccount("keeper@demo.grassroots", "Yue Lin", "shopkeeper: a shop, seeding notes, earnings"),
]

# (title, text, indexes into PRODUCTS of the tagged products)
DEMO_NOTES = [
    (
        "My winter skincare routine 冬季护肤",
        "Three steps that saved my dry skin this winter. #skincare #护肤\n"
        "Toner first, then the cream while the skin is still damp. Ask me anything!",
        [0, 1],
    ),
    (
        "Pu'er for beginners",
        "If you are new to #tea, start with a young sheng and brew it short. #puer",
        [14, 26],
    ),
    ("Linen that lasts", "Two years in and it only gets softer. #home", [33]),
]


def _social_demo(*, users: dict[str, User], products: list[Product]) -> None:
    """A shopkeeper with a shop and seeding notes, a brand note, followers, likes and comments, all
    through the services a member would use (so counters, disclosure and feeds are real)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from grassroots.interactions.services import comment_create, like_add
    from grassroots.notes.services import note_create
    from grassroots.shops.services import commission_rate_set, shop_item_add, shop_open
    from grassroots.social.services import follow_add

    keeper, buyer, fan = users["keeper@demo.grassroots"], users["buyer@demo.grassroots"], users["fan@demo.grassroots"]
    shop = shop_open(user=keeper, name="Yue's Good Finds", pitch="Things I use every day.", accept_terms=True)
    for product in {products[i] for _, _, tagged in DEMO_NOTES for i in tagged}:
        owner = product.merchant.memberships.first().user  # type: ignore[union-attr]
        commission_rate_set(actor=owner, product_id=product.pk, rate_bps=1500)
    notes = []
    for index, (title, text, tagged) in enumerate(DEMO_NOTES):
        tagged_products = [products[i] for i in tagged if products[i].is_listed]
        for product in tagged_products:
            shop_item_add(user=keeper, product_id=product.pk, recommendation="I use it myself.")
        picture = SimpleUploadedFile(f"note-{index}.jpg", draw_product_image(title, 100 + index), "image/jpeg")
        notes.append(
            note_create(
                author=keeper,
                title=title,
                body=text,
                images=[picture],
                product_ids=[p.pk for p in tagged_products],
                publish=True,
            )
        )
    skin = users["skin@demo.grassroots"]
    brand = Merchant.objects.get(slug="jade-spring-skincare")
    brand_picture = SimpleUploadedFile("brand.jpg", draw_product_image("Jade Spring", 200), "image/jpeg")
    note_create(
        author=skin,
        title="New: Camellia Face Oil",
        body="Cold-pressed camellia oil from Zhejiang. #skincare",
        images=[brand_picture],
        product_ids=[products[4].pk],
        merchant_id=brand.pk,
        publish=True,
    )
    for member in (buyer, fan):
        follow_add(follower=member, kind="shop", target_id=shop.pk)
        follow_add(follower=member, kind="merchant", target_id=brand.pk)
    follow_add(follower=buyer, kind="user", target_id=fan.pk)
    like_add(user=buyer, note_id=notes[0].pk)
    like_add(user=fan, note_id=notes[0].pk)
    question = comment_create(user=fan, note_id=notes[0].pk, body="Does the cream work for oily skin too?")
    comment_create(user=keeper, note_id=notes[0].pk, body="@fan yes, use a little less of it.", parent_id=question.pk)


CATEGORIES = [
    ("beauty", "Beauty & Skincare", "美妆护肤", None),
    ("skincare", "Skincare", "护肤", "beauty"),
    ("makeup", "Make-up", "彩妆", "beauty"),
    ("food", "Food & Drink", "食品饮料", None),
    ("tea", "Tea", "茶叶", "food"),
    ("snacks", "Snacks", "零食", "food"),
    ("home", "Home & Living", "家居生活", None),
    ("kitchen", "Kitchen", "厨房用品", "home"),
    ("textiles", "Textiles", "家纺", "home"),
    ("apparel", "Apparel", "服饰", None),
]

MERCHANTS = [
    (
        "yunnan-highlands-tea",
        "Yunnan Highlands Tea",
        "云南高山茶 – single-estate teas from Pu'er and Lincang.",
        "tea@demo.grassroots",
    ),
    (
        "jade-spring-skincare",
        "Jade Spring Skincare",
        "玉泉护肤 – gentle skincare made in Hangzhou.",
        "skin@demo.grassroots",
    ),
    (
        "homestead-goods",
        "Homestead Goods",
        "家乡好物 – kitchenware and linen from family workshops.",
        "home@demo.grassroots",
    ),
]

# (merchant slug, category slug, English title, Chinese title, brand, origin, base price in yuan, options)
PRODUCTS = [
    (
        "jade-spring-skincare",
        "skincare",
        "Moisturising Cream",
        "保湿面霜",
        "Jade Spring",
        "Hangzhou",
        129,
        ["50 ml", "100 ml"],
    ),
    (
        "jade-spring-skincare",
        "skincare",
        "Hydrating Toner",
        "补水爽肤水",
        "Jade Spring",
        "Hangzhou",
        89,
        ["150 ml", "300 ml"],
    ),
    ("jade-spring-skincare", "skincare", "Rice Water Cleanser", "米水洁面乳", "Jade Spring", "Hangzhou", 59, ["120 g"]),
    ("jade-spring-skincare", "skincare", "Green Tea Eye Cream", "绿茶眼霜", "Jade Spring", "Hangzhou", 149, ["15 ml"]),
    (
        "jade-spring-skincare",
        "skincare",
        "Camellia Face Oil",
        "山茶花精华油",
        "Jade Spring",
        "Hangzhou",
        169,
        ["30 ml"],
    ),
    ("jade-spring-skincare", "skincare", "Soothing Night Cream", "舒缓晚霜", "Jade Spring", "Hangzhou", 139, ["50 ml"]),
    (
        "jade-spring-skincare",
        "skincare",
        "Sun Protection Lotion SPF50",
        "防晒乳SPF50",
        "Jade Spring",
        "Hangzhou",
        99,
        ["60 ml"],
    ),
    (
        "jade-spring-skincare",
        "makeup",
        "Silk Finish Lip Balm",
        "丝滑润唇膏",
        "Jade Spring",
        "Hangzhou",
        39,
        ["Rose", "Coral", "Clear"],
    ),
    (
        "jade-spring-skincare",
        "makeup",
        "Mineral Cushion Foundation",
        "矿物气垫粉底",
        "Jade Spring",
        "Hangzhou",
        159,
        ["Ivory", "Natural"],
    ),
    ("jade-spring-skincare", "makeup", "Brow Pencil", "自然眉笔", "Jade Spring", "Hangzhou", 35, ["Brown", "Grey"]),
    (
        "jade-spring-skincare",
        "skincare",
        "Hand Cream Trio",
        "护手霜三支装",
        "Jade Spring",
        "Hangzhou",
        69,
        ["3 x 30 ml"],
    ),
    (
        "jade-spring-skincare",
        "skincare",
        "Sheet Masks (10)",
        "补水面膜10片",
        "Jade Spring",
        "Hangzhou",
        79,
        ["Hydrating", "Brightening"],
    ),
    (
        "jade-spring-skincare",
        "skincare",
        "Gentle Exfoliating Gel",
        "温和去角质啫喱",
        "Jade Spring",
        "Hangzhou",
        65,
        ["100 ml"],
    ),
    ("jade-spring-skincare", "skincare", "Vitamin C Serum", "维C精华液", "Jade Spring", "Hangzhou", 189, ["30 ml"]),
    (
        "yunnan-highlands-tea",
        "tea",
        "Aged Pu'er Tea Cake",
        "陈年普洱茶饼",
        "Highlands",
        "Pu'er, Yunnan",
        268,
        ["357 g", "200 g"],
    ),
    (
        "yunnan-highlands-tea",
        "tea",
        "Dian Hong Black Tea",
        "滇红工夫红茶",
        "Highlands",
        "Lincang, Yunnan",
        128,
        ["100 g", "250 g"],
    ),
    ("yunnan-highlands-tea", "tea", "Moonlight White Tea", "月光白茶", "Highlands", "Jinggu, Yunnan", 158, ["100 g"]),
    ("yunnan-highlands-tea", "tea", "Jasmine Green Tea", "茉莉花茶", "Highlands", "Fuzhou", 88, ["100 g", "250 g"]),
    ("yunnan-highlands-tea", "tea", "Tieguanyin Oolong", "铁观音乌龙茶", "Highlands", "Anxi, Fujian", 138, ["125 g"]),
    ("yunnan-highlands-tea", "tea", "Longjing Green Tea", "西湖龙井", "Highlands", "Hangzhou", 298, ["50 g", "100 g"]),
    ("yunnan-highlands-tea", "tea", "Tea Sampler Box", "品鉴茶礼盒", "Highlands", "Yunnan", 199, ["8 teas"]),
    (
        "yunnan-highlands-tea",
        "snacks",
        "Rose Flower Cakes",
        "玫瑰鲜花饼",
        "Highlands",
        "Kunming",
        49,
        ["6 pieces", "12 pieces"],
    ),
    ("yunnan-highlands-tea", "snacks", "Walnut Crisps", "核桃酥", "Highlands", "Dali", 39, ["250 g"]),
    (
        "yunnan-highlands-tea",
        "snacks",
        "Dried Mango Slices",
        "芒果干",
        "Highlands",
        "Xishuangbanna",
        29,
        ["200 g", "500 g"],
    ),
    (
        "yunnan-highlands-tea",
        "snacks",
        "Yunnan Coffee Beans",
        "云南小粒咖啡豆",
        "Highlands",
        "Baoshan",
        78,
        ["250 g", "500 g"],
    ),
    ("yunnan-highlands-tea", "snacks", "Wild Mushroom Sauce", "野生菌油", "Highlands", "Chuxiong", 45, ["200 g"]),
    (
        "yunnan-highlands-tea",
        "tea",
        "Gaiwan Tea Set",
        "盖碗茶具套装",
        "Highlands",
        "Jingdezhen",
        238,
        ["White", "Celadon"],
    ),
    ("homestead-goods", "kitchen", "Cast Iron Wok", "铸铁炒锅", "Homestead", "Zhangqiu", 259, ["32 cm", "34 cm"]),
    ("homestead-goods", "kitchen", "Bamboo Steamer", "竹蒸笼", "Homestead", "Anji", 69, ["2 tiers", "3 tiers"]),
    ("homestead-goods", "kitchen", "Chef's Cleaver", "中式菜刀", "Homestead", "Yangjiang", 189, ["18 cm"]),
    (
        "homestead-goods",
        "kitchen",
        "Ceramic Rice Bowls (4)",
        "陶瓷饭碗四只装",
        "Homestead",
        "Jingdezhen",
        89,
        ["Blue", "White"],
    ),
    (
        "homestead-goods",
        "kitchen",
        "Walnut Chopsticks (10 pairs)",
        "胡桃木筷子10双",
        "Homestead",
        "Guilin",
        59,
        ["Natural"],
    ),
    ("homestead-goods", "kitchen", "Clay Pot", "砂锅", "Homestead", "Jianshui", 119, ["1.5 L", "2.5 L"]),
    (
        "homestead-goods",
        "textiles",
        "Linen Bedding Set",
        "亚麻四件套",
        "Homestead",
        "Shaoxing",
        499,
        ["Double", "King"],
    ),
    ("homestead-goods", "textiles", "Silk Pillowcase", "真丝枕套", "Homestead", "Suzhou", 199, ["Ivory", "Blush"]),
    ("homestead-goods", "textiles", "Cotton Bath Towels", "纯棉浴巾", "Homestead", "Gaoyang", 79, ["Grey", "White"]),
    ("homestead-goods", "textiles", "Down Duvet", "羽绒被", "Homestead", "Lu'an", 899, ["Double", "King"]),
    ("homestead-goods", "apparel", "Linen Shirt", "亚麻衬衫", "Homestead", "Shaoxing", 259, ["S", "M", "L"]),
    ("homestead-goods", "apparel", "Cotton Slippers", "棉拖鞋", "Homestead", "Wenzhou", 39, ["38", "40", "42"]),
    ("homestead-goods", "apparel", "Wool Scarf", "羊毛围巾", "Homestead", "Ordos", 159, ["Camel", "Charcoal"]),
    ("homestead-goods", "apparel", "Canvas Tote Bag", "帆布托特包", "Homestead", "Hangzhou", 49, ["Natural", "Black"]),
    ("homestead-goods", "home", "Aroma Diffuser", "香薰机", "Homestead", "Shenzhen", 129, ["White", "Wood"]),
    (
        "homestead-goods",
        "home",
        "Handmade Soy Candle",
        "手工大豆蜡烛",
        "Homestead",
        "Xiamen",
        59,
        ["Osmanthus", "Cedar"],
    ),
]

# Every ninth product after the first 30 is held in a non-listed state, so each state appears.
NON_LISTED = [
    "in_review:authenticity",
    "in_review:pricing",
    "changes_requested",
    "rejected",
    "suspended",
    "draft",
    "in_review:qualification",
]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def draw_product_image(title: str, seed: int, variant: int = 0) -> bytes:
    rng = random.Random(seed * 31 + variant)
    hue = rng.random()
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.35, 0.97))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.08) % 1, 0.55, 0.8))
    size = 720
    image = Image.new("RGB", (size, size), top)
    draw = ImageDraw.Draw(image)
    for y in range(size):
        t = y / size
        draw.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    # A simple "package": a rounded box with a label band, different per product.
    w, h = rng.randint(260, 380), rng.randint(300, 440)
    x0, y0 = (size - w) // 2, (size - h) // 2 + 30
    draw.rounded_rectangle(
        [x0, y0, x0 + w, y0 + h], radius=rng.randint(12, 60), fill=(255, 255, 255), outline=bottom, width=6
    )
    draw.rectangle([x0, y0 + h // 3, x0 + w, y0 + h // 3 + 70], fill=bottom)
    words = title.split()
    label = " ".join(words[:2])[:18]
    draw.text((size // 2, y0 + h // 3 + 35), label, fill=(255, 255, 255), font=_font(34), anchor="mm")
    draw.text((size // 2, 60), "GRASSROOTS", fill=(255, 255, 255), font=_font(28), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _user(account: DemoAccount) -> User:
    user = User.objects.create_user(account.email, DEMO_PASSWORD, display_name=account.name)
    return user


@transaction.atomic
def load_demo(*, seed: int = 7) -> bool:
    """Build the demo once. Returns False when it was already there."""
    if User.objects.filter(email=ACCOUNTS[0].email).exists():
        return False
    rng = random.Random(seed)
    now = timezone.now()
    users = {a.email: _user(a) for a in ACCOUNTS}
    admin = users["admin@demo.grassroots"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    curator = users["curator@demo.grassroots"]
    curator.is_staff = True
    curator.save()
    curator.user_permissions.add(Permission.objects.get(codename="curator", content_type__app_label="accounts"))

    categories: dict[str, Category] = {}
    for position, (slug, en, zh, parent) in enumerate(CATEGORIES):
        categories[slug] = Category.objects.create(
            slug=slug, name_en=en, name_zh=zh, parent=categories.get(parent) if parent else None, position=position
        )

    merchants: dict[str, Merchant] = {}
    for slug, name, description, owner_email in MERCHANTS:
        merchant = Merchant.objects.create(
            slug=slug,
            name=name,
            description=description,
            brand_names=name.split()[0],
            contact_email=owner_email,
            status=Merchant.Status.VERIFIED,
            verified_at=now - timedelta(days=60),
        )
        MerchantMember.objects.create(merchant=merchant, user=users[owner_email], role=MerchantMember.Role.OWNER)
        MerchantStatusChange.objects.create(
            merchant=merchant, from_status="", to_status="applied", action="apply", actor=users[owner_email]
        )
        MerchantStatusChange.objects.create(
            merchant=merchant, from_status="applied", to_status="verified", action="verify", actor=curator
        )
        merchants[slug] = merchant
    pending = Merchant.objects.create(
        slug="golden-harvest-honey",
        name="Golden Harvest Honey",
        description="蜂蜜 – an applicant waiting for verification.",
        status=Merchant.Status.APPLIED,
        contact_email="buyer@demo.grassroots",
    )
    MerchantStatusChange.objects.create(
        merchant=pending, from_status="", to_status="applied", action="apply", actor=users["fan@demo.grassroots"]
    )
    MerchantMember.objects.create(merchant=pending, user=users["fan@demo.grassroots"], role=MerchantMember.Role.OWNER)

    stages = list(ScreeningStage.objects.filter(is_active=True).order_by("position", "id"))
    plan = [stage.code for stage in stages]
    all_products: list[Product] = []
    for index, (mslug, cslug, en, zh, brand, origin, yuan, options) in enumerate(PRODUCTS):
        merchant = merchants[mslug]
        owner = merchant.memberships.first().user  # type: ignore[union-attr]
        state = NON_LISTED[(index - 30) % len(NON_LISTED)] if index >= 30 and index % 2 == 0 else "listed"
        description = (
            f"**{en}** · {zh}\n\nFrom {origin}. Screened by Grassroots curators before listing.\n\n"
            f"- Brand: {brand}\n- Origin: {origin}\n- 7-day no-reason returns"
        )
        status = state.split(":")[0]
        product = Product.objects.create(
            merchant=merchant,
            category=categories[cslug],
            slug=f"{mslug.split('-')[0]}-{index + 1}",
            title_en=en,
            title_zh=zh,
            brand=brand,
            origin=origin,
            description_md=description,
            description_html=render_markdown(description),
            currency="CNY",
            status=status,
            is_listed=status == "listed",
            listed_at=now - timedelta(days=rng.randint(1, 90)) if status in {"listed", "suspended"} else None,
            passed_stages=plan if status in {"listed", "suspended"} else [],
            search_text=f"{en} {zh} {brand} {origin}".lower(),
        )
        prices = []
        for position, option in enumerate(options):
            price = yuan * 100 + position * rng.choice([0, 1000, 2000])
            prices.append(price)
            Sku.objects.create(
                product=product,
                code=f"{product.slug.upper()}-{position + 1}",
                options={"option": option},
                price_amount=price,
                currency="CNY",
                stock=rng.choice([0, 12, 40, 80, 150, 300]) if position else rng.choice([25, 60, 120]),
                position=position,
            )
        Product.objects.filter(pk=product.pk).update(min_price=min(prices))
        for variant in range(2):
            data = draw_product_image(en, index, variant)
            image = ProductImage(product=product, width=720, height=720, position=variant)
            image.image.save(f"{product.slug}-{variant}.jpg", ContentFile(data), save=False)
            image.thumbnail.save(f"{product.slug}-{variant}-thumb.jpg", make_thumbnail(data), save=False)
            image.save()
        _history(product=product, state=state, stages=stages, plan=plan, owner=owner, curator=curator)
        all_products.append(product)
    _social_demo(users=users, products=all_products)
    return True


def _history(
    *, product: Product, state: str, stages: list[ScreeningStage], plan: list[str], owner: User, curator: User
) -> None:
    """Audit rows and screening decisions consistent with the product's state."""
    if state == "draft":
        return
    ProductStatusChange.objects.create(
        product=product, from_status="draft", to_status="in_review", action="submit", actor=owner
    )
    status, _, at_stage = state.partition(":")
    submission = Submission.objects.create(
        product=product,
        reason=Submission.Reason.NEW,
        stage_plan=plan,
        submitted_by=owner,
        state=Submission.State.IN_REVIEW,
        current_stage=stages[0],
    )
    stop = {"listed": len(stages), "suspended": len(stages), "changes_requested": 2, "rejected": 1}.get(status)
    if status == "in_review":
        stop = plan.index(at_stage) if at_stage in plan else 0
    assert stop is not None
    for stage in stages[:stop]:
        StageDecision.objects.create(
            submission=submission, stage=stage, reviewer=curator, decision="pass", notes="Checked."
        )
    if status in {"listed", "suspended"}:
        Submission.objects.filter(pk=submission.pk).update(
            state=Submission.State.APPROVED, current_stage=None, decided_at=timezone.now()
        )
        ProductStatusChange.objects.create(
            product=product, from_status="in_review", to_status="listed", action="approve", actor=curator
        )
    if status == "suspended":
        ProductStatusChange.objects.create(
            product=product,
            from_status="listed",
            to_status="suspended",
            action="suspend",
            actor=curator,
            note="Counterfeit report under investigation.",
        )
    if status == "changes_requested":
        StageDecision.objects.create(
            submission=submission,
            stage=stages[stop],
            reviewer=curator,
            decision="request_changes",
            notes="Please upload the sample test report and a clearer label photo.",
        )
        Submission.objects.filter(pk=submission.pk).update(
            state=Submission.State.CHANGES_REQUESTED, current_stage=stages[stop], decided_at=timezone.now()
        )
        ProductStatusChange.objects.create(
            product=product,
            from_status="in_review",
            to_status="changes_requested",
            action="request_changes",
            actor=curator,
            note="Please upload the sample test report and a clearer label photo.",
        )
    if status == "rejected":
        StageDecision.objects.create(
            submission=submission,
            stage=stages[stop],
            reviewer=curator,
            decision="reject",
            notes="The brand authorisation does not cover this product line.",
        )
        Submission.objects.filter(pk=submission.pk).update(
            state=Submission.State.REJECTED, current_stage=stages[stop], decided_at=timezone.now()
        )
        ProductStatusChange.objects.create(
            product=product,
            from_status="in_review",
            to_status="rejected",
            action="reject",
            actor=curator,
            note="The brand authorisation does not cover this product line.",
        )
    if status == "in_review":
        Submission.objects.filter(pk=submission.pk).update(current_stage=stages[stop])
