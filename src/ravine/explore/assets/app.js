// ravine explore: the page only draws. Every number comes from the server, which runs
// ravine.surfaces.descend; the settings live in the URL's hash, so a link restores them.
"use strict";

const $ = (id) => document.getElementById(id);
// last: the answer drawn, with the settings that produced it; stale: the controls' settings
// were refused since, so what is drawn is that last valid run; note: what a link could not
// restore, shown until the next change; contours: each surface's grid, by name.
const explorer = { options: null, presets: {}, state: null, last: null, pins: [], contours: {},
                   busy: false, pending: false, generation: 0, stale: false, note: "" };
window.explorer = explorer; // read by the browser tests

const PARAMETER_KEYS = ["lambda", "mu", "beta1", "beta2", "alpha"];

async function getJSON(url, init) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function showNote(message) {
  const box = $("note");
  box.textContent = message || "";
  box.hidden = !message;
}

// A number typed or linked: null for an empty box or text that is not a finite number
// (Number("") would be 0).
function readNumber(text) {
  const trimmed = String(text ?? "").trim();
  if (trimmed === "") return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

// A number as the page writes it: 1000, 0.01, 1e-7 (never 1e+3 or 0.30000000000000004).
const format = (v) => (v === null || v === undefined ? "—" : typeof v === "number" ? Number(v.toPrecision(6)).toString() : String(v));
const short = (v) => Number(v.toPrecision(3)).toString();
const symbol = (key) => explorer.options.parameters[key].symbol;

// --- state <-> URL ----------------------------------------------------------------------

function defaults() {
  const parameters = {};
  for (const key of PARAMETER_KEYS) parameters[key] = explorer.options.parameters[key].default;
  return { surface: "valley", optimizer: "gd", direction: "gradient", magnitude: "one",
           parameters, lr: 0.01, schedule: "", steps: 2000, start: null,
           tolerance: explorer.options.tolerance };
}

function toHash(state) {
  const q = new URLSearchParams();
  q.set("surface", state.surface);
  q.set("optimizer", state.optimizer);
  q.set("m", state.direction);
  q.set("sigma", state.magnitude);
  for (const key of PARAMETER_KEYS) q.set(key, String(state.parameters[key]));
  q.set("lr", String(state.lr));
  q.set("schedule", state.schedule);
  q.set("steps", String(state.steps));
  if (state.start) q.set("start", state.start.map(String).join(","));
  q.set("tolerance", String(state.tolerance));
  return "#" + q.toString();
}

// The settings a link names; what it names wrongly keeps its default, and explorer.note says
// so in the controls' names, with the link's text.
function fromHash(hash) {
  const q = new URLSearchParams(hash.replace(/^#/, ""));
  const problems = [];
  const state = defaults();
  if (q.has("preset")) {
    const name = q.get("preset");
    if (explorer.presets[name]) return presetState(name);
    problems.push(`no preset '${name}'; valid: ${Object.keys(explorer.presets).join(", ")}; the defaults are shown`);
  }
  explorer.note = problems.join("; ");
  if (!q.has("surface")) return state;
  const number = (key, name, fallback, domain = "a number", ok = () => true) => {
    if (!q.has(key)) return fallback;
    const value = readNumber(q.get(key));
    if (value !== null && ok(value)) return value;
    problems.push(`${name} must be ${domain}, got '${q.get(key)}'; ${name} = ${format(fallback)} is used`);
    return fallback;
  };
  if (explorer.options.surfaces[q.get("surface")]) state.surface = q.get("surface");
  else problems.push(`surface must be one of ${Object.keys(explorer.options.surfaces).join(", ")}, got '${q.get("surface")}'; ${state.surface} is used`);
  state.optimizer = q.get("optimizer") || "";
  const named = explorer.options.named[state.optimizer]; // a hand-written link may name only it
  state.direction = q.get("m") || (named ? named.direction : state.direction);
  state.magnitude = q.get("sigma") || (named ? named.magnitude : state.magnitude);
  for (const key of PARAMETER_KEYS) state.parameters[key] = number(key, symbol(key), state.parameters[key]);
  state.lr = number("lr", "η", state.lr, "a number > 0", (v) => v > 0);
  state.schedule = q.get("schedule") || "";
  state.steps = number("steps", "N", state.steps, "a whole number ≥ 1", (v) => Number.isInteger(v) && v >= 1);
  state.start = q.has("start") ? q.get("start").split(",").map(readNumber) : null;
  if (state.start && (state.start.length !== 2 || state.start.includes(null))) {
    problems.push(`start θ⁰ must be two numbers θ1,θ2, got '${q.get("start")}'; the surface's start is used`);
    state.start = null;
  }
  state.tolerance = number("tolerance", "within", state.tolerance, "a number in (0, 1]", (v) => v > 0 && v <= 1);
  explorer.note = problems.join("; ");
  return state;
}

function presetState(name) {
  const preset = explorer.presets[name];
  const named = explorer.options.named[preset.optimizer];
  return { ...defaults(), surface: preset.surface, optimizer: preset.optimizer,
           direction: named.direction, magnitude: named.magnitude,
           parameters: { ...preset.parameters }, lr: preset.lr, schedule: preset.schedule || "",
           steps: preset.steps, start: preset.start || null };
}

function request(state) {
  const body = { surface: state.surface, lr: state.lr, steps: state.steps,
                 schedule: state.schedule, start: state.start, tolerance: state.tolerance,
                 parameters: state.parameters };
  if (state.optimizer) body.optimizer = state.optimizer;
  else { body.direction = state.direction; body.magnitude = state.magnitude; }
  return body;
}

// --- controls ---------------------------------------------------------------------------

function fill(select, entries) {
  for (const [value, label] of entries) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    select.appendChild(option);
  }
}

function buildControls() {
  const o = explorer.options;
  fill($("surface"), Object.keys(o.surfaces).map((k) => [k, k]));
  fill($("optimizer"), Object.keys(o.named).map((k) => [k, k]));
  fill($("direction"), Object.entries(o.directions).map(([k, v]) => [k, v.label]));
  fill($("magnitude"), Object.entries(o.magnitudes).map(([k, v]) => [k, v.label]));
  fill($("schedule-name"), Object.entries(o.schedules).map(([k, v]) => [v, k]));
  fill($("preset"), Object.entries(explorer.presets).map(([k, v]) => [k, `${k}: ${v.title}`]));
  const box = $("parameters");
  for (const key of PARAMETER_KEYS) {
    const label = document.createElement("label");
    label.dataset.key = key;
    label.textContent = o.parameters[key].label + " ";
    const input = document.createElement("input");
    Object.assign(input, { type: "number", step: "any", id: `parameter-${key}` });
    input.addEventListener("change", () => {
      const value = readNumber(input.value);
      if (value === null) return refuse(`${o.parameters[key].symbol} needs a number`);
      explorer.state.parameters[key] = value;
      changed();
    });
    label.appendChild(input);
    box.appendChild(label);
  }
  $("lr").max = String(o.lr_grid.length - 1);
  $("steps").max = String(o.max_steps);
  wire();
}

function wire() {
  const s = () => explorer.state;
  $("surface").addEventListener("change", (e) => { s().surface = e.target.value; s().start = null; changed(); });
  $("optimizer").addEventListener("change", (e) => {
    const name = e.target.value;
    s().optimizer = name;
    if (name) {
      const named = explorer.options.named[name];
      Object.assign(s(), { direction: named.direction, magnitude: named.magnitude, lr: named.lr });
    }
    changed();
  });
  for (const id of ["direction", "magnitude"]) {
    $(id).addEventListener("change", (e) => { s()[id] = e.target.value; s().optimizer = ""; changed(); });
  }
  $("lr").addEventListener("input", (e) => { s().lr = explorer.options.lr_grid[Number(e.target.value)]; changed(); });
  $("schedule-name").addEventListener("change", (e) => { s().schedule = e.target.value; changed(); });
  $("schedule").addEventListener("change", (e) => { s().schedule = e.target.value.trim(); changed(); });
  $("steps").addEventListener("change", (e) => {
    const steps = readNumber(e.target.value);
    if (steps === null || !Number.isInteger(steps)) return refuse("N needs a whole number of steps");
    s().steps = steps;
    changed();
  });
  $("tolerance").addEventListener("change", (e) => {
    const tolerance = readNumber(e.target.value);
    if (tolerance === null) return refuse("within needs a number in (0, 1]");
    s().tolerance = tolerance;
    changed();
  });
  $("reset-start").addEventListener("click", () => { s().start = null; changed(); });
  $("preset").addEventListener("change", (e) => {
    if (e.target.value) { explorer.state = presetState(e.target.value); changed(); }
  });
  $("pin").addEventListener("click", pin);
  $("unpin").addEventListener("click", () => { explorer.pins = []; drawMap(); });
  $("copy").addEventListener("click", copyLink);
  $("png").addEventListener("click", () =>
    Plotly.downloadImage($("map"), { format: "png", filename: "ravine-explore", width: 1200, height: 700 }));
  $("json").addEventListener("click", () => download("json"));
  $("csv").addEventListener("click", () => download("csv"));
  window.addEventListener("hashchange", () => {
    if (location.hash !== toHash(explorer.state)) { explorer.state = fromHash(location.hash); changed(); }
  });
}

// A schedule spec "name:key=value,key=value" as its name and [key, value] pairs; a value may
// be a list "[1000,2000]", whose commas do not separate parameters.
function specParts(spec) {
  const colon = spec.indexOf(":");
  if (colon < 0) return { name: spec, pairs: [] };
  const pairs = [];
  let depth = 0, item = "";
  for (const c of spec.slice(colon + 1) + ",") {
    if (c === "," && depth === 0) {
      const equals = item.indexOf("=");
      if (equals < 0) return null; // not key=value: the spec box alone edits it
      pairs.push([item.slice(0, equals).trim(), item.slice(equals + 1).trim()]);
      item = "";
      continue;
    }
    if (c === "[") depth++;
    if (c === "]") depth--;
    item += c;
  }
  return { name: spec.slice(0, colon).trim(), pairs };
}

// One box per parameter of the current schedule; editing one rewrites the spec.
function showScheduleParameters(spec) {
  const box = $("schedule-parameters");
  const parts = spec ? specParts(spec) : null;
  const pairs = parts ? parts.pairs : [];
  const shown = [...box.querySelectorAll("input")].map((input) => input.dataset.key);
  if (shown.join() === pairs.map(([key]) => key).join()) {
    for (const [key, value] of pairs) box.querySelector(`[data-key="${key}"]`).value = value;
    return;
  }
  box.replaceChildren();
  for (const [key, value] of pairs) {
    const label = document.createElement("label");
    label.textContent = key + " ";
    const input = document.createElement("input");
    Object.assign(input, { type: "text", value, spellcheck: false });
    input.dataset.key = key;
    input.addEventListener("change", () => {
      const current = specParts(explorer.state.schedule);
      if (!current) return;
      const edited = current.pairs.map(([k, v]) => [k, k === key ? input.value.trim() : v]);
      explorer.state.schedule = `${current.name}:${edited.map(([k, v]) => `${k}=${v}`).join(",")}`;
      changed();
    });
    label.appendChild(input);
    box.appendChild(label);
  }
}

function nearestIndex(grid, value) {
  let best = 0;
  for (let i = 1; i < grid.length; i++) {
    if (Math.abs(Math.log(grid[i] / value)) < Math.abs(Math.log(grid[best] / value))) best = i;
  }
  return best;
}

function showState() {
  const s = explorer.state, o = explorer.options;
  $("surface").value = s.surface;
  $("surface-description").textContent = o.surfaces[s.surface] ? o.surfaces[s.surface].description : "";
  $("optimizer").value = s.optimizer;
  $("direction").value = s.direction;
  $("magnitude").value = s.magnitude;
  const read = new Set([...(o.directions[s.direction] || { reads: [] }).reads,
                        ...(o.magnitudes[s.magnitude] || { reads: [] }).reads]);
  for (const key of PARAMETER_KEYS) {
    document.querySelector(`#parameters [data-key="${key}"]`).hidden = !read.has(key);
    $(`parameter-${key}`).value = String(s.parameters[key]);
  }
  $("lr").value = String(nearestIndex(o.lr_grid, s.lr));
  $("lr-value").textContent = short(s.lr);
  $("schedule").value = s.schedule;
  showScheduleParameters(s.schedule);
  const named = specParts(s.schedule) || { name: "" };
  $("schedule-name").value = Object.values(o.schedules).includes(s.schedule) ? s.schedule
    : (o.schedules[named.name] || "");
  $("steps").value = String(s.steps);
  $("tolerance").value = String(s.tolerance);
  $("link").value = location.origin + location.pathname + toHash(s);
  $("preset").value = matchingPreset(s);
}

// The preset whose settings these are, or "" once a control has moved away from it.
function matchingPreset(state) {
  const hash = toHash(state);
  return Object.keys(explorer.presets).find((name) => toHash(presetState(name)) === hash) || "";
}

// --- runs -------------------------------------------------------------------------------

function changed() {
  showNote(explorer.note);
  explorer.note = "";
  history.replaceState(null, "", toHash(explorer.state));
  showState();
  compute();
}

async function compute() {
  // One request in flight; changes made meanwhile are sent once it is answered (the latest).
  if (explorer.busy) { explorer.pending = true; return; }
  explorer.busy = true;
  const state = JSON.parse(JSON.stringify(explorer.state));
  const generation = ++explorer.generation;
  $("status").textContent = "computing…";
  try {
    if (!explorer.contours[state.surface]) {
      explorer.contours[state.surface] = await getJSON(`/api/surfaces?name=${encodeURIComponent(state.surface)}`);
    }
    const started = performance.now();
    const answer = await getJSON("/api/run", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request(state)) });
    explorer.last = answer;
    explorer.stale = false;
    showError("");
    draw();
    const ms = Math.round(performance.now() - started);
    $("status").textContent = `answered in ${ms} ms${answer.cached ? " (from memory)" : ""}`;
    document.body.dataset.generation = String(generation);
    document.body.dataset.state = "ready";
  } catch (error) {
    refuse(error.message);
    document.body.dataset.generation = String(generation);
    document.body.dataset.state = "error";
  } finally {
    explorer.busy = false;
    if (explorer.pending) { explorer.pending = false; compute(); }
  }
}

// A refused setting (by the server or by the page, before any request): the message, and
// what is drawn is marked as the last valid run; its labels stay those of its own settings.
function refuse(message) {
  showError(message);
  explorer.stale = true;
  markStale();
}

function markStale() {
  for (const id of ["numbers", "curves", "sigma"]) $(id).classList.toggle("stale", explorer.stale);
  document.body.dataset.stale = explorer.stale ? "1" : "";
  if (explorer.stale && explorer.last) $("status").textContent = `showing the last valid run: ${label(explorer.last.settings)}`;
  drawMap();
}

function showNumbers(n) {
  const rows = [
    ["final θ", n.final ? `(${format(n.final[0])}, ${format(n.final[1])})` : "not finite", "final"],
    ["distance to θ*", format(n.distance_final), "distance_final"],
    ["final loss", format(n.loss_final), "loss_final"],
    [`steps to within ${format(n.tolerance)} of the way`, n.steps_to_within === null ? "never" : n.steps_to_within, "steps_to_within"],
    ["diverged at step", n.diverged_at === null ? "no" : n.diverged_at, "diverged_at"],
    [`bursts (|θ2 − θ2*| > ${format(n.burst_threshold)})`, n.bursts, "bursts"],
  ];
  const list = $("numbers");
  list.replaceChildren();
  for (const [name, text, key] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = String(text);
    dd.dataset.key = key;
    dd.dataset.value = JSON.stringify(n[key]);
    list.append(dt, dd);
  }
}

function draw() {
  showNumbers(explorer.last.numbers);
  markStale();
  drawCurves();
}

// A run's name, from the settings that produced it (an answer's, never the controls').
function label(settings) {
  const rule = settings.optimizer || `${settings.direction} × ${settings.magnitude}`;
  return `${rule}, η = ${short(settings.lr)}${settings.schedule ? " · " + settings.schedule : ""}`;
}

// A pin's name: its run's, and what else differs from the run drawn beside it.
function pinLabel(settings, current) {
  const parts = [label(settings)];
  for (const [key, value] of Object.entries(settings.parameters)) {
    if (current.parameters[key] !== value) parts.push(`${symbol(key)} = ${format(value)}`);
  }
  if (settings.steps !== current.steps) parts.push(`N = ${settings.steps}`);
  if (JSON.stringify(settings.start) !== JSON.stringify(current.start)) {
    parts.push(settings.start ? `θ⁰ = (${settings.start.map(format).join(", ")})` : "default θ⁰");
  }
  return parts.join(", ");
}

function drawMap() {
  const answer = explorer.last;
  const surface = answer && explorer.contours[answer.settings.surface];
  if (!surface) return;
  const n = surface.x.length;
  const z = [];
  for (let row = 0; row < n; row++) z.push(surface.loss.slice(row * n, row * n + n));
  const positive = surface.loss.every((v) => v === null || v > 0);
  const shown = positive ? z.map((r) => r.map((v) => (v === null ? null : Math.log10(v)))) : z;
  const traces = [{ type: "contour", x: surface.x, y: surface.y, z: shown, colorscale: "Viridis",
                    ncontours: 30, showscale: false, hoverinfo: "x+y", name: positive ? "log10 L" : "L" }];
  const colours = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  // a pin belongs to its surface: drawn on it only, and named by what differs from this run
  const current = answer.settings;
  explorer.pins.forEach((p, i) => {
    if (p.settings.surface !== current.surface) return;
    traces.push({ type: "scatter", mode: "lines", x: p.x, y: p.y, name: "pinned: " + pinLabel(p.settings, current),
                  line: { dash: "dot", width: 2, color: colours[i % colours.length] } });
  });
  const elsewhere = explorer.pins.filter((p) => p.settings.surface !== current.surface).length;
  const series = answer.series;
  traces.push({ type: "scatter", mode: "lines", x: series.theta1, y: series.theta2,
                name: label(current) + (explorer.stale ? " (last valid run)" : ""),
                line: { color: explorer.stale ? "#999" : "#e4572e", width: 2 } });
  const minima = surface.minima, saddles = surface.saddle_points;
  traces.push({ type: "scatter", mode: "markers", x: minima.map((p) => p[0]), y: minima.map((p) => p[1]),
                name: minima.length > 1 ? "minima θ*" : "minimum θ*",
                marker: { symbol: "star", size: 16, color: "#ffd400", line: { width: 1 } } });
  if (saddles.length) {
    traces.push({ type: "scatter", mode: "markers", x: saddles.map((p) => p[0]), y: saddles.map((p) => p[1]),
                  name: "saddle point", marker: { symbol: "x", size: 12, color: "#fff", line: { width: 1, color: "#000" } } });
  }
  traces.push({ type: "scatter", mode: "markers", x: [answer.numbers.start[0]], y: [answer.numbers.start[1]],
                name: "start θ⁰", marker: { symbol: "circle", size: 11, color: "#fff", line: { color: "#111", width: 2 } } });
  const [xl, yl] = surface.labels;
  const hidden = elsewhere ? ` (${elsewhere} pinned run${elsewhere > 1 ? "s" : ""} on other surfaces not shown)` : "";
  const layout = { margin: { l: 50, r: 10, t: 30, b: 40 }, title: { text: `${surface.name}: ${surface.description}${hidden}`, font: { size: 13 } },
                   xaxis: { title: { text: xl }, range: surface.bounds[0] }, yaxis: { title: { text: yl }, range: surface.bounds[1] },
                   legend: { orientation: "h", y: -0.15 }, uirevision: surface.name };
  Plotly.react("map", traces, layout, { displaylogo: false, responsive: true });
  const map = $("map");
  if (!map.dataset.wired) {
    map.dataset.wired = "1";
    map.addEventListener("click", (event) => startFromClick(map, event));
  }
}

function startFromClick(map, event) {
  const layout = map._fullLayout;
  if (!layout || !layout.xaxis) return;
  const box = map.querySelector(".nsewdrag");
  if (!box) return;
  const area = box.getBoundingClientRect();
  if (event.clientX < area.left || event.clientX > area.right || event.clientY < area.top || event.clientY > area.bottom) return;
  const x = layout.xaxis.p2c(event.clientX - area.left);
  const y = layout.yaxis.p2c(event.clientY - area.top);
  explorer.state.start = [Number(x.toPrecision(6)), Number(y.toPrecision(6))];
  changed();
}

function spans(values) {
  const finite = values.filter((v) => v !== null && v > 0);
  if (finite.length !== values.filter((v) => v !== null).length || finite.length < 2) return false;
  return Math.max(...finite) / Math.min(...finite) > 100;
}

// A y axis for these values: log when they span over 100× (ticks as powers of ten, 10⁻⁵,
// where plotly would mix SI prefixes, 10µ and 1n, with powers); a flat series (a constant
// η^t/σ) from 0 to 1.2× its value, where plotly would pad it by ±1 and put η = 0.01 on the
// zero line.
function axis(values, title) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  if (spans(values)) return { type: "log", exponentformat: "power", title: { text: title } };
  const low = Math.min(...finite), high = Math.max(...finite);
  if (finite.length && high - low <= 1e-9 * Math.max(Math.abs(low), Math.abs(high))) {
    const range = high > 0 ? [0, 1.2 * high] : high < 0 ? [1.2 * low, 0] : [-1, 1];
    return { type: "linear", range, title: { text: title } };
  }
  return { type: "linear", title: { text: title } };
}

function drawCurves() {
  const s = explorer.last.series;
  const curves = [
    { x: s.t, y: s.loss, name: "L(θ<sup>t</sup>)", xaxis: "x", yaxis: "y" },
    { x: s.t, y: s.gradient_norm, name: "‖g<sup>t</sup>‖", xaxis: "x2", yaxis: "y2" },
  ];
  Plotly.react("curves", curves.map((c) => ({ ...c, type: "scatter", mode: "lines" })), {
    grid: { rows: 2, columns: 1, pattern: "independent" }, margin: { l: 60, r: 10, t: 30, b: 40 },
    title: { text: "loss and ‖g‖ against the step", font: { size: 13 } }, showlegend: true,
    yaxis: axis(s.loss, "L"), yaxis2: axis(s.gradient_norm, "‖g‖"),
    xaxis2: { title: { text: "step t" } }, legend: { orientation: "h", y: -0.2 } },
    { displaylogo: false, responsive: true });
  const sigma = [];
  if (!s.sigma1) { // σ = 1: said on its panel, not left blank
    sigma.push({ x: s.update_t, y: s.update_t.map(() => 1), name: "σ = 1 (no adaptive σ)", xaxis: "x", yaxis: "y" });
  }
  for (const i of [1, 2]) {
    if (s[`sigma${i}`]) sigma.push({ x: s.update_t, y: s[`sigma${i}`], name: `σ<sub>${i}</sub><sup>t</sup>`, xaxis: "x", yaxis: "y" });
    sigma.push({ x: s.update_t, y: s[`effective_lr${i}`], name: `η<sup>t</sup>/σ<sub>${i}</sub><sup>t</sup>`, xaxis: "x2", yaxis: "y2" });
  }
  const sigmas = sigma.filter((c) => c.yaxis === "y").flatMap((c) => c.y);
  const rates = sigma.filter((c) => c.yaxis === "y2").flatMap((c) => c.y);
  Plotly.react("sigma", sigma.map((c) => ({ ...c, type: "scatter", mode: "lines" })), {
    grid: { rows: 2, columns: 1, pattern: "independent" }, margin: { l: 60, r: 10, t: 30, b: 40 },
    title: { text: s.sigma1 ? "σᵢᵗ and the step size ηᵗ/σᵢᵗ per parameter" : "σ = 1: the step size is ηᵗ", font: { size: 13 } },
    yaxis: axis(sigmas, "σ"), yaxis2: axis(rates, "η/σ"),
    xaxis2: { title: { text: "step t" } }, legend: { orientation: "h", y: -0.2 } },
    { displaylogo: false, responsive: true });
}

// Pins the run drawn, with the settings that produced it (the last valid run after a refusal).
function pin() {
  if (!explorer.last) return;
  const { settings, series } = explorer.last;
  explorer.pins.push({ settings, x: series.theta1, y: series.theta2 });
  drawMap();
}

async function copyLink() {
  const link = location.origin + location.pathname + toHash(explorer.state);
  $("link").value = link;
  try {
    await navigator.clipboard.writeText(link);
    $("status").textContent = "link copied";
  } catch (error) {
    $("link").select();
    $("status").textContent = "select the link below and copy it";
  }
}

async function download(kind) {
  try {
    const response = await fetch("/api/export", { method: "POST", headers: { "Content-Type": "application/json" },
                                                   body: JSON.stringify({ ...request(explorer.state), format: kind }) });
    if (!response.ok) throw new Error((await response.json()).error);
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    Object.assign(a, { href: url, download: name ? name[1] : `ravine-run.${kind}` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  try {
    [explorer.options, explorer.presets] = await Promise.all([getJSON("/api/options"), getJSON("/api/presets")]);
  } catch (error) {
    showError(error.message);
    return;
  }
  buildControls();
  explorer.state = fromHash(location.hash);
  changed();
}

start();
