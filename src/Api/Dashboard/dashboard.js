// The cluster dashboard: polls GET /v1/cluster/status and draws silo cards, totals, live charts
// (uPlot) and the recent errors. No framework; window.qwenDashboard exposes the state for tests.
(() => {
  "use strict";
  const statusUrl = new URL("../v1/cluster/status", location.href).toString();
  const params = new URLSearchParams(location.search);
  const intervalMs = Math.max(250, Number(params.get("interval")) || 1000);
  const maxPoints = 300;

  const series = { t: [], rps: [], eps: [], tps: [], conversations: [], queue: [] };
  // Latency per task: task -> { p50: [], p90: [] }, aligned with series.t (null before the task was first seen).
  // One line per task, because sentiment (~0.1 s) and chat (seconds) mixed into one percentile swing as the mix changes.
  const latency = {};
  const palette = ["#2b6cb0", "#1f9d55", "#c53030", "#6b46c1", "#d69e2e", "#319795", "#b83280", "#4a5568"];
  const state = { polls: 0, failures: 0, last: null, charts: {}, series, latency, latencyTasks: [] };
  window.qwenDashboard = state;

  const $ = (id) => document.getElementById(id);
  const fmt = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n)) ? "–" : Number(n).toFixed(digits).replace(/\.0+$/, "");
  const bytes = (n) => !n ? "–" : n >= 1 << 30 ? fmt(n / (1 << 30), 2) + " GiB" : fmt(n / (1 << 20), 0) + " MiB";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  // lines: [label, stroke, scale?]; a second scale gets its own axis on the right.
  function makeChart(id, lines, scales) {
    const target = $(id);
    const names = scales || ["y"];
    const opts = {
      width: Math.max(300, target.clientWidth - 8),
      height: 220,
      scales: Object.fromEntries([["x", { time: true }], ...names.map((s) => [s, { auto: true }])]),
      series: [{}, ...lines.map(([label, stroke, scale]) => ({ label, stroke, scale: scale || names[0], width: 2, points: { show: false } }))],
      axes: [{}, ...names.map((scale, i) => ({
        scale, size: 56, side: i === 0 ? 3 : 1, grid: { show: i === 0 },
        label: scales ? lines.filter(([, , s]) => (s || names[0]) === scale).map(([l]) => l).join(", ") : undefined,
      }))],
      legend: { live: false },
    };
    const empty = [[], ...lines.map(() => [])];
    return new uPlot(opts, empty, target);
  }

  function charts() {
    if (state.charts.throughput) return;
    // Tokens/s runs in the hundreds while requests/s is a few: each gets its own axis, so neither flattens the other.
    state.charts.throughput = makeChart("chart-throughput",
      [["requests/s", "#2b6cb0", "rps"], ["errors/s", "#c53030", "rps"], ["tokens/s", "#1f9d55", "tps"]], ["rps", "tps"]);
    state.charts.latency = makeChart("chart-latency", []);
    state.charts.conversations = makeChart("chart-conversations", [["active conversations", "#6b46c1"], ["queue", "#d69e2e"]]);
    window.addEventListener("resize", () => {
      for (const [name, chart] of Object.entries(state.charts)) {
        const target = $("chart-" + name);
        chart.setSize({ width: Math.max(300, target.clientWidth - 8), height: 220 });
      }
    });
  }

  // A task seen for the first time gets a p50 line (solid) and a p90 line (dashed) in its own colour.
  function addLatencyTask(task) {
    const chart = state.charts.latency;
    const stroke = palette[state.latencyTasks.length % palette.length];
    latency[task] = { p50: series.t.map(() => null), p90: series.t.map(() => null) };
    state.latencyTasks.push(task);
    chart.addSeries({ label: `${task} p50`, stroke, width: 2, points: { show: false } });
    chart.addSeries({ label: `${task} p90`, stroke, width: 1, dash: [6, 4], points: { show: false } });
  }

  function push(status) {
    const t = Date.parse(status.time) / 1000;
    const r = status.requests;
    const byTask = r.by_task || {};
    for (const task of Object.keys(byTask)) if (!latency[task]) addLatencyTask(task);
    const values = {
      t, rps: r.per_second, eps: r.errors_per_second, tps: status.cluster.tokens_per_second,
      conversations: status.cluster.active_conversations, queue: status.cluster.queue,
    };
    const trim = (a) => { if (a.length > maxPoints) a.shift(); };
    for (const [k, v] of Object.entries(values)) {
      series[k].push(v);
      trim(series[k]);
    }
    // A task without answered requests in the window has no percentile: a gap, not a drop to zero.
    for (const task of state.latencyTasks) {
      const answered = byTask[task] && byTask[task].count > byTask[task].errors;
      latency[task].p50.push(answered ? byTask[task].latency_ms.p50 : null);
      latency[task].p90.push(answered ? byTask[task].latency_ms.p90 : null);
      trim(latency[task].p50);
      trim(latency[task].p90);
    }
    state.charts.throughput.setData([series.t, series.rps, series.eps, series.tps]);
    state.charts.latency.setData([series.t, ...state.latencyTasks.flatMap((task) => [latency[task].p50, latency[task].p90])]);
    state.charts.conversations.setData([series.t, series.conversations, series.queue]);
    $("throughput-latest").textContent = `${fmt(values.rps, 2)} req/s · ${fmt(values.tps)} tok/s`;
    $("latency-latest").textContent = Object.entries(byTask).map(([task, v]) => `${task} p50 ${fmt(v.latency_ms.p50, 0)}`).join(" · ");
    $("conversations-latest").textContent = `${values.conversations} active · ${values.queue} queued`;
  }

  function totals(status) {
    $("mode").textContent = status.mode;
    $("total-silos").textContent = `${status.cluster.silos_active} / ${status.cluster.silos_total}`;
    $("total-rps").textContent = fmt(status.requests.per_second, 2);
    $("total-tps").textContent = fmt(status.cluster.tokens_per_second);
    $("total-conversations").textContent = status.cluster.active_conversations;
    $("total-queue").textContent = status.cluster.queue;
    $("total-eps").textContent = fmt(status.requests.errors_per_second, 2);
  }

  function silos(status) {
    const cards = status.silos.map((s) => {
      const state = s.status === "active" && !s.reachable ? "unreachable" : s.status;
      const kv = s.kv_budget > 0 ? `${fmt(100 * s.kv_reserved / s.kv_budget, 0)} % of ${s.kv_budget}` : "–";
      const rows = [
        ["Load (queued + running)", s.load], ["Model queue", s.queue], ["Running", s.running], ["Batch size", s.batch_size],
        ["Tokens/s", fmt(s.tokens_per_second)], ["Conversations", s.active_conversations], ["KV reserved", kv], ["KV in use", s.kv_in_use],
        ["Memory (RSS)", bytes(s.rss_bytes)], ["Tokens generated", s.generated_tokens],
      ];
      const list = el("dl", {});
      for (const [k, v] of rows) list.append(el("dt", {}, k), el("dd", { "data-field": k }, v));
      return el("article", { class: `silo ${state}`, "data-silo-id": s.id },
        el("h3", {}, s.id), el("div", { class: "status" }, state + (s.error && s.status !== "dead" ? ` · ${s.error}` : "")),
        el("div", { class: "muted" }, s.endpoint), list);
    });
    $("silos").replaceChildren(...cards);
  }

  function tasks(status) {
    const body = $("tasks").tBodies[0];
    const rows = Object.entries(status.requests.by_task).map(([task, t]) => el("tr", { "data-task": task },
      el("td", {}, task), el("td", { class: "num" }, t.count), el("td", { class: "num" }, fmt(t.per_second, 2)),
      el("td", { class: "num" }, t.errors), el("td", { class: "num" }, fmt(t.latency_ms.p50, 0)),
      el("td", { class: "num" }, fmt(t.latency_ms.p90, 0)), el("td", { class: "num" }, fmt(t.latency_ms.p99, 0))));
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 7 }, "no requests"))]));
  }

  function errors(status) {
    const body = $("errors").tBodies[0];
    const rows = status.recent_errors.map((e) => el("tr", { "data-status": e.status },
      el("td", {}, new Date(e.time).toLocaleTimeString()), el("td", { class: "status" }, e.status), el("td", {}, e.task),
      el("td", {}, `${e.method} ${e.path}`), el("td", {}, e.detail)));
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 5 }, "none"))]));
  }

  async function poll() {
    try {
      const response = await fetch(statusUrl, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const status = await response.json();
      charts();
      totals(status);
      silos(status);
      push(status);
      tasks(status);
      errors(status);
      state.last = status;
      state.polls++;
      $("updated").textContent = "updated " + new Date(status.time).toLocaleTimeString();
    } catch (e) {
      state.failures++;
      $("updated").textContent = "status unavailable: " + e.message;
    } finally {
      setTimeout(poll, intervalMs);
    }
  }

  poll();
})();
