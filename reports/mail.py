"""The report as an e-mail: an HTML body (KPIs, charts as inline images, tables up to
``EMAIL_ROWS`` rows with the rest in the attachments, text), a plain-text alternative, the chosen
files attached, and the signed link to the run's page. The builder's preview is the same HTML
with the images inline as data: URLs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from .exports import charts, table_of
from .exports.formatting import cell_text, change_text, direction, number_text
from .rendering import Rendered

EMAIL_ROWS = 15


def images_of(rendered: Rendered) -> dict[str, bytes]:
    """Every chart and sparkline of the report as PNG, by key (``chart-3``, ``spark-1``)."""
    images = {}
    for i, block in enumerate(rendered.blocks):
        if block.error is not None:
            continue
        if block.kind == "chart":
            png = charts.chart_png(block, rendered.tz)
            if png:
                images[f"chart-{i}"] = png
        elif block.kpi is not None:
            png = charts.spark_png(block.kpi.spark)
            if png:
                images[f"spark-{i}"] = png
    return images


def blocks_context(rendered: Rendered, src: Callable[[str], str | None]) -> list[dict]:
    out = []
    for i, block in enumerate(rendered.blocks):
        item: dict = {"kind": block.kind, "title": block.title, "error": block.error}
        if block.error is None:
            if block.kind == "text":
                item["html"] = mark_safe(block.html)  # noqa: S308 (markdown.render escapes)
            if block.kpi is not None:
                kpi = block.kpi
                item["kpi"] = {"value": number_text(kpi.value, kpi.unit),
                               "change": change_text(kpi.change),
                               "direction": direction(kpi.change),
                               "previous": number_text(kpi.previous, kpi.unit),
                               "spark": src(f"spark-{i}")}
            if block.kind == "chart":
                item["image"] = src(f"chart-{i}")
            table = table_of(block) if block.kpi is None else None
            if table is not None:
                shown = table.rows[:EMAIL_ROWS]
                item["table"] = {
                    "columns": [c.name for c in table.columns],
                    "numeric": [c.type != "text" for c in table.columns],
                    "rows": [[cell_text(v, c.type, c.unit) for v, c in zip(row, table.columns,
                                                                      strict=False)]
                             for row in shown],
                    "more": (table.total - len(shown)) if table.total is not None
                    else None if len(table.rows) <= len(shown) else -1}
        out.append(item)
    return out


def email_context(rendered: Rendered, src, link: str) -> dict:
    previous = None
    if rendered.previous:
        a, b = (rendered.local(t) for t in rendered.previous)
        previous = f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}"
    return {"r": rendered, "range": rendered.range_text(), "previous": previous,
            "generated": f"{rendered.local(rendered.generated_at):%Y-%m-%d %H:%M} "
                         f"({rendered.tz})",
            "blocks": blocks_context(rendered, src), "link": link}


def preview_html(rendered: Rendered, images: dict[str, bytes]) -> str:
    def src(key):
        data = images.get(key)
        return f"data:image/png;base64,{base64.b64encode(data).decode()}" if data else None

    return render_to_string("reports/email.html", email_context(rendered, src, ""))


class ReportEmail(EmailMultiAlternatives):
    """An e-mail whose HTML part carries its images as related parts (``cid:`` URLs)."""

    def __init__(self, *args, related: dict[str, tuple[str, bytes]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.related = related or {}

    def message(self, **kwargs):
        msg = super().message(**kwargs)
        html = msg.get_body(("html",))
        for cid, (name, data) in self.related.items():
            html.add_related(data, "image", "png", cid=f"<{cid}>", filename=name,
                             disposition="inline")
        return msg


def build_message(rendered: Rendered, *, to: str, images: dict[str, bytes], link: str,
                  attachments: list[tuple[str, bytes, str]], message_id: str) -> ReportEmail:
    domain = message_id.rsplit("@", 1)[-1].rstrip(">")
    cids = {key: make_msgid(key, domain=domain)[1:-1] for key in images}

    def src(key):
        return f"cid:{cids[key]}" if key in cids else None

    context = email_context(rendered, src, link)
    message = ReportEmail(
        subject=f"{rendered.title} — {rendered.range_text()}"[:250],
        body=render_to_string("reports/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
        headers={"Message-ID": message_id},
        related={cids[key]: (f"{key}.png", data) for key, data in images.items()})
    message.attach_alternative(render_to_string("reports/email.html", context), "text/html")
    for name, content, content_type in attachments:
        message.attach(name, content, content_type.split(";")[0])
    return message
