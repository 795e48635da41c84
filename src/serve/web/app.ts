/**
 * The explorer in the browser: hash routes (#/layer/5, #/layer/5/mlp, #/class/NUMBER,
 * #/concept/STRING, #/neuron/L5:3, #/neuron/L5.mlp:3, #/search/<token>, #/compare/L5:3/L8:5,
 * #/latent/5 (a layer's latent clusters), #/latent/5/12 (one cluster)) over the
 * JSON API. Neurons go by their site-qualified names (ids of the two sites overlap); a bare id in a
 * route or the compare boxes is of the site picked in the sidebar. Every text from the corpus goes into
 * the page through textContent, never as HTML: code tokens can hold anything.
 */
import type { Site } from "../../store/format.js";
import type {
  CompareResponse,
  InterventionEffect,
  LatentClusterResponse,
  LatentLayerResponse,
  LineView,
  MetaResponse,
  NeuronChip,
  NeuronResponse,
  NeuronsResponse,
  SearchResponse,
  WordScore,
} from "../api-types.js";

type Child = Node | string | null | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    // Through the CSSOM: the page's Content-Security-Policy forbids style attributes.
    if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path);
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

function toast(message: string): void {
  const t = byId("toast");
  t.textContent = message;
  t.hidden = false;
  setTimeout(() => {
    t.hidden = true;
  }, 4000);
}

const fmt = (x: number | null, digits = 3): string => (x === null ? "–" : x.toFixed(digits));

/** Diverging colour for v in [-1, 1]: blue (negative) – near white – red (positive). */
function colour(v: number): string {
  const t = Math.min(1, Math.abs(v));
  const [r, g, b] = v >= 0 ? [178, 24, 43] : [33, 102, 172];
  const mix = (c: number, w: number) => Math.round(w + (c - w) * t);
  return `rgb(${mix(r, 247)}, ${mix(g, 247)}, ${mix(b, 247)})`;
}

let meta: MetaResponse;
let currentList = "";
/** The site whose layers the sidebar lists and whose neurons search looks at. */
let site: Site;

/** "layer 5" of the residual stream, "block 5 MLP" (this page runs alone: no shared helpers). */
function layerLabel(s: Site, layer: number): string {
  return s === "hidden" ? `layer ${layer}` : `block ${layer} MLP`;
}

/** What the results hold: "13 layers × 768 units · MLP 12 × 3072". */
function sitesText(): string {
  return meta.sites
    .map((s, i) =>
      s.site === "hidden"
        ? `${s.layers.length} layers × ${s.width} units`
        : `MLP ${s.layers.length}${i === 0 ? " layers" : ""} × ${s.width}${i === 0 ? " units" : ""}`,
    )
    .join(" · ");
}

async function init(): Promise<void> {
  meta = await getJson<MetaResponse>("/api/meta");
  site = meta.site;
  byId("model").textContent = `${meta.model} · ${sitesText()}`;
  byId("corpus").textContent =
    `${meta.rows.toLocaleString()} words from ${meta.sentences.toLocaleString()} lines${
      meta.sampled ? " (a sample of the store)" : ""
    }${meta.hasStore ? "" : " · no activation store: search and compare are off"}`;
  if (meta.report) {
    const link = byId<HTMLAnchorElement>("report-link");
    link.href = `/files/${meta.report}`;
    link.hidden = false;
  }
  fillSidebar();
  comparePlaceholders();
  byId<HTMLFormElement>("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = byId<HTMLInputElement>("search").value.trim();
    if (token) location.hash = `#/search/${encodeURIComponent(token)}`;
  });
  byId<HTMLFormElement>("compare-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const a = byId<HTMLInputElement>("cmp-a").value.trim();
    const b = byId<HTMLInputElement>("cmp-b").value.trim();
    if (a && b) location.hash = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
  });
  window.addEventListener("hashchange", () => void route());
  await route();
}

/** The layer pills of the current site. */
function fillLayers(): void {
  const info = meta.sites.find((s) => s.site === site) ?? meta.sites[0];
  byId("layers").replaceChildren(
    ...info.layers.map((l) =>
      el(
        "button",
        { class: "pill", "data-layer": String(l), type: "button", title: layerLabel(site, l) },
        String(l),
      ),
    ),
  );
  markActive(".site", "data-site", site);
}

/** Picks the site of the layer pills, search and bare ids. */
function setSite(s: Site): void {
  if (s === site || !meta.sites.some((x) => x.site === s)) return;
  site = s;
  fillLayers();
  comparePlaceholders();
}

/** The compare boxes' examples name layers this model has: its first and last of the current site. */
function comparePlaceholders(): void {
  const info = meta.sites.find((s) => s.site === site) ?? meta.sites[0];
  const layers = info.layers;
  if (layers.length === 0) return;
  const name = (l: number, unit: number) =>
    `L${l}${info.site === "hidden" ? "" : `.${info.site}`}:${Math.min(unit, info.width - 1)}`;
  const [a, b] = [name(layers[0], 3), name(layers[layers.length - 1], 5)];
  for (const [id, example] of [
    ["cmp-a", a],
    ["cmp-b", b],
  ] as const) {
    const input = byId<HTMLInputElement>(id);
    input.placeholder = example;
    input.title = `a neuron: ${example} (layer ${example.slice(1, example.indexOf(":"))}, unit ${example.slice(example.indexOf(":") + 1)}), or an id`;
  }
}

function layerHash(layer: string | number): string {
  return `#/layer/${layer}${site === "hidden" ? "" : `/${site}`}`;
}

function fillSidebar(): void {
  // A site switch only when the store holds both sites.
  if (meta.sites.length > 1) {
    const sites = byId("sites");
    sites.hidden = false;
    sites.append(
      ...meta.sites.map((s) =>
        el(
          "button",
          {
            class: "pill site",
            "data-site": s.site,
            type: "button",
            title: `${s.title}: ${s.width} per layer`,
          },
          s.site === "hidden" ? "Residual" : "MLP",
        ),
      ),
    );
    sites.addEventListener("click", (e) => {
      const b = (e.target as HTMLElement).closest("button");
      if (b?.dataset.site) setSite(b.dataset.site as Site);
    });
  }
  fillLayers();
  // With two sites, say which one the class and concept lists are of.
  const conceptsSite = meta.sites.find((s) => s.site === meta.conceptsSite);
  if (meta.sites.length > 1 && conceptsSite) {
    for (const id of ["classes", "concepts"])
      byId(id).previousElementSibling?.append(el("small", {}, ` · ${conceptsSite.title}`));
  }
  byId("layers").addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest("button");
    if (b) location.hash = layerHash(b.dataset.layer ?? "");
  });
  const classes = byId("classes");
  for (const [cls, n] of Object.entries(meta.topNeurons)) {
    classes.append(listItem(cls, n, `#/class/${encodeURIComponent(cls)}`, "class"));
  }
  if (Object.keys(meta.topNeurons).length === 0)
    classes.append(el("span", { class: "muted" }, "no concepts.json"));
  if (meta.latent) {
    byId("latent-section").hidden = false;
    const pills = byId("latent-layers");
    pills.append(
      ...meta.latent.layers.map((l) =>
        el(
          "button",
          {
            class: "pill",
            "data-latent": String(l),
            type: "button",
            title: `latent clusters of ${layerLabel(meta.latent!.site, l)}`,
          },
          String(l),
        ),
      ),
    );
    pills.addEventListener("click", (e) => {
      const b = (e.target as HTMLElement).closest("button");
      if (b?.dataset.latent) location.hash = `#/latent/${b.dataset.latent}`;
    });
  }
  const concepts = byId("concepts");
  for (const c of meta.concepts)
    concepts.append(listItem(c.name, c.count, `#/concept/${encodeURIComponent(c.name)}`, "concept"));
  if (meta.concepts.length === 0) concepts.append(el("span", { class: "muted" }, "none"));
}

function listItem(name: string, n: number, hash: string, kind: string): HTMLElement {
  const b = el(
    "button",
    { class: n === 0 ? "item zero" : "item", type: "button", [`data-${kind}`]: name },
    el("span", {}, name),
    el("span", { class: "n" }, String(n)),
  );
  b.addEventListener("click", () => {
    location.hash = hash;
  });
  return b;
}

function markActive(selector: string, attr: string, value: string | null): void {
  for (const node of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
    node.classList.toggle("active", value !== null && node.getAttribute(attr) === value);
  }
}

async function route(): Promise<void> {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "layer") {
      setSite((parts[2] as Site | undefined) ?? "hidden");
      await showList(`layer=${encodeURIComponent(parts[1])}&site=${site}`, "layer", parts[1]);
    } else if (parts[0] === "class")
      await showList(`class=${encodeURIComponent(parts[1])}`, "class", parts[1]);
    else if (parts[0] === "concept")
      await showList(`concept=${encodeURIComponent(parts[1])}`, "concept", parts[1]);
    else if (parts[0] === "neuron") await showNeuron(parts[1]);
    else if (parts[0] === "search") await showSearch(parts.slice(1).join("/"));
    else if (parts[0] === "compare") await showCompare(parts[1], parts[2]);
    else if (parts[0] === "latent") {
      await showLatentList(parts[1]);
      if (parts[2] !== undefined) await showLatentCluster(parts[1], parts[2]);
    }
  } catch (e) {
    toast(e instanceof Error ? e.message : String(e));
  }
}

async function showList(query: string, kind: string, value: string): Promise<void> {
  markActive(".pill[data-latent]", "data-latent", null);
  markActive(".pill[data-layer]", "data-layer", kind === "layer" ? value : null);
  markActive(".item[data-class]", "data-class", kind === "class" ? value : null);
  markActive(".item[data-concept]", "data-concept", kind === "concept" ? value : null);
  if (currentList === query) return;
  const list = await getJson<NeuronsResponse>(`/api/neurons?${query}`);
  currentList = query;
  byId("list-title").textContent =
    `${list.title} · ${list.neurons.length} neuron${list.neurons.length === 1 ? "" : "s"}`;
  const box = byId("neuron-list");
  box.replaceChildren(...list.neurons.map(chip));
}

function chip(n: NeuronChip): HTMLElement {
  const classes = ["chip", n.topFor.length ? "top" : "", n.concept ? "concept" : ""]
    .filter(Boolean)
    .join(" ");
  const tags = [...n.topFor.map((c) => `top for ${c}`), n.concept ? `${n.concept} neuron` : ""]
    .filter(Boolean)
    .join(", ");
  const b = el(
    "button",
    {
      class: classes,
      type: "button",
      "data-neuron": String(n.id),
      "data-name": n.name,
      title: tags || n.name,
    },
    n.name,
    n.score !== null ? el("span", { class: "score" }, n.score.toFixed(2)) : null,
  );
  b.addEventListener("click", () => {
    location.hash = `#/neuron/${encodeURIComponent(n.name)}`;
  });
  return b;
}

async function showNeuron(ref: string): Promise<void> {
  const n = await getJson<NeuronResponse>(`/api/neuron/${encodeURIComponent(ref)}?site=${site}`);
  for (const c of Array.from(document.querySelectorAll<HTMLElement>(".chip"))) {
    c.classList.toggle("selected", c.dataset.name === n.name);
  }
  const detail = byId("detail");
  detail.replaceChildren(
    el(
      "h2",
      {},
      el("span", { class: "id", "data-testid": "neuron-name" }, n.name),
      el("span", { class: "muted" }, `${n.site === "hidden" ? "" : "MLP "}neuron #${n.id}`),
    ),
    badges(n),
    el(
      "div",
      { class: "stats" },
      `mean ${fmt(n.mean)} · std ${fmt(n.std)}${n.weights ? ` · probe weights: ${weightsText(n.weights)}` : ""}`,
    ),
    el(
      "p",
      { class: "stats", "data-testid": "population" },
      `Statistics over ${n.population.description}: ${n.population.rows.toLocaleString()} rows.`,
    ),
    wordColumns(n.topWords, "", ""),
    ...(n.inReport
      ? [
          el(
            "h4",
            { "data-testid": "report-population" },
            `As in the report: over ${n.inReport.population.description} (${n.inReport.population.rows.toLocaleString()} rows)`,
          ),
          wordColumns(n.inReport.topWords, "report-", " (report)"),
        ]
      : []),
    el("div", { class: "classes-box" }, el("h4", {}, "Mean activation per class"), classBars(n)),
    ...(n.interventions.length > 0 ? [interventionsBox(n.interventions)] : []),
    el("h4", {}, "Activations over code"),
    linesView(n.lines, [n.name]),
    legend(),
  );
}

const MODES: Record<string, string> = { zero: "zeroed", mean: "set to their train mean" };
const EVALUATIONS: Record<string, string> = {
  "masked-lm": "masked-LM",
  "causal-lm": "next-token",
  probe: "last-layer probe",
};

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

/**
 * What changing the neuron (with the rest of each experiment's set) inside the model did to the model's
 * own predictions, per class, beside random neurons of the same layers.
 */
function interventionsBox(effects: InterventionEffect[]): HTMLElement {
  const box = el(
    "div",
    { class: "interventions", "data-testid": "interventions" },
    el("h4", {}, "Intervention effect (changed inside the model)"),
  );
  for (const e of effects) {
    const [kind, value] = e.mode.split(":");
    const how =
      kind === "scale" ? `scaled ×${value}` : kind === "set" ? `set to ${value}` : (MODES[kind] ?? e.mode);
    const hasLoss = e.classes.some((c) => c.before.loss !== null);
    const random = e.controls > 0;
    const head = el(
      "tr",
      {},
      ...["class", "words", "accuracy", ...(random ? ["random"] : []), ...(hasLoss ? ["loss"] : [])].map(
        (h) => el("th", {}, h),
      ),
      ...(hasLoss && random ? [el("th", {}, "random")] : []),
    );
    const rows = e.classes.map((c) => {
      const worse = c.after.accuracy < c.before.accuracy;
      return el(
        "tr",
        { "data-class": c.class },
        el("td", {}, c.class),
        el("td", { class: "num" }, String(c.rows)),
        el(
          "td",
          { class: `num${worse ? " worse" : ""}` },
          `${pct(c.before.accuracy)} → ${pct(c.after.accuracy)}`,
        ),
        random && c.random
          ? el("td", { class: "num muted" }, `${pct(c.random.accuracy.mean)} ± ${pct(c.random.accuracy.sd)}`)
          : null,
        hasLoss
          ? el(
              "td",
              { class: "num" },
              c.before.loss !== null && c.after.loss !== null
                ? `${c.before.loss.toFixed(3)} → ${c.after.loss.toFixed(3)}`
                : "–",
            )
          : null,
        hasLoss && random
          ? el(
              "td",
              { class: "num muted" },
              c.random?.loss ? `${c.random.loss.mean.toFixed(3)} ± ${c.random.loss.sd.toFixed(3)}` : "–",
            )
          : null,
      );
    });
    box.append(
      el(
        "div",
        { class: "effect", "data-label": e.label },
        el(
          "div",
          { class: "stats" },
          `${e.label}: ${e.neurons} neuron${e.neurons === 1 ? "" : "s"} ${how} · ${EVALUATIONS[e.evaluation] ?? e.evaluation} predictions on the ${e.split} split` +
            (random
              ? ` · random: ${e.controls} sets of ${e.neurons} neurons from the same layers (mean ± sd)`
              : ""),
        ),
        el("table", { class: "results effect-table" }, el("thead", {}, head), el("tbody", {}, ...rows)),
      ),
    );
  }
  return box;
}

/** The words a neuron fires high on (highest mean z) and low on (lowest mean z). */
function wordColumns(words: NeuronResponse["topWords"], testidPrefix: string, suffix: string): HTMLElement {
  return el(
    "div",
    { class: "grid2" },
    el(
      "div",
      {},
      el("h4", {}, `Fires high on (highest mean z)${suffix}`),
      wordsTable(words.positive, "pos", `${testidPrefix}top-words`),
    ),
    el(
      "div",
      {},
      el("h4", {}, `Fires low on (lowest mean z)${suffix}`),
      wordsTable(words.negative, "neg", `${testidPrefix}bottom-words`),
    ),
  );
}

/** A concept neuron's direction, a weight's sign: what they say of the neuron. */
function firesText(positive: boolean): string {
  return positive ? "fires high" : "fires low";
}

function badges(n: NeuronResponse): HTMLElement {
  return el(
    "div",
    {},
    n.concept
      ? el(
          "span",
          { class: "badge concept", "data-testid": "concept-badge" },
          `${n.concept.name} neuron · purity ${n.concept.purity.toFixed(2)} · ${firesText(n.concept.direction === "positive")} on it`,
        )
      : null,
    ...n.topFor.map((c) => el("span", { class: "badge top" }, `top neuron of ${c}`)),
    el("span", { class: "badge", "data-testid": "layer-badge" }, layerLabel(n.site, n.layer)),
  );
}

function weightsText(w: Record<string, number>): string {
  return Object.entries(w)
    .map(([k, v]) => `${k} ${v >= 0 ? "+" : ""}${v.toFixed(2)} (${firesText(v >= 0)})`)
    .join(", ");
}

function wordsTable(words: WordScore[], kind: "pos" | "neg", testid: string): HTMLElement {
  const max = Math.max(1e-9, ...words.map((w) => Math.abs(w.score)));
  const rows = words.map((w) =>
    el(
      "tr",
      { "data-word": w.word },
      el(
        "td",
        {
          class: "w",
          title: w.examples
            .map((e) => `line ${e.sentence}, word ${e.position}: ${e.activation.toFixed(3)}`)
            .join("\n"),
        },
        w.word,
      ),
      el(
        "td",
        { class: "bar-cell" },
        el("div", { class: `hbar ${kind}`, style: `width:${Math.round((100 * Math.abs(w.score)) / max)}%` }),
      ),
      el("td", { class: "num" }, `z ${w.score.toFixed(2)}`),
      el("td", { class: "num" }, `×${w.count}`),
      el("td", { class: "lbl" }, w.label ?? ""),
    ),
  );
  const cols = el(
    "colgroup",
    {},
    ...["c-w", "c-bar", "c-z", "c-n", "c-l"].map((c) => el("col", { class: c })),
  );
  return el("table", { class: "words", "data-testid": testid }, cols, el("tbody", {}, ...rows));
}

function classBars(n: NeuronResponse): HTMLElement {
  const max = Math.max(1e-9, ...n.classMeans.map((c) => Math.abs(c.mean ?? 0)));
  return el(
    "div",
    { class: "classbars", "data-testid": "class-means" },
    ...n.classMeans.map((c) => {
      const v = c.mean ?? 0;
      const w = (50 * Math.abs(v)) / max;
      const style =
        v >= 0 ? `left:50%;width:${w}%;background:#b2182b` : `left:${50 - w}%;width:${w}%;background:#2166ac`;
      return el(
        "div",
        { class: "row" },
        el("span", {}, c.class),
        el("div", { class: "track" }, el("div", { class: "zero" }), el("div", { class: "fill", style })),
        el("span", { class: "num" }, c.mean === null ? "–" : c.mean.toFixed(3)),
      );
    }),
  );
}

/** Code lines with one coloured row per neuron; colours scale with each neuron's largest |activation| here. */
function linesView(lines: LineView[], names: string[]): HTMLElement {
  const maxAbs = names.map((_, n) => Math.max(1e-9, ...lines.flatMap((l) => l.activations[n].map(Math.abs))));
  const box = el("div", { class: "lines", "data-testid": "lines" });
  for (const line of lines) {
    names.forEach((name, n) => {
      const toks = line.words.map((w, i) => {
        const a = line.activations[n][i];
        const v = a / maxAbs[n];
        return el(
          "span",
          {
            class: "tok",
            style: `background:${colour(v)};color:${Math.abs(v) > 0.6 ? "#fff" : "#111827"}`,
            title: `${w}: ${a.toFixed(3)}`,
            "data-activation": String(a),
          },
          w,
        );
      });
      const label = el(
        "div",
        { class: "sid" },
        names.length > 1 ? el("span", { class: "who" }, name) : null,
        `#${line.sentence}`,
      );
      box.append(
        el(
          "div",
          { class: "line", "data-sentence": String(line.sentence) },
          label,
          el("div", { class: "code" }, ...toks),
        ),
      );
    });
  }
  if (lines.length === 0) box.append(el("span", { class: "muted" }, "no lines"));
  return box;
}

function legend(): HTMLElement {
  return el(
    "div",
    { class: "legend" },
    "negative",
    el("span", { class: "ramp" }),
    "positive · each neuron scaled to its largest |activation| on these lines; hover a word for its value",
  );
}

async function showSearch(token: string): Promise<void> {
  byId<HTMLInputElement>("search").value = token;
  const r = await getJson<SearchResponse>(`/api/search?token=${encodeURIComponent(token)}&site=${site}`);
  const detail = byId("detail");
  if (r.occurrences === 0) {
    detail.replaceChildren(
      el("h2", {}, "No occurrence of ", el("code", {}, token)),
      r.suggestions.length
        ? el("p", {}, "Words that start like it: ", ...r.suggestions.flatMap((s) => [searchLink(s), " "]))
        : el("p", { class: "muted" }, "No word starts like it either."),
    );
    return;
  }
  const max = Math.max(1e-9, ...r.neurons.map((n) => Math.abs(n.z)));
  const rows = r.neurons.map((n, i) => {
    const tr = el(
      "tr",
      { class: "clickable", "data-neuron": String(n.id), "data-name": n.name },
      el("td", { class: "num" }, String(i + 1)),
      el("td", { class: "w" }, n.name),
      el("td", {}, layerLabel(n.site, n.layer)),
      el(
        "td",
        { class: "bar-cell" },
        el("div", { class: "hbar pos", style: `width:${Math.round((120 * Math.max(0, n.z)) / max)}px` }),
      ),
      el("td", { class: "num" }, `z ${n.z.toFixed(2)}`),
      el("td", { class: "num" }, `mean ${n.mean.toFixed(3)}`),
    );
    tr.addEventListener("click", () => {
      location.hash = `#/neuron/${encodeURIComponent(n.name)}`;
    });
    return tr;
  });
  detail.replaceChildren(
    el(
      "h2",
      {},
      r.site === "hidden" ? "Neurons" : "MLP neurons",
      " that fire most on ",
      el("code", { "data-testid": "search-token" }, token),
    ),
    el(
      "p",
      { class: "stats" },
      `${r.occurrences} occurrence${r.occurrences === 1 ? "" : "s"} · z = (mean activation on the token − neuron mean) / neuron std`,
    ),
    el(
      "table",
      { class: "results", "data-testid": "search-results" },
      el(
        "thead",
        {},
        el("tr", {}, ...["#", "neuron", "layer", "", "z", "activation"].map((h) => el("th", {}, h))),
      ),
      el("tbody", {}, ...rows),
    ),
  );
}

/** A layer's latent clusters (largest first) in the list panel. */
async function showLatentList(layer: string): Promise<void> {
  const query = `latent=${layer}`;
  markActive(".pill[data-latent]", "data-latent", layer);
  markActive(".pill[data-layer]", "data-layer", null);
  markActive(".item[data-class]", "data-class", null);
  markActive(".item[data-concept]", "data-concept", null);
  if (currentList === query) return;
  const r = await getJson<LatentLayerResponse>(`/api/latent?layer=${encodeURIComponent(layer)}`);
  currentList = query;
  const aligned = r.alignment.map((a) => `${a.family} ${pct(a.aligned)}`).join(", ");
  byId("list-title").textContent =
    `Latent concepts of ${layerLabel(r.site, r.layer)} · ${r.clusters.length} clusters of ${r.tokens} tokens · aligned: ${aligned} · novel ${pct(r.novel)}`;
  byId("neuron-list").replaceChildren(
    ...r.clusters.map((c) => {
      const b = el(
        "button",
        {
          class: `chip cluster${c.aligned.length ? "" : " novel"}`,
          type: "button",
          "data-cluster": String(c.id),
          title: c.aligned.length ? `aligned: ${c.aligned.join(", ")}` : "novel: aligned with no category",
        },
        `#${c.id} · ${c.size}`,
        el("span", { class: "what" }, c.aligned[0] ?? c.words.slice(0, 3).join(" ")),
      );
      b.addEventListener("click", () => {
        location.hash = `#/latent/${r.layer}/${c.id}`;
      });
      return b;
    }),
  );
}

/** One latent cluster: its categories, the neurons most active on it, its words and tokens in context. */
async function showLatentCluster(layer: string, id: string): Promise<void> {
  const c = await getJson<LatentClusterResponse>(
    `/api/latent/${encodeURIComponent(layer)}/${encodeURIComponent(id)}`,
  );
  for (const chipEl of Array.from(document.querySelectorAll<HTMLElement>(".chip.cluster")))
    chipEl.classList.toggle("selected", chipEl.dataset.cluster === String(c.id));
  const neurons = c.neurons.map((n) => {
    const b = el(
      "button",
      {
        class: "chip",
        type: "button",
        "data-name": n.name,
        title: `mean z ${n.z.toFixed(2)} on the cluster's tokens`,
      },
      n.name,
      el("span", { class: "score" }, `z ${n.z.toFixed(2)}`),
    );
    b.addEventListener("click", () => {
      location.hash = `#/neuron/${encodeURIComponent(n.name)}`;
    });
    return b;
  });
  const lines = el("div", { class: "lines", "data-testid": "latent-lines" });
  for (const o of c.occurrences) {
    const code = o.words
      ? o.words.map((w, i) => el("span", { class: i === o.position ? "tok hit" : "tok" }, w))
      : [el("span", { class: "tok hit" }, o.word)];
    lines.append(
      el(
        "div",
        { class: "line", "data-sentence": String(o.sentence) },
        el("div", { class: "sid" }, `#${o.sentence}`),
        el("div", { class: "code" }, ...code),
      ),
    );
  }
  byId("detail").replaceChildren(
    el(
      "h2",
      {},
      el("span", { class: "id", "data-testid": "cluster-name" }, `cluster #${c.id}`),
      el("span", { class: "muted" }, `${layerLabel(c.site, c.layer)} · ${c.size} tokens`),
    ),
    el(
      "div",
      { "data-testid": "cluster-alignment" },
      ...(c.aligned.length
        ? c.aligned.map((a) => el("span", { class: "badge top" }, `${a.family} ${a.value} · ${pct(a.share)}`))
        : [el("span", { class: "badge concept" }, "novel: aligned with no category")]),
      ...c.majority
        .filter((m) => !c.aligned.some((a) => a.family === m.family))
        .map((m) => el("span", { class: "badge" }, `mostly ${m.family} ${m.value} · ${pct(m.share)}`)),
    ),
    el("h4", {}, "Neurons most active on it (mean z over its tokens)"),
    el("div", { class: "chips", "data-testid": "cluster-neurons" }, ...neurons),
    el("h4", {}, "Words"),
    el(
      "p",
      { class: "stats" },
      c.words
        .slice(0, 40)
        .map((w) => `${w.word}${w.count > 1 ? ` ×${w.count}` : ""}`)
        .join(" · "),
    ),
    el(
      "h4",
      {},
      c.occurrences.length < c.size ? `In context (the first ${c.occurrences.length})` : "In context",
    ),
    lines,
  );
}

function searchLink(word: string): HTMLElement {
  const a = el("a", { href: `#/search/${encodeURIComponent(word)}` }, el("code", {}, word));
  return a;
}

async function showCompare(a: string, b: string): Promise<void> {
  byId<HTMLInputElement>("cmp-a").value = a;
  byId<HTMLInputElement>("cmp-b").value = b;
  const r = await getJson<CompareResponse>(
    `/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}&site=${site}`,
  );
  const detail = byId("detail");
  detail.replaceChildren(
    el(
      "h2",
      {},
      "Compare ",
      el("span", { class: "id" }, r.a.name),
      " and ",
      el("span", { class: "id" }, r.b.name),
    ),
    el(
      "div",
      { class: "grid3" },
      el(
        "div",
        {},
        el("h4", {}, "Correlation over all words"),
        el(
          "div",
          { class: "corr", "data-testid": "correlation" },
          r.correlation === null ? "–" : r.correlation.toFixed(3),
        ),
        scatterPlot(r),
      ),
      el(
        "div",
        {},
        el("h4", {}, `${r.a.name} fires high on`),
        wordsTable(r.a.topWords.positive.slice(0, 10), "pos", "top-words-a"),
      ),
      el(
        "div",
        {},
        el("h4", {}, `${r.b.name} fires high on`),
        wordsTable(r.b.topWords.positive.slice(0, 10), "pos", "top-words-b"),
      ),
    ),
    el("h4", {}, "Both over code (lines where they are most active)"),
    linesView(r.lines, [r.a.name, r.b.name]),
    legend(),
  );
}

function scatterPlot(r: CompareResponse): SVGElement {
  const size = 260;
  const pad = 28;
  const xs = r.scatter.map((p) => p[0]);
  const ys = r.scatter.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (size - 2 * pad);
  const sy = (y: number) => size - pad - ((y - y0) / (y1 - y0 || 1)) * (size - 2 * pad);
  const svg = svgEl("svg", {
    width: size,
    height: size,
    class: "scatter",
    "data-testid": "scatter",
    role: "img",
  });
  svg.append(svgEl("line", { x1: pad, y1: size - pad, x2: size - pad, y2: size - pad, stroke: "#9ca3af" }));
  svg.append(svgEl("line", { x1: pad, y1: pad, x2: pad, y2: size - pad, stroke: "#9ca3af" }));
  for (const [x, y] of r.scatter) {
    svg.append(
      svgEl("circle", {
        cx: sx(x).toFixed(1),
        cy: sy(y).toFixed(1),
        r: 2,
        fill: "#0072B2",
        "fill-opacity": 0.35,
      }),
    );
  }
  const label = (text: string, attrs: Record<string, string | number>) => {
    const t = svgEl("text", { "font-size": 11, fill: "#6b7280", ...attrs });
    t.textContent = text;
    svg.append(t);
  };
  label(r.a.name, { x: size / 2, y: size - 8, "text-anchor": "middle" });
  label(r.b.name, { x: 12, y: size / 2, transform: `rotate(-90 12 ${size / 2})`, "text-anchor": "middle" });
  return svg;
}

void init().catch((e: unknown) => toast(e instanceof Error ? e.message : String(e)));
