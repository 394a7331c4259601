/* Analytics tracker. <script src="https://HOST/static/sdk/tracker.js" data-key="pk_..." defer>
   Page views on load and SPA navigation; tracker.event(name, props), tracker.identify(id, traits),
   tracker.reset(). Batches every 2 s or 10 events, sendBeacon when the page hides, 3 tries with
   backoff on network errors, 5xx and 429 (honouring Retry-After). No cookies. */
(function (w, d) {
  var s = d.currentScript, key = s && s.getAttribute("data-key");
  if (!key || w.tracker) return;
  var api = (s.getAttribute("data-api") || new URL(s.src).origin) + "/api/v1/events/batch";
  var ls = w.localStorage, ss = w.sessionStorage, q = [], timer, last;

  function id() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = c.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    h = h.join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }
  function get(store, k) { try { return store.getItem("_ta_" + k); } catch (e) { return null; } }
  function set(store, k, v) { try { store.setItem("_ta_" + k, v); } catch (e) { /* private mode */ } }
  function anon() { var a = get(ls, "anon"); if (!a) set(ls, "anon", a = id()); return a; }
  function distinct() { return get(ls, "user") || anon(); }
  function session() {
    // A session ends after 30 minutes without events.
    var now = Date.now(), sid = get(ss, "sid"), seen = +get(ss, "seen") || 0;
    if (!sid || now - seen > 18e5) set(ss, "sid", sid = id());
    set(ss, "seen", now);
    return sid;
  }

  function send(batch, tries) {
    var body = JSON.stringify({ events: batch, sent_at: new Date().toISOString() });
    fetch(api, { method: "POST", body: body, keepalive: body.length < 6e4,
      headers: { "Content-Type": "application/json", "X-API-Key": key } })
      .then(function (r) {
        if (r.status == 429 || r.status >= 500) retry(batch, tries, +r.headers.get("Retry-After"));
      }, function () { retry(batch, tries, 0); });
  }
  function retry(batch, tries, after) {
    if (tries < 2) setTimeout(function () { send(batch, tries + 1); },
      after ? after * 1e3 : 500 * Math.pow(2, tries));
  }
  function flush(beacon) {
    clearTimeout(timer); timer = 0;
    if (!q.length) return;
    var batch = q.splice(0, q.length);
    if (beacon && navigator.sendBeacon) {
      var data = JSON.stringify({ api_key: key, events: batch, sent_at: new Date().toISOString() });
      if (navigator.sendBeacon(api, new Blob([data], { type: "text/plain" }))) return;
    }
    send(batch, 0);
  }
  function event(name, props) {
    q.push({ event: String(name), uuid: id(), distinct_id: distinct(), session_id: session(),
      timestamp: new Date().toISOString(), page_url: location.href,
      referrer: d.referrer || null, properties: props || {} });
    if (q.length >= 10) flush();
    else if (!timer) timer = setTimeout(flush, 2e3);
  }
  function page() {
    if (last == location.href) return;
    last = location.href;
    event("page_view", { title: d.title });
  }

  w.tracker = {
    event: event,
    identify: function (user, traits) {
      user = String(user);
      if (user == get(ls, "user")) return;
      var props = { $anon_distinct_id: anon() };
      for (var k in traits || {}) props[k] = traits[k];
      set(ls, "user", user);
      event("$identify", props);
    },
    reset: function () {
      flush();
      try { ls.removeItem("_ta_user"); ls.removeItem("_ta_anon"); ss.removeItem("_ta_sid"); }
      catch (e) { /* storage blocked */ }
    },
    flush: flush
  };

  ["pushState", "replaceState"].forEach(function (m) {
    var orig = history[m];
    history[m] = function () { var r = orig.apply(this, arguments); page(); return r; };
  });
  w.addEventListener("popstate", page);
  d.addEventListener("visibilitychange", function () { if (d.hidden) flush(true); });
  w.addEventListener("pagehide", function () { flush(true); });
  page();
})(window, document);
