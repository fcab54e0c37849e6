// shelfsight dashboard: polls /v1/dashboard/* and draws plain DOM + SVG. No framework, no CDN.
"use strict";

const POLL = { summary: 2000, stock: 4000, decisions: 2000, slow: 15000, products: 20000 };
const ZONES = ["floor", "backroom", "fitting", "exit", "pos"];
const state = { key: null, nodes: [], products: [], failures: 0, lastOk: null, lastStock: null };

const $ = (id) => document.getElementById(id);
const fmt = (x, d = 1) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const int = (x) => (x === null || x === undefined ? "–" : Math.round(x).toLocaleString("en"));
const money = (x) => (x === null || x === undefined ? "–" : Number(x).toFixed(2));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}, title = null) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (title !== null) {
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = title;
    node.append(t);
  }
  return node;
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${(seconds / 3600).toFixed(1)} h ago`;
}

function freshClass(seconds) {
  if (seconds === null || seconds === undefined) return "fresh-old";
  return seconds <= 30 ? "fresh-ok" : seconds <= 300 ? "fresh-idle" : "fresh-old";
}

function haversineKm(lat1, lon1, lat2, lon2) {
  const r = (d) => (d * Math.PI) / 180;
  const a = Math.sin(r(lat2 - lat1) / 2) ** 2 + Math.cos(r(lat1)) * Math.cos(r(lat2)) * Math.sin(r(lon2 - lon1) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
}

// --- key and fetching ---------------------------------------------------------------------
function loadKey() {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (m) {
    localStorage.setItem("shelfsight-key", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  state.key = localStorage.getItem("shelfsight-key");
  $("key-form").hidden = !!state.key;
}

function setStatus(kind, text) {
  const s = $("status");
  s.className = `pill pill-${kind}`;
  s.textContent = text;
}

async function api(path, options = {}) {
  const headers = Object.assign({ "X-API-Key": state.key || "" }, options.headers || {});
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (resp.status === 401 || resp.status === 403) {
    $("key-form").hidden = false;
    setStatus("bad", resp.status === 401 ? "API key refused" : "API key lacks the oms scope");
  }
  return { ok: resp.ok, status: resp.status, body };
}

function poller(name, path, render) {
  const tick = async () => {
    if (state.key) {
      try {
        const r = await api(path);
        if (r.ok) {
          render(r.body);
          state.failures = 0;
          state.lastOk = new Date();
          setStatus("ok", `live · ${state.lastOk.toLocaleTimeString()}`);
        }
      } catch (err) {
        state.failures += 1;
        setStatus(state.failures > 2 ? "bad" : "wait", "API not reachable");
      }
    }
    setTimeout(tick, POLL[name]);
  };
  tick();
}

// --- readers ------------------------------------------------------------------------------
function sparkline(series, max) {
  const w = 150, h = 26, n = series.length, bw = w / n;
  const s = svg("svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" },
    `${series.map((x) => fmt(x, 0)).join(", ")} reads/s`);
  series.forEach((v, i) => {
    const bh = max > 0 ? Math.max((v / max) * (h - 2), v > 0 ? 1 : 0) : 0;
    s.append(svg("rect", { x: (i * bw + 0.5).toFixed(1), y: (h - bh).toFixed(1), width: (bw - 1).toFixed(1), height: bh.toFixed(1) }));
  });
  return s;
}

function renderSummary(data) {
  const unnamed = state.nodes.length === 0;
  state.nodes = data.nodes;
  fillDestinations();
  // The stock panel may have arrived first, with shop ids only: give it the names now.
  if (unnamed && state.lastStock) renderStock(state.lastStock);
  $("kpi-reads").textContent = int(data.reads_per_s);
  const allocs = Object.values(data.allocations_today || {}).reduce((a, b) => a + b, 0);
  $("kpi-decisions").textContent = int(allocs);
  let sold = 0;
  for (const kinds of Object.values(data.events_5min || {})) sold += kinds.sold || 0;
  $("kpi-sold").textContent = int(sold);
  const healthy = data.readers.filter((r) => r.health === "ok").length;
  $("kpi-readers").textContent = `${healthy} / ${data.readers.length}`;
  $("footer-asof").textContent = `as of ${new Date(data.as_of).toLocaleTimeString()}`;

  const max = Math.max(1, ...data.readers.flatMap((r) => r.series));
  const body = $("readers").tBodies[0];
  body.replaceChildren();
  if (!data.readers.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "empty", text: "no readers configured yet" })));
  for (const r of data.readers) {
    const health = el("td", {}, el("span", { class: `dot h-${r.health}` }), r.health);
    if (r.up !== null && r.up !== undefined) health.title = `gateway: up=${r.up}`;
    body.append(el("tr", { "data-reader": `${r.store_id}/${r.reader_id}` },
      el("td", { text: r.store_id }), el("td", { text: r.reader_id }), el("td", { text: r.driver }),
      el("td", { class: "num reads-now", text: fmt(r.reads_per_s, 1) }),
      el("td", {}, sparkline(r.series, max)),
      el("td", { class: `num ${freshClass(r.last_read_age_s)}`, text: ago(r.last_read_age_s) }),
      health));
  }
}

// --- stock --------------------------------------------------------------------------------
function zoneClass(zone) { return ZONES.includes(zone) ? `z-${zone}` : "z-other"; }

function stackedBar(zones, total) {
  const w = 300, h = 16;
  const s = svg("svg", { width: "100%", height: h, viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img" });
  let x = 0;
  for (const z of zones) {
    const zw = total > 0 ? (z.units / total) * w : 0;
    s.append(svg("rect", { x: x.toFixed(2), y: 0, width: zw.toFixed(2), height: h, class: zoneClass(z.zone) }, `${z.zone}: ${z.units}`));
    x += zw;
  }
  return s;
}

function renderStock(data) {
  state.lastStock = data;
  const box = $("stock");
  box.replaceChildren();
  let present = 0;
  const names = Object.fromEntries(state.nodes.map((n) => [n.node_id, n.name]));
  const shopIds = new Set([...state.nodes.filter((n) => n.kind === "shop").map((n) => n.node_id), ...Object.keys(data.shops)]);
  for (const id of [...shopIds].sort()) {
    const shop = data.shops[id] || { zones: [], status: {} };
    const total = shop.zones.reduce((a, z) => a + z.units, 0);
    present += total;
    const card = el("div", { class: "shop", "data-shop": id });
    card.append(el("h3", {}, el("span", { text: names[id] ? `${names[id]} (${id})` : id }), el("span", { class: "total", text: `${int(total)} items` })));
    const st = shop.status || {};
    card.append(el("div", { class: "statusline", text: `missing ${int(st.missing || 0)} · sold ${int(st.sold || 0)} · picked ${int(st.picked || 0)}` }));
    card.append(stackedBar(shop.zones, total));
    const legend = el("div", { class: "legend" });
    for (const z of shop.zones) legend.append(el("span", {}, el("span", { class: `sw ${zoneClass(z.zone)}` }), `${z.zone} ${z.units}`));
    card.append(legend);
    const t = el("table", { class: "tbl" });
    t.append(el("thead", {}, el("tr", {}, ...["Zone", "Items", "GTINs", "Freshest", "Stalest", "Confidence"].map((h, i) => el("th", { class: i ? "num" : "", text: h })))));
    const tb = el("tbody");
    for (const z of shop.zones) {
      tb.append(el("tr", {},
        el("td", {}, el("span", { class: `sw ${zoneClass(z.zone)}` }), z.zone),
        el("td", { class: "num", text: int(z.units) }), el("td", { class: "num", text: int(z.gtins) }),
        el("td", { class: `num ${freshClass(z.newest_age_s)}`, text: ago(z.newest_age_s) }),
        el("td", { class: `num ${freshClass(z.oldest_age_s)}`, text: ago(z.oldest_age_s) }),
        el("td", { class: "num", text: z.mean_confidence === null ? "–" : `${Math.round(z.mean_confidence * 100)}%` })));
    }
    if (!shop.zones.length) tb.append(el("tr", {}, el("td", { colspan: 6, class: "empty", text: "no items on record yet" })));
    t.append(tb);
    card.append(t);
    box.append(card);
  }
  for (const w of data.warehouses) {
    box.append(el("div", { class: "shop", "data-shop": w.warehouse_id },
      el("h3", {}, el("span", { text: `${names[w.warehouse_id] || w.warehouse_id} (warehouse)` }), el("span", { class: "total", text: `${int(w.units)} units` })),
      el("div", { class: "statusline", text: `${int(w.gtins)} GTINs on hand · updated ${ago(w.updated_age_s)}` })));
  }
  $("kpi-present").textContent = int(present);
}

// --- decisions ----------------------------------------------------------------------------
function whyChips(why) {
  const chips = el("div", { class: "chips" });
  const ru = why.runner_up;
  if (ru) {
    const other = ru.nodes.length ? ru.nodes.join(", ") : "runner-up leaves lines unfilled";
    const dtext = ru.delta_saved >= 0 ? `Δ saved ${money(ru.delta_saved)}` : `Δ ${money(-ru.delta_saved)} higher, cheaper overall`;
    chips.append(el("span", { class: `chip ${ru.delta_saved > 0 ? "good" : ""}`, text: dtext, title: `opportunity cost Δ ${money(why.delta)} here vs ${money(ru.cost.opportunity)} for ${other}` }));
    chips.append(el("span", { class: "chip", text: `cost ${money(why.cost.total)} vs ${money(ru.cost.total)} (${other})` }));
  } else {
    chips.append(el("span", { class: "chip", text: `cost ${money(why.cost.total)} · Δ ${money(why.delta)}` }));
  }
  for (const c of why.chosen) {
    if (c.distance_km !== null) chips.append(el("span", { class: "chip", text: `${c.node_id} ${fmt(c.distance_km, 1)} km` }));
    if (c.capacity_left !== null) chips.append(el("span", { class: `chip ${c.capacity && c.capacity_left < c.capacity * 0.2 ? "warn" : ""}`, text: `capacity left ${int(c.capacity_left)}/${int(c.capacity)}` }));
  }
  return chips;
}

function productName(gtin) {
  const p = state.products.find((x) => x.gtin === gtin);
  return p ? `${p.name}${p.size ? " " + p.size : ""}` : gtin;
}

function renderDecisions(data) {
  const list = $("decisions");
  list.replaceChildren();
  if (!data.decisions.length) list.append(el("li", { class: "empty", text: "no allocations yet" }));
  for (const d of data.decisions) {
    const lines = d.lines.map((l) => `${l.qty}× ${productName(l.gtin)} → ${l.node_id}`).join(" · ");
    list.append(el("li", { class: "decision", "data-order": d.order_id },
      el("div", { class: "top" }, el("span", { class: "order", text: `order ${d.order_id}` }), el("span", { class: "age", text: `${d.status} · ${ago(d.age_s)}` })),
      el("div", { class: "reason", text: d.why.reason }),
      whyChips(d.why),
      el("div", { class: "lines", text: lines })));
  }
}

// --- slow movers --------------------------------------------------------------------------
function renderSlow(data) {
  const box = $("slow");
  box.replaceChildren();
  const shops = Object.keys(data.shops).sort();
  if (!shops.length) box.append(el("p", { class: "empty", text: "no shop stock yet" }));
  for (const id of shops) {
    box.append(el("h4", { text: id }));
    const t = el("table", { class: "tbl" });
    t.append(el("thead", {}, el("tr", {}, ...["Product", "Items", "Sales/day", "Cover (d)", "To markdown (d)", "Excess"].map((h, i) => el("th", { class: i ? "num" : "", text: h })))));
    const tb = el("tbody");
    for (const s of data.shops[id]) {
      tb.append(el("tr", {},
        el("td", { class: s.at_risk ? "risk" : "", text: `${s.name}${s.size ? " " + s.size : ""}`, title: s.gtin }),
        el("td", { class: "num", text: int(s.units) }), el("td", { class: "num", text: fmt(s.velocity_per_day, 2) }),
        el("td", { class: "num", text: fmt(s.days_of_cover, 0) }), el("td", { class: "num", text: fmt(s.days_to_markdown, 0) }),
        el("td", { class: "num", text: fmt(s.excess_units, 1) })));
    }
    t.append(tb);
    box.append(t);
  }
}

// --- order form ---------------------------------------------------------------------------
function renderProducts(data) {
  state.products = data.products;
  const sel = $("order-gtin");
  const current = sel.value;
  sel.replaceChildren();
  for (const p of data.products) {
    sel.append(el("option", { value: p.gtin, text: `${p.name}${p.size ? " " + p.size : ""} — shops ${p.shop_units}, warehouse ${p.warehouse_units}` }));
  }
  if (current) sel.value = current;
}

function fillDestinations() {
  const sel = $("order-dest");
  if (sel.options.length || !state.nodes.length) return;
  for (const n of state.nodes.filter((x) => x.kind === "shop" && x.lat !== null)) {
    sel.append(el("option", { value: `${n.lat + 0.012},${n.lon + 0.018}`, text: `a customer near ${n.name}` }));
  }
  sel.append(el("option", { value: "custom", text: "custom coordinates" }));
  sel.dispatchEvent(new Event("change"));
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `k-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function explainLocal(body, lat, lon) {
  const nodes = Object.fromEntries(state.nodes.map((n) => [n.node_id, n]));
  const chosen = [...new Set(body.lines.map((l) => l.node_id))];
  const parts = chosen.map((id) => {
    const n = nodes[id];
    const km = n && n.lat !== null ? `${haversineKm(n.lat, n.lon, lat, lon).toFixed(1)} km` : "";
    const cap = n ? `capacity left ${Math.max(n.pick_capacity - n.picks_today, 0)}/${n.pick_capacity}` : "";
    return `${id} (${[km, cap].filter(Boolean).join(", ")})`;
  });
  const alts = body.alternatives || [];
  const best = alts.length ? alts.reduce((a, b) => (a.cost.total <= b.cost.total ? a : b)) : null;
  const vs = best ? ` — runner-up ${best.nodes.join(", ")} costs ${money(best.cost.total)}; Δ saved ${money(best.cost.opportunity - body.cost.opportunity)}` : "";
  return `${parts.join(" + ")}: cost ${money(body.cost.total)} (Δ ${money(body.cost.opportunity)})${vs}`;
}

async function submitOrder(ev) {
  ev.preventDefault();
  const btn = $("order-submit");
  const out = $("order-result");
  const lat = parseFloat($("order-lat").value), lon = parseFloat($("order-lon").value);
  const order = {
    order_id: `web-${Date.now().toString(36)}`,
    lines: [{ gtin: $("order-gtin").value, qty: parseInt($("order-qty").value, 10) }],
    ship_lat: lat, ship_lon: lon, service_level: "standard",
  };
  const dry = $("order-dry").checked;
  btn.disabled = true;
  try {
    const r = await api(`/v1/allocations${dry ? "?dry_run=true" : ""}`, {
      method: "POST", body: JSON.stringify(order),
      headers: { "Content-Type": "application/json", "Idempotency-Key": newKey() },
    });
    out.replaceChildren();
    if (r.ok) {
      const b = r.body;
      out.append(el("div", { class: "ok", id: "order-decision" },
        el("strong", { text: `${b.status === "dry_run" ? "Dry run" : "Reserved"} · order ${b.order_id}` }), el("br"),
        explainLocal(b, lat, lon)));
    } else {
      const detail = typeof r.body === "object" ? `${r.body.title || r.status}: ${r.body.detail || ""}` : `${r.status}`;
      out.append(el("div", { class: "err", id: "order-error", text: detail }));
    }
  } catch (err) {
    out.replaceChildren(el("div", { class: "err", id: "order-error", text: `request failed: ${err}` }));
  } finally {
    btn.disabled = false;
  }
}

function init() {
  loadKey();
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("key-input").value.trim();
    if (v) { localStorage.setItem("shelfsight-key", v); state.key = v; $("key-form").hidden = true; setStatus("wait", "connecting…"); }
  });
  $("order-dest").addEventListener("change", () => {
    const v = $("order-dest").value;
    const custom = v === "custom";
    if (!custom && v) {
      const [lat, lon] = v.split(",");
      $("order-lat").value = Number(lat).toFixed(4);
      $("order-lon").value = Number(lon).toFixed(4);
    }
    $("order-lat").readOnly = !custom;
    $("order-lon").readOnly = !custom;
  });
  $("order-form").addEventListener("submit", submitOrder);
  if (!state.key) setStatus("wait", "enter an API key");
  poller("summary", "/v1/dashboard/summary", renderSummary);
  poller("products", "/v1/dashboard/products", renderProducts);
  poller("stock", "/v1/dashboard/stock", renderStock);
  poller("decisions", "/v1/dashboard/decisions?limit=20", renderDecisions);
  poller("slow", "/v1/dashboard/slow-movers", renderSlow);
}

document.addEventListener("DOMContentLoaded", init);
