"""Product-analytics SDK payloads mapped onto the platform's own event items, so that an app
already sending to PostHog or Segment can point its SDK here unchanged.

PostHog (``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``): events carry ``event``,
``distinct_id`` (or ``properties.distinct_id``), ``properties`` (``$current_url``,
``$referrer``, ``$session_id`` are lifted into the item's fields), ``timestamp`` and ``uuid``;
the project key is ``api_key`` / ``token`` (body or ``properties.token``). ``$pageview`` and
``$identify`` (with ``$anon_distinct_id``) mean what they mean to the reports; ``$create_alias``
(``alias()``) links the alias to the person like an identify.

Segment (``/v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``, ``/v1/screen``,
``/v1/alias``): ``track`` → its event; ``page`` → ``$pageview`` (``context.page`` or
``properties`` give the URL and referrer); ``screen`` → ``$screen``; ``identify`` and ``alias``
→ ``$identify`` linking ``anonymousId`` / ``previousId`` to ``userId`` (traits kept as
``$set``); ``messageId`` is the event's uuid when it is one (else derived from it, so retries
stay deduplicated); the write key comes in Basic auth or ``writeKey``.
"""

from __future__ import annotations

import uuid

from ...validation import ItemError

POSTHOG_LIFTED = {"$current_url": "page_url", "$referrer": "referrer",
                  "$session_id": "session_id"}
NAMESPACE = uuid.UUID("7d4c1f5e-2b1a-4c7e-9a57-5be1c3a0f6d2")


class PayloadError(ValueError):
    pass


def _uuid_of(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(uuid.uuid5(NAMESPACE, str(value)[:500]))  # stable: retries dedupe


# -- PostHog --------------------------------------------------------------------------------------
def posthog_events(payload) -> tuple[list, str | None, str | None]:
    """(events, api key, sent_at) out of any of the shapes PostHog's SDKs send."""
    if isinstance(payload, list):
        raw, key, sent_at = payload, None, None
    elif isinstance(payload, dict):
        key = payload.get("api_key") or payload.get("token")
        sent_at = payload.get("sent_at")
        if "batch" in payload:
            raw = payload["batch"]
        elif "event" in payload:
            raw = [payload]
        else:
            raise PayloadError("Expected a batch (batch: [...]) or an event (event: ...).")
    else:
        raise PayloadError("Expected a JSON object or a list of events.")
    if not isinstance(raw, list):
        raise PayloadError("batch: must be a list of events.")
    items = []
    for event in raw:
        if not isinstance(event, dict):
            items.append(event)  # rejected by the validation, by its position
            continue
        properties = dict(event.get("properties") or {}) \
            if isinstance(event.get("properties"), dict) else event.get("properties")
        if isinstance(properties, dict):
            key = key or properties.pop("token", None) or event.get("api_key")
            properties.pop("token", None)
        item = {"event": event.get("event"), "uuid": _uuid_of(event.get("uuid")),
                "distinct_id": event.get("distinct_id")
                or (properties.get("distinct_id") if isinstance(properties, dict) else None),
                "properties": properties, "timestamp": event.get("timestamp")}
        if item["event"] == "$create_alias" and isinstance(properties, dict) \
                and properties.get("alias") and properties.get("distinct_id"):
            # alias(previous_id, distinct_id): the alias joins previous_id's person.
            item.update(event="$identify", distinct_id=properties["distinct_id"])
            properties["$anon_distinct_id"] = properties["alias"]
        if isinstance(properties, dict):
            for source, target in POSTHOG_LIFTED.items():
                if isinstance(properties.get(source), str):
                    item[target] = properties[source]
        items.append({k: v for k, v in item.items() if v is not None})
    return items, key, sent_at


# -- Segment --------------------------------------------------------------------------------------
SEGMENT_TYPES = ("track", "page", "screen", "identify", "alias", "group")


def segment_event(message, kind: str | None = None) -> dict | ItemError | None:
    """One Segment message as an event item (``group`` has no event meaning here: None; a
    message of no known type: the ItemError that rejects it, on its own, by its position)."""
    if not isinstance(message, dict):
        return message
    kind = kind or message.get("type")
    if not isinstance(kind, str) or kind not in SEGMENT_TYPES:
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
        return ItemError("INVALID_ITEM", f"type: one of {', '.join(SEGMENT_TYPES)}; "
                                         f"got {shown!r}.")
    if kind == "group":
        return None
    user = message.get("userId") or message.get("anonymousId")
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    properties = message.get("properties") if isinstance(message.get("properties"), dict) \
        else {}
    item = {"uuid": _uuid_of(message.get("messageId")), "distinct_id": user,
            "timestamp": message.get("timestamp") or message.get("originalTimestamp"),
            "properties": dict(properties)}
    if kind == "track":
        item["event"] = message.get("event")
    elif kind == "page":
        item["event"] = "$pageview"
        if message.get("name"):
            item["properties"]["name"] = message["name"]
        item["page_url"] = properties.get("url") or page.get("url")
        item["referrer"] = properties.get("referrer") or page.get("referrer")
    elif kind == "screen":
        item["event"] = "$screen"
        if message.get("name"):
            item["properties"]["$screen_name"] = message["name"]
    elif kind == "identify":
        item["event"] = "$identify"
        item["distinct_id"] = message.get("userId") or message.get("anonymousId")
        if message.get("userId") and message.get("anonymousId"):
            item["properties"]["$anon_distinct_id"] = message["anonymousId"]
        if isinstance(message.get("traits"), dict):
            item["properties"]["$set"] = message["traits"]
    elif kind == "alias":
        item["event"] = "$identify"
        item["distinct_id"] = message.get("userId")
        if message.get("previousId"):
            item["properties"]["$anon_distinct_id"] = message["previousId"]
    if isinstance(context.get("userAgent"), str):
        item["properties"].setdefault("$user_agent", context["userAgent"])
    return {k: v for k, v in item.items() if v is not None}


def segment_events(payload, kind: str | None = None) -> tuple[list, str | None, str | None]:
    """(events, write key, sentAt) of a /v1/batch body or of one /v1/<type> message."""
    if not isinstance(payload, dict):
        raise PayloadError("Expected a JSON object.")
    messages = payload.get("batch") if kind is None else [payload]
    if not isinstance(messages, list):
        raise PayloadError("batch: must be a list of messages.")
    items = [e for e in (segment_event(m, kind) for m in messages) if e is not None]
    return items, payload.get("writeKey"), payload.get("sentAt")


# -- Plausible ------------------------------------------------------------------------------------
def plausible_event(payload, visitor: str) -> tuple[dict, str]:
    """(the event item, the site's domain) of a Plausible ``/api/event`` body: ``name`` /
    ``n`` (``pageview`` is a page view), ``url`` / ``u``, ``domain`` / ``d`` (the first of a
    comma-separated list), ``referrer`` / ``r``, ``props`` / ``p`` (an object or its JSON) and
    ``revenue``. ``visitor`` is the cookieless visitor id the caller derived."""
    if not isinstance(payload, dict):
        raise PayloadError("Expected a JSON object.")
    name = payload.get("name") or payload.get("n")
    url = payload.get("url") or payload.get("u")
    domain = payload.get("domain") or payload.get("d")
    if not isinstance(name, str) or not name:
        raise PayloadError("name: required.")
    if not isinstance(url, str) or not url:
        raise PayloadError("url: required.")
    if not isinstance(domain, str) or not domain:
        raise PayloadError("domain: required.")
    if "\x00" in domain:
        raise PayloadError("domain: may not contain the NUL character.")
    props = payload.get("props", payload.get("p")) or {}
    if isinstance(props, str):
        try:
            import orjson

            props = orjson.loads(props)
        except ValueError:
            raise PayloadError("props: not JSON.") from None
    if not isinstance(props, dict):
        raise PayloadError("props: must be an object.")
    if isinstance(payload.get("revenue"), dict):
        props = {**props, "revenue": payload["revenue"]}
    item = {"event": "$pageview" if name == "pageview" else name, "distinct_id": visitor,
            "page_url": url, "properties": props}
    referrer = payload.get("referrer") or payload.get("r")
    if isinstance(referrer, str) and referrer:
        item["referrer"] = referrer
    return item, domain.split(",")[0].strip().lower()
