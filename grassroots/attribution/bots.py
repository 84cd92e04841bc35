"""Which clicks come from software rather than people.

Bot clicks are logged (is_bot=True) so shopkeepers can see their link was previewed, but they
never count and never attribute. We count as bots:

- link-preview fetchers of chat and social apps (facebookexternalhit, Facebot, Twitterbot,
  Slackbot, WhatsApp, TelegramBot, Discordbot, LinkedInBot, Pinterestbot, SkypeUriPreview, ...):
  they fetch every shared link once per chat, which would otherwise look like a click;
- search and SEO crawlers (Googlebot, bingbot, Baiduspider, Sogou, YandexBot, Bytespider, ...);
- command-line and library HTTP clients (curl, Wget, python-requests, Go-http-client, ...) and
  headless browsers: real shoppers do not use them, and they keep no cookie, so they could never
  be attributed anyway; counting them would only inflate click numbers;
- an empty user agent, which no browser sends.

Deliberately not bots: in-app browsers of WeChat (MicroMessenger), Facebook (FBAN/FBAV),
Instagram, Line, TikTok and Weibo, which are people tapping a link.
"""

from __future__ import annotations

import re

_TOKENS = (
    # Link-preview fetchers.
    "facebookexternalhit",
    "facebot",
    "facebookcatalog",
    "meta-externalagent",
    "twitterbot",
    "slackbot",
    "slack-imgproxy",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "linkedinbot",
    "pinterestbot",
    "skypeuripreview",
    "redditbot",
    "embedly",
    "iframely",
    "vkshare",
    "mastodon",
    "bluesky",
    "google-pagerenderer",
    "googleother",
    "applebot",
    "bitlybot",
    # Crawlers.
    "googlebot",
    "google-inspectiontool",
    "adsbot-google",
    "mediapartners-google",
    "storebot-google",
    "bingbot",
    "bingpreview",
    "yandexbot",
    "yandeximages",
    "baiduspider",
    "sogou",
    "360spider",
    "yisouspider",
    "bytespider",
    "petalbot",
    "duckduckbot",
    "slurp",
    "ahrefsbot",
    "semrushbot",
    "mj12bot",
    "dotbot",
    "gptbot",
    "chatgpt-user",
    "claudebot",
    "ccbot",
    "perplexitybot",
    # HTTP clients and headless browsers.
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "httpie",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
)
# Generic markers: "SomethingBot/1.0", "(compatible; x-bot)", "...crawler", "...spider".
# "bot" alone is not enough: phone models such as "CUBOT X30" contain it.
_GENERIC = re.compile(r"bot[/;)]|bot$|crawler|spider|scraper|preview|fetcher|http[_-]?client", re.IGNORECASE)


def is_bot_user_agent(user_agent: str | None) -> bool:
    agent = (user_agent or "").strip().lower()
    if not agent:
        return True
    if any(token in agent for token in _TOKENS):
        return True
    return bool(_GENERIC.search(agent))
