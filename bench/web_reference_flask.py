#!/usr/bin/python3
"""Reference for bench/web_bench.sh: the same article page as `lookbook serve`, rendered by a
minimal Flask app (Debian's python3-flask) from data exported once from the lookbook API.

Usage: web_reference_flask.py PAGE_DATA.json PORT
PAGE_DATA.json: {"article": {...}, "complete": [...], "photos": {"<article_id>": "/path.jpg"}}
Thumbnails are resized once with PIL and kept in memory, like lookbook's cache.
"""
import io
import json
import sys

from flask import Flask, Response, abort, render_template_string
from PIL import Image

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ article.name }} · lookbook</title><link rel="stylesheet" href="/static/style.css">
</head><body><header class="site-header"><a class="brand" href="/catalog">lookbook</a></header>
<main><h1>{{ article.name }}</h1>
<article class="article-detail"><img class="article-photo" src="/thumbnails/{{ article.article_id }}.jpg" alt="{{ article.name }}">
<dl class="facts"><dt>Article</dt><dd>{{ article.article_id }}</dd><dt>Type</dt><dd>{{ article.product_type }}</dd>
<dt>Group</dt><dd>{{ article.product_group }}</dd><dt>Colour</dt><dd>{{ article.colour }}</dd></dl>
<p class="description">{{ article.description }}</p></article>
<section class="card-section" id="complete-the-look"><h2>Complete the look</h2>
{% if complete %}<ul class="card-grid">{% for card in complete %}
<li class="article-card"><a href="/articles/{{ card.article_id }}">{% if card.has_photo %}<img src="/thumbnails/{{ card.article_id }}.jpg" alt="{{ card.name }}" loading="lazy">{% endif %}
<span class="article-name">{{ card.name }}</span></a><span class="article-details">{{ card.product_type }} · {{ card.colour }}</span>
<p class="reason">{{ card.reason }}</p></li>{% endfor %}</ul>
{% else %}<p class="empty-state">No suggestions yet.</p>{% endif %}</section>
</main></body></html>
"""


def main():
    data = json.load(open(sys.argv[1]))
    port = int(sys.argv[2])
    app = Flask(__name__)
    thumbnails = {}

    @app.route("/articles/<article_id>")
    def article_page(article_id):
        if article_id != data["article"]["article_id"]:
            abort(404)
        return render_template_string(TEMPLATE, article=data["article"], complete=data["complete"])

    @app.route("/thumbnails/<article_id>.jpg")
    def thumbnail(article_id):
        path = data["photos"].get(article_id)
        if not path:
            abort(404)
        if article_id not in thumbnails:
            image = Image.open(path).convert("RGB")
            image.thumbnail((256, 256), Image.BOX)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=82)
            thumbnails[article_id] = out.getvalue()
        return Response(thumbnails[article_id], mimetype="image/jpeg",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.run(host="127.0.0.1", port=port, threaded=True)


if __name__ == "__main__":
    main()
