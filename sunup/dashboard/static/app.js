// The sunup dashboard's page: everything it shows comes pushed on two event streams from the
// supervisor (/events, /logs); it never asks again by itself. The one timer here redraws the
// uptimes and backoff countdowns from the times already received.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const q = encodeURIComponent(token);
  const $ = (id) => document.getElementById(id);
  const HISTORY = 600;
  const MAX_LOG_LINES = 3000;
  const state = { instances: new Map(), samples: new Map(), groups: new Map(), services: [], received: 0 };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  function seconds(s) {
    if (s == null) return "";
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }
  const bytes = (b) => (b == null ? "" : (b / 1048576).toFixed(b < 10485760 ? 1 : 0) + " MB");
  const clock = (t) => (t == null ? "" : new Date(typeof t === "number" ? t * 1000 : t).toLocaleTimeString());

  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => (box.hidden = true), 6000);
  }

  async function command(name, args, button) {
    if (button) button.disabled = true;
    try {
      const reply = await fetch("/api/" + name, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Sunup-Token": token },
        body: JSON.stringify(args || {}),
      });
      const body = await reply.json();
      if (!body.ok) showError(body.error + (body.hint ? " (" + body.hint + ")" : ""));
    } catch (err) {
      showError(name + ": " + err);
    } finally {
      if (button) button.disabled = false;
    }
  }

  function buttons(args, names) {
    const cell = el("td", { class: "actions" });
    for (const name of names) {
      const button = el("button", { "data-command": name }, name);
      button.addEventListener("click", () => command(name, args, button));
      cell.append(button);
    }
    return cell;
  }

  // -- instances --------------------------------------------------------------------------

  function groupKey(i) {
    return i.app + "." + i.group;
  }

  function renderInstances() {
    const body = $("instances").tBodies[0];
    body.replaceChildren();
    const byGroup = new Map();
    for (const i of state.instances.values()) {
      if (!byGroup.has(groupKey(i))) byGroup.set(groupKey(i), []);
      byGroup.get(groupKey(i)).push(i);
    }
    const order = [...state.groups.keys()];
    const rank = (key) => (order.includes(key) ? order.indexOf(key) : order.length);
    const sorted = [...byGroup].sort((a, b) => rank(a[0]) - rank(b[0]));
    const select = $("log-instance");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "all" }, "all instances"));
    for (const [key, members] of sorted) {
      const meta = state.groups.get(key);
      const title = meta ? meta.name + (meta.group === "web" ? " (web)" : " (worker)") : key;
      const rels = meta && meta.relationships.length
        ? " → " + meta.relationships.map((r) => r.name + ": " + r.service).join(", ")
        : "";
      const row = el("tr", { class: "group", "data-group": key });
      row.append(el("td", { colSpan: 9 }, title, el("span", { class: "dim" }, rels)));
      row.append(buttons({ instances: members.map((m) => m.key) }, ["restart", "stop", "start"]));
      body.append(row);
      for (const i of members) {
        body.append(instanceRow(i));
        select.append(el("option", { value: i.key }, i.app + "/" + i.name));
      }
    }
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "all";
  }

  function instanceRow(i) {
    const row = el("tr", { "data-key": i.key });
    for (const field of ["name", "state", "pid", "restarts", "uptime", "last_exit", "cpu", "memory"]) {
      row.append(el("td", { "data-field": field, class: ["pid", "restarts", "cpu", "memory"].includes(field) ? "num" : "" }));
    }
    row.append(el("td", { "data-field": "chart" }));
    row.append(buttons({ instances: [i.key] }, ["restart", "stop", "start"]));
    fillRow(row, i);
    return row;
  }

  function fillRow(row, i) {
    const cell = (f) => row.querySelector(`[data-field="${f}"]`);
    cell("name").textContent = i.name;
    const st = cell("state");
    st.className = "state " + i.state;
    st.textContent = i.state;
    cell("pid").textContent = i.pid ?? "";
    cell("restarts").textContent = i.restarts;
    cell("last_exit").textContent = i.last_exit ? i.last_exit.description : "";
    cell("last_exit").title = i.last_exit ? "at " + clock(i.last_exit.at) : "";
    const last = lastSample(i.key);
    cell("cpu").textContent = last && last[1] != null ? last[1].toFixed(1) + " %" : "";
    cell("cpu").title = i.limits ? "limit " + i.limits.cpu + " CPU (" + i.limits.cpu * 100 + " %)" : "";
    const memory = last ? last[2] : i.memory;
    cell("memory").textContent = memory != null ? bytes(memory) + (i.limits ? " / " + i.limits.memory_mb + " MB" : "") : "";
    tickRow(row, i);
  }

  function tickRow(row, i) {
    const now = Date.now() / 1000;
    const up = row.querySelector('[data-field="uptime"]');
    up.textContent = i.uptime != null ? seconds(i.uptime + (now - i.received)) : "";
    if (i.state === "backoff" && i.next_retry != null) {
      row.querySelector('[data-field="state"]').textContent = "backoff, next try in " + seconds(i.next_retry - now + 0.999);
    }
  }

  function setInstance(i) {
    i.received = Date.now() / 1000;
    state.instances.set(i.key, i);
  }

  function updateInstance(i) {
    const known = state.instances.has(i.key);
    setInstance(i);
    const row = document.querySelector(`#instances tr[data-key="${CSS.escape(i.key)}"]`);
    if (!known || !row) renderInstances();
    else fillRow(row, i);
  }

  // -- charts -----------------------------------------------------------------------------

  function lastSample(key) {
    const list = state.samples.get(key);
    return list && list.length ? list[list.length - 1] : null;
  }

  function addSample(sample) {
    for (const [key, [cpu, mem]] of Object.entries(sample.v)) {
      if (!state.samples.has(key)) state.samples.set(key, []);
      const list = state.samples.get(key);
      list.push([sample.t, cpu, mem]);
      while (list.length && list[0][0] < sample.t - HISTORY) list.shift();
    }
  }

  function drawCharts() {
    const now = Date.now() / 1000;
    for (const [key, list] of state.samples) {
      const row = document.querySelector(`#instances tr[data-key="${CSS.escape(key)}"]`);
      const i = state.instances.get(key);
      if (!row || !i) continue;
      fillRow(row, i);
      const cpuMax = Math.max(100 * ((i.limits && i.limits.cpu) || 1), 1);
      const memMax = Math.max(((i.limits && i.limits.memory_mb) || 1) * 1048576, 1);
      // Over the last 10 minutes, or since the first sample when there are fewer.
      const span = Math.max(30, Math.min(HISTORY, now - (list.length ? list[0][0] : now)));
      const path = (index, max) =>
        list
          .filter((s) => s[index] != null)
          .map((s) => ((160 * (s[0] - now + span)) / span).toFixed(1) + "," + (23 - (22 * Math.min(s[index], max)) / max).toFixed(1))
          .join(" ");
      row.querySelector('[data-field="chart"]').innerHTML =
        `<svg class="chart" viewBox="0 0 160 24"><title>CPU (orange) and memory (blue) against their limits</title>` +
        `<polyline class="cpu" points="${path(1, cpuMax)}"/><polyline class="mem" points="${path(2, memMax)}"/></svg>`;
    }
  }

  // -- crons, services, deploys, events ---------------------------------------------------

  function renderCrons(crons) {
    const body = $("crons").tBodies[0];
    body.replaceChildren();
    for (const c of crons) {
      const last = c.running_since
        ? el("span", { class: "state starting" }, "running since " + clock(c.running_since))
        : c.last
          ? el("span", { class: c.last.status === 0 ? "ok" : "bad" },
              (c.last.cancelled ? "cancelled" : "exit " + c.last.status) + ", " + c.last.duration.toFixed(1) + " s at " + clock(c.last.started))
          : el("span", { class: "dim" }, c.queued ? "queued" : "never ran");
      const row = el("tr", { "data-cron": c.app + "." + c.name },
        el("td", {}, c.name), el("td", { class: "dim" }, c.spec), el("td", {}, clock(c.next_run)), el("td", {}, last));
      row.append(buttons({ app: c.app, name: c.name }, ["cron:run", "cron:cancel"]));
      body.append(row);
    }
    if (!crons.length) body.append(el("tr", {}, el("td", { colSpan: 5, class: "dim" }, "no crons")));
  }

  function renderServices(services) {
    const body = $("services").tBodies[0];
    body.replaceChildren();
    for (const s of services) {
      const users = [...state.groups.values()]
        .filter((g) => g.relationships.some((r) => r.service === s.service))
        .map((g) => g.name)
        .join(", ");
      const row = el("tr", { "data-service": s.service },
        el("td", {}, s.service), el("td", { class: "state " + s.state }, s.state), el("td", { class: "num" }, s.pid ?? ""),
        el("td", { "data-field": "uptime" }, seconds(s.uptime)), el("td", { class: "dim" }, users));
      s.received = Date.now() / 1000;
      row.append(buttons({ services: true, service: s.service }, ["restart"]));
      body.append(row);
    }
    if (!services.length) body.append(el("tr", {}, el("td", { colSpan: 6, class: "dim" }, "no services")));
  }

  function renderDeploys(deploys) {
    const list = $("deploys");
    const open = new Set([...list.querySelectorAll("details[open]")].map((d) => d.dataset.number));
    list.replaceChildren();
    for (const d of [...deploys].reverse()) {
      const outcome = d.outcome == null
        ? el("span", { class: "state starting" }, "running")
        : el("span", { class: d.outcome.ok ? "ok" : "bad" }, d.outcome.ok ? "succeeded" : "failed: " + d.outcome.error);
      const took = d.ended != null ? ", " + (d.ended - d.started).toFixed(1) + " s" : "";
      const details = el("details", { "data-number": String(d.number) },
        el("summary", {}, d.kind + " " + d.number + " at " + clock(d.started) + took + " — ", outcome),
        el("pre", {}, d.lines.join("\n")));
      details.dataset.number = String(d.number);
      if (open.has(String(d.number)) || d.outcome == null) details.open = true;
      list.append(el("li", {}, details));
    }
    if (!deploys.length) list.append(el("li", { class: "dim" }, "no deploy since this start"));
  }

  function renderNotes(notes) {
    $("notes").replaceChildren(...[...notes].reverse().map((n) =>
      el("li", {}, el("span", { class: "dim" }, clock(n.at) + " "), n.instance + ": " + n.text)));
  }

  // -- logs -------------------------------------------------------------------------------

  const logLines = [];
  let logStream = null;
  let partial = new Map();

  function matches(line) {
    const filter = $("log-filter").value.toLowerCase();
    return !filter || line.text.toLowerCase().includes(filter) || line.who.toLowerCase().includes(filter);
  }

  function lineNode(line) {
    const node = document.createDocumentFragment();
    if ($("log-instance").value === "all") node.append(el("span", { class: "who" }, line.who + " "));
    node.append(line.text + "\n");
    return node;
  }

  function renderLog() {
    const pre = $("log");
    pre.replaceChildren(...logLines.filter(matches).map(lineNode));
    if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
  }

  function addLog(who, text) {
    const pre = $("log");
    const fresh = [];
    const parts = ((partial.get(who) || "") + text).split("\n");
    partial.set(who, parts.pop());
    for (const part of parts) {
      const line = { who, text: part };
      logLines.push(line);
      if (matches(line)) fresh.push(lineNode(line));
    }
    if (logLines.length > MAX_LOG_LINES) {
      logLines.splice(0, logLines.length - MAX_LOG_LINES);
      renderLog();
      return;
    }
    pre.append(...fresh);
    if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
  }

  function followLogs() {
    if (logStream) logStream.close();
    logLines.length = 0;
    partial = new Map();
    renderLog();
    const instance = encodeURIComponent($("log-instance").value || "all");
    logStream = new EventSource(`/logs?token=${q}&instance=${instance}`);
    logStream.addEventListener("reset", () => {
      logLines.length = 0;
      partial = new Map();
      renderLog();
    });
    logStream.addEventListener("log", (e) => {
      const data = JSON.parse(e.data);
      addLog(data.i, data.text);
    });
  }

  $("log-instance").addEventListener("change", followLogs);
  $("log-filter").addEventListener("input", renderLog);

  // -- the event stream -------------------------------------------------------------------

  const events = new EventSource(`/events?token=${q}`);
  const on = (name, handler) => events.addEventListener(name, (e) => handler(JSON.parse(e.data)));
  events.addEventListener("open", () => {
    $("link").textContent = "live";
    $("link").className = "link up";
  });
  events.addEventListener("error", () => {
    $("link").textContent = "reconnecting";
    $("link").className = "link down";
  });
  on("meta", (meta) => {
    $("project").textContent = meta.project;
    state.groups = new Map(meta.groups.map((g) => [g.app + "." + g.group, g]));
    $("routes").replaceChildren(...meta.routes.map((url) => el("a", { href: url, target: "_blank", rel: "noopener" }, url)));
  });
  on("instances", (list) => {
    const first = state.received === 0;
    state.received += 1;
    state.instances.clear();
    list.forEach(setInstance);
    renderInstances();
    if (first) followLogs();
  });
  on("instance", updateInstance);
  on("services", (list) => {
    state.services = list;
    renderServices(list);
  });
  on("crons", renderCrons);
  on("deploys", renderDeploys);
  on("notes", renderNotes);
  on("sample", (sample) => {
    addSample(sample);
    drawCharts();
  });
  $("redeploy").addEventListener("click", (e) => command("redeploy", {}, e.currentTarget));

  setInterval(() => {
    for (const row of document.querySelectorAll("#instances tr[data-key]")) {
      const i = state.instances.get(row.dataset.key);
      if (i) tickRow(row, i);
    }
    const now = Date.now() / 1000;
    for (const s of state.services) {
      const cell = document.querySelector(`#services tr[data-service="${CSS.escape(s.service)}"] [data-field="uptime"]`);
      if (cell && s.uptime != null) cell.textContent = seconds(s.uptime + (now - s.received));
    }
  }, 1000);
})();
