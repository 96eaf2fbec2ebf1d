"""Render the demo publishers' sites: article pages with realistic chrome, homepages and feeds.

Each publisher gets its own mix of the clutter real news pages carry (cookie banners,
"Advertisement" markers, share bars, newsletter boxes, related links, captions with credits),
some marked up with telling classes and some as plain paragraphs, so extraction is tested
on both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape
from zlib import crc32

from tidings.demo.corpus import Corpus, DemoArticle, Publisher

FEED_PATHS = {
    "rss": "rss.xml",
    "atom": "atom.xml",
    "jsonfeed": "feed.json",
    "rdf": "index.rdf",
    "discovery": "syndication/latest.xml",
    "sitemap": "news-sitemap.xml",
    "broken": "rss.xml",
    "missing": "rss.xml",
    "failing": "rss.xml",
    "slow": "rss.xml",
}
# Formats whose homepage announces a feed (the sitemap-only site announces none).
_LINKED_FEEDS = ("rss", "atom", "jsonfeed", "rdf", "discovery")
_COLOURS = ("#1f6f8b", "#99a8b2", "#e6d5b8", "#6d8b74", "#b85c38", "#5c3d2e", "#2d4263")


@dataclass(frozen=True)
class Chrome:
    """The words of a publisher's page furniture, in its language."""

    home: str
    nav: tuple[str, ...]
    cookie: str
    accept: str
    ad: str
    share: str
    newsletter: str
    related: str
    read_more: str
    footer: str


_CHROME_ZH = Chrome(
    home="首頁",
    nav=("港聞", "財經", "科技", "體育", "文化", "天氣"),
    cookie="本網站使用Cookie以改善閱讀體驗。繼續瀏覽即表示你同意。",
    accept="接受",
    ad="廣告",
    share="分享",
    newsletter="訂閱港灣日報電子報，每日早上送上最新消息。",
    related="延伸閱讀",
    read_more="延伸閱讀：",
    footer="版權所有",
)
_CHROME_EN = Chrome(
    home="Home",
    nav=("City", "Business", "Technology", "Sport", "Culture", "Weather"),
    cookie="We use cookies to improve your experience. By continuing you accept our use of cookies.",
    accept="Accept",
    ad="Advertisement",
    share="Share this article",
    newsletter="Sign up for our Morning Briefing newsletter and get the day's top stories in your inbox.",
    related="Related stories",
    read_more="Read more: ",
    footer="All rights reserved",
)


def article_path(publisher: Publisher, article: DemoArticle) -> str:
    return f"/{publisher.slug}/news/{article.slug}.html"


def image_path(publisher: Publisher, article: DemoArticle) -> str:
    return f"/{publisher.slug}/images/{article.slug}.svg"


def audio_path(publisher: Publisher, article: DemoArticle) -> str:
    return f"/{publisher.slug}/audio/{article.slug}.wav"


def feed_path(publisher: Publisher) -> str:
    return f"/{publisher.slug}/{FEED_PATHS[publisher.feed]}"


def _chrome(publisher: Publisher) -> Chrome:
    return _CHROME_ZH if publisher.language.startswith("zh") else _CHROME_EN


def render_image(article: DemoArticle) -> str:
    """A placeholder lead image (an SVG with the section name), sized 1200x675."""
    colour = _COLOURS[crc32(article.slug.encode()) % len(_COLOURS)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675" viewBox="0 0 1200 675">'
        f'<rect width="1200" height="675" fill="{colour}"/>'
        f'<text x="60" y="610" font-family="sans-serif" font-size="64" fill="#fff">'
        f"{escape(article.section)}</text></svg>"
    )


def render_article_page(
    corpus: Corpus, publisher: Publisher, article: DemoArticle, anchor: datetime, base_url: str
) -> str:
    chrome = _chrome(publisher)
    published = article.published_at(anchor)
    url = base_url + article_path(publisher, article)
    image = base_url + image_path(publisher, article)
    variant = corpus.publishers.index(publisher) % 3
    paragraphs = [f"<p>{escape(text)}</p>" for text in article.text]
    # Ad markers: a classed ad slot, a bare paragraph, or a marker inside the text flow.
    ad_html = (
        f'<div class="ad-slot"><span>{chrome.ad}</span></div>',
        f"<p>{chrome.ad.upper() if variant == 1 else chrome.ad}</p>",
        f'<div><span>{chrome.ad}</span><div id="gpt-slot-2"></div></div>',
    )[variant]
    if len(paragraphs) > 2:
        paragraphs.insert(2, ad_html)
    if len(paragraphs) > 6:
        paragraphs.insert(6, f"<p>{chrome.ad}</p>")
    if variant == 2 and len(paragraphs) > 4:
        paragraphs.insert(4, f"<p>{escape(chrome.share)}</p>")
    related = [a for a in corpus.articles_of(publisher.slug) if a.slug != article.slug][:3]
    related_links = "".join(
        f'<li><a href="{article_path(publisher, a)}">{escape(a.title)}</a></li>' for a in related
    )
    if related and len(paragraphs) > 4:
        paragraphs.insert(
            len(paragraphs) - 1,
            f'<p>{chrome.read_more}<a href="{article_path(publisher, related[0])}">'
            f"{escape(related[0].title)}</a></p>",
        )
    figure = _figure(publisher, article, image)
    byline = _byline(publisher, article, variant, published)
    json_ld = _json_ld(publisher, article, url, image, published) if variant == 0 else ""
    meta_dates = (
        f'<meta property="article:published_time" content="{published.isoformat()}">'
        if variant != 2
        else ""
    )
    updated = article.updated_at(anchor)
    if updated is not None:
        meta_dates += f'<meta property="article:modified_time" content="{updated.isoformat()}">'
    nav = "".join(
        f'<li><a href="/{publisher.slug}/">{escape(item)}</a></li>' for item in chrome.nav
    )
    return f"""<!DOCTYPE html>
<html lang="{publisher.language}">
<head>
<meta charset="utf-8">
<title>{escape(article.title)} | {escape(publisher.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{escape(article.description)}">
<meta property="og:title" content="{escape(article.title)}">
<meta property="og:site_name" content="{escape(publisher.name)}">
<meta property="og:type" content="article">
<meta property="og:image" content="{image}">
<meta property="og:url" content="{url}">
{meta_dates}
<meta property="article:section" content="{escape(article.section)}">
<meta name="keywords" content="{escape(", ".join(article.tags))}">
{f'<meta name="author" content="{escape(article.author)}">' if article.author and variant != 0 else ""}
<link rel="canonical" href="{url}">
<link rel="alternate" type="{_feed_type(publisher)}" title="{escape(publisher.name)}" href="{feed_path(publisher)}">
{json_ld}
<style>body{{font-family:Georgia,serif;max-width:70rem;margin:auto}} .cookie-banner{{position:fixed;bottom:0}}</style>
</head>
<body>
<div class="cookie-banner" id="cookie-consent"><p>{chrome.cookie}</p><button>{chrome.accept}</button></div>
<header class="site-header">
  <a class="logo" href="/{publisher.slug}/">{escape(publisher.name)}</a>
  <p class="tagline">{escape(publisher.tagline)}</p>
  <nav class="main-nav"><ul><li><a href="/{publisher.slug}/">{chrome.home}</a></li>{nav}</ul></nav>
</header>
<div class="breadcrumb"><a href="/{publisher.slug}/">{chrome.home}</a> &rsaquo; {escape(article.section)}</div>
<main>
<article class="story">
  <h1 class="headline">{escape(article.title)}</h1>
  <p class="standfirst">{escape(article.description)}</p>
  {byline}
  {figure}
  <div class="share-bar"><a href="#">Facebook</a> <a href="#">X</a> <a href="#">WhatsApp</a> <a href="#">Email</a></div>
  <div class="story-body">
  {"".join(paragraphs)}
  {f"<p>{escape(publisher.support_line)}</p>" if publisher.support_line else ""}
  {f'<p class="correction"><em>{escape(article.update_note)}</em></p>' if article.update_note else ""}
  </div>
  {_newsletter(chrome, variant)}
</article>
<aside class="related-links"><h3>{chrome.related}</h3><ul>{related_links}</ul></aside>
</main>
<footer class="site-footer"><p>&copy; {published.year} {escape(publisher.name)}. {chrome.footer}.</p>
<ul><li><a href="/{publisher.slug}/about">About us</a></li><li><a href="/{publisher.slug}/privacy">Privacy</a></li></ul></footer>
</body>
</html>
"""


def _figure(publisher: Publisher, article: DemoArticle, image: str) -> str:
    img = f'<img src="{image}" width="1200" height="675" alt="{escape(article.section)}">'
    if publisher.caption_style == "figure":
        return (
            f'<figure class="lead">{img}<figcaption>{escape(article.caption)}</figcaption></figure>'
        )
    # Caption as a plain paragraph under the image: only its credit tells it from the body.
    return f'<div class="lead-media">{img}</div><p>{escape(article.caption)}</p>'


def _byline(publisher: Publisher, article: DemoArticle, variant: int, published: datetime) -> str:
    time_html = f'<time datetime="{published.isoformat()}">{published:%d %b %Y %H:%M}</time>'
    if not article.author:
        return f'<p class="dateline">{time_html}</p>'
    if publisher.language.startswith("zh"):
        return f'<p class="byline">記者 {escape(article.author)}</p><p class="dateline">{time_html}</p>'
    if variant == 1:
        return (
            f'<div class="meta"><span class="author-name">By {escape(article.author)}</span> '
            f"{time_html}</div>"
        )
    return f'<p class="byline">By {escape(article.author)}</p><p class="dateline">{time_html}</p>'


def _newsletter(chrome: Chrome, variant: int) -> str:
    text = escape(chrome.newsletter)
    if variant == 1:
        return f"<p>{text}</p>"  # an unclassed newsletter plug, caught by its wording
    return f'<aside class="newsletter-box"><p>{text}</p><form><input type="email"><button>OK</button></form></aside>'


def _json_ld(
    publisher: Publisher, article: DemoArticle, url: str, image: str, published: datetime
) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "datePublished": published.isoformat(),
        "image": [image],
        "url": url,
        "articleSection": article.section,
        "author": [{"@type": "Person", "name": article.author}] if article.author else [],
        "publisher": {"@type": "Organization", "name": publisher.name},
    }
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _feed_type(publisher: Publisher) -> str:
    return {
        "atom": "application/atom+xml",
        "jsonfeed": "application/feed+json",
        "rdf": "application/rdf+xml",
    }.get(publisher.feed, "application/rss+xml")


def render_homepage(corpus: Corpus, publisher: Publisher, anchor: datetime) -> str:
    items = "".join(
        f'<li><a href="{article_path(publisher, a)}">{escape(a.title)}</a> '
        f"<time>{a.published_at(anchor):%d %b %H:%M}</time></li>"
        for a in corpus.articles_of(publisher.slug)
    )
    # Only the discovery publisher's homepage is how its feed is found; all link theirs.
    link = (
        f'<link rel="alternate" type="{_feed_type(publisher)}" title="{escape(publisher.name)}"'
        f' href="{FEED_PATHS[publisher.feed]}">'
        if publisher.feed in _LINKED_FEEDS
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="{publisher.language}"><head><meta charset="utf-8">
<title>{escape(publisher.name)}</title>{link}</head>
<body><header><h1>{escape(publisher.name)}</h1><p>{escape(publisher.tagline)}</p></header>
<main><ul class="headlines">{items}</ul></main></body></html>
"""


def render_index(corpus: Corpus) -> str:
    items = "".join(
        f'<li><a href="/{p.slug}/">{escape(p.name)}</a> ({p.feed})</li>' for p in corpus.publishers
    )
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Demo publishers</title></head><body><ul>{items}</ul></body></html>"


def render_feed(
    corpus: Corpus, publisher: Publisher, anchor: datetime, base_url: str
) -> tuple[str, str]:
    """The publisher's feed in its format: (content type, document)."""
    articles = corpus.articles_of(publisher.slug)
    site = f"{base_url}/{publisher.slug}/"
    if publisher.feed == "broken":
        return "application/rss+xml", (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>The Static Gazette'
            "<item><title>Unclosed & unescaped <b>markup</title></channel>"
        )
    if publisher.feed == "sitemap":
        return "application/xml", render_sitemap(publisher, articles, anchor, base_url)
    if publisher.feed == "jsonfeed":
        return "application/feed+json", _json_feed(publisher, articles, anchor, base_url, site)
    if publisher.feed == "atom":
        return "application/atom+xml", _atom(publisher, articles, anchor, base_url, site)
    if publisher.feed == "rdf":
        return "application/rdf+xml", _rdf(publisher, articles, anchor, base_url, site)
    return "application/rss+xml", _rss(publisher, articles, anchor, base_url, site)


def _rss(
    publisher: Publisher, articles: list[DemoArticle], anchor: datetime, base: str, site: str
) -> str:
    items = "".join(
        f"""<item><title>{escape(a.title)}</title><link>{base}{article_path(publisher, a)}</link>
<guid isPermaLink="false">{publisher.slug}-{a.slug}</guid>
<pubDate>{format_datetime(a.published_at(anchor))}</pubDate>{_rss_updated(a, anchor)}
<description>{escape(a.description)}</description>
{f"<dc:creator>{escape(a.author)}</dc:creator>" if a.author else ""}
<media:content url="{base}{image_path(publisher, a)}" medium="image"/></item>
"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>{escape(publisher.name)}</title><link>{site}</link>
<description>{escape(publisher.tagline)}</description><language>{publisher.language}</language>
<ttl>30</ttl>
{items}</channel></rss>
"""


def _rss_updated(article: DemoArticle, anchor: datetime) -> str:
    """An edited item says when (RSS has no element for it: Atom's, as many feeds do)."""
    updated = article.updated_at(anchor)
    return f"\n<atom:updated>{updated.isoformat()}</atom:updated>" if updated else ""


def _atom(
    publisher: Publisher, articles: list[DemoArticle], anchor: datetime, base: str, site: str
) -> str:
    updated = max((a.published_at(anchor) for a in articles), default=anchor).isoformat()
    entries = "".join(
        f"""<entry><title>{escape(a.title)}</title>
<link rel="alternate" type="text/html" href="{article_path(publisher, a)}"/>
<id>tag:{publisher.slug}.example,2026:{a.slug}</id>
<published>{a.published_at(anchor).isoformat()}</published><updated>{a.published_at(anchor).isoformat()}</updated>
<summary>{escape(a.description)}</summary>
{f"<author><name>{escape(a.author)}</name></author>" if a.author else ""}</entry>
"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{site}" xml:lang="{publisher.language}">
<title>{escape(publisher.name)}</title><subtitle>{escape(publisher.tagline)}</subtitle>
<link rel="alternate" href="{site}"/><link rel="self" href="{base}{feed_path(publisher)}"/>
<id>tag:{publisher.slug}.example,2026:feed</id><updated>{updated}</updated>
{entries}</feed>
"""


def _rdf(
    publisher: Publisher, articles: list[DemoArticle], anchor: datetime, base: str, site: str
) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{base}{article_path(publisher, a)}"/>' for a in articles)
    items = "".join(
        f"""<item rdf:about="{base}{article_path(publisher, a)}"><title>{escape(a.title)}</title>
<link>{base}{article_path(publisher, a)}</link><description>{escape(a.description)}</description>
<dc:date>{a.published_at(anchor).isoformat()}</dc:date>
{f"<dc:creator>{escape(a.author)}</dc:creator>" if a.author else ""}</item>
"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{base}{feed_path(publisher)}"><title>{escape(publisher.name)}</title>
<link>{site}</link><description>{escape(publisher.tagline)}</description>
<dc:language>{publisher.language}</dc:language><items><rdf:Seq>{seq}</rdf:Seq></items></channel>
{items}</rdf:RDF>
"""


def _json_feed(
    publisher: Publisher, articles: list[DemoArticle], anchor: datetime, base: str, site: str
) -> str:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": publisher.name,
        "home_page_url": site,
        "feed_url": base + feed_path(publisher),
        "description": publisher.tagline,
        "language": publisher.language,
        "items": [
            {
                "id": f"{publisher.slug}-{a.slug}",
                "url": base + article_path(publisher, a),
                "title": a.title,
                "summary": a.description,
                # A wire service ships full text in its feed; Tidings falls back to it.
                "content_html": "".join(f"<p>{escape(p)}</p>" for p in a.text),
                "image": base + image_path(publisher, a),
                "date_published": a.published_at(anchor).isoformat(),
                "authors": [{"name": a.author}] if a.author else [],
                "tags": list(a.tags),
                **(
                    {
                        "attachments": [
                            {
                                "url": base + audio_path(publisher, a),
                                "mime_type": "audio/wav",
                                "title": f"Audio briefing: {a.title}",
                            }
                        ]
                    }
                    if index < publisher.podcasts
                    else {}
                ),
            }
            for index, a in enumerate(articles)
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1)


def render_sitemap(
    publisher: Publisher, articles: list[DemoArticle], anchor: datetime, base: str
) -> str:
    """A Google News sitemap: the only way in for a site without a feed."""
    urls = "".join(
        f"""<url><loc>{base}{article_path(publisher, a)}</loc>
<lastmod>{(a.updated_at(anchor) or a.published_at(anchor)).isoformat()}</lastmod>
<news:news><news:publication><news:name>{escape(publisher.name)}</news:name>
<news:language>{publisher.language}</news:language></news:publication>
<news:publication_date>{a.published_at(anchor).isoformat()}</news:publication_date>
<news:title>{escape(a.title)}</news:title></news:news>
<image:image><image:loc>{base}{image_path(publisher, a)}</image:loc></image:image></url>
"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
 xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
{urls}</urlset>
"""


def render_robots(corpus: Corpus, base: str) -> str:
    """One robots.txt for the demo server: sitemaps listed, one private path disallowed."""
    sitemaps = "".join(
        f"Sitemap: {base}{feed_path(p)}\n" for p in corpus.publishers if p.feed == "sitemap"
    )
    return f"User-agent: *\nDisallow: /private/\n\n{sitemaps}"
