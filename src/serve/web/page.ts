/**
 * The explorer's page shell and style sheet, kept as strings so that the package needs no copy step
 * for static files: tsc emits them with the rest. The behaviour lives in app.ts (browser code).
 */
export function appHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codeneurons explorer</title>
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<header class="bar">
  <a class="brand" href="#/"><span class="logo" aria-hidden="true"></span>codeneurons <span class="sub">explorer</span></a>
  <span class="model" id="model"></span>
  <form id="search-form" role="search" autocomplete="off">
    <input id="search" name="token" placeholder="Search a token: 0, &quot;text&quot;, if …" aria-label="token to search">
    <button type="submit">Search</button>
  </form>
  <form id="compare-form" autocomplete="off">
    <input id="cmp-a" name="a" placeholder="L0:3" aria-label="first neuron" size="9" title="a neuron: L{layer}:{unit}, L{layer}.mlp:{unit} (MLP) or an id">
    <span class="vs">vs</span>
    <input id="cmp-b" name="b" placeholder="L1:5" aria-label="second neuron" size="9" title="a neuron: L{layer}:{unit}, L{layer}.mlp:{unit} (MLP) or an id">
    <button type="submit">Compare</button>
  </form>
  <a id="report-link" class="report-link" href="/report" hidden>Report ↗</a>
</header>
<div class="layout">
  <aside id="sidebar">
    <section><h3>Layers</h3><div id="sites" class="pills sites" hidden></div><div id="layers" class="pills"></div></section>
    <section><h3>Classes <small>top neurons</small></h3><div id="classes" class="list"></div></section>
    <section><h3>Concepts <small>concept neurons</small></h3><div id="concepts" class="list"></div></section>
    <section id="latent-section" hidden><h3>Latent concepts <small>clusters per layer</small></h3><div id="latent-layers" class="pills"></div></section>
    <p id="corpus" class="corpus"></p>
  </aside>
  <main>
    <section id="list-panel" class="panel">
      <h2 id="list-title">Pick a layer, a class or a concept</h2>
      <div id="neuron-list" class="chips"></div>
    </section>
    <section id="detail" class="panel detail" aria-live="polite">
      <div class="hint">Click a neuron to see the words it fires on and its activations over code. Search a token to find the neurons that fire most on it.</div>
    </section>
  </main>
</div>
<div id="toast" class="toast" role="alert" hidden></div>
</body>
</html>
`;
}

export const APP_CSS = `
:root{--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f5f7fa;--accent:#0072B2;--accent2:#D55E00;--panel:#fff;--mono:"DejaVu Sans Mono","JetBrains Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 "Helvetica Neue",Helvetica,Arial,"Liberation Sans","DejaVu Sans",sans-serif}
.bar{position:sticky;top:0;z-index:5;display:flex;align-items:center;gap:16px;flex-wrap:wrap;padding:10px 20px;background:linear-gradient(135deg,#0b2545,#1d4e89);color:#fff;box-shadow:0 2px 8px rgba(0,0,0,.15)}
.brand{color:#fff;text-decoration:none;font-weight:650;font-size:16px;display:flex;align-items:center;gap:8px}
.brand .sub{font-weight:400;opacity:.7}
.logo{width:18px;height:18px;border-radius:50%;background:radial-gradient(circle at 35% 35%,#fff 0 18%,#E69F00 19% 45%,#D55E00 46% 100%)}
.model{opacity:.8;font-size:13px;flex:1}
.bar form{display:flex;gap:6px;align-items:center}
.bar input{border:0;border-radius:6px;padding:6px 10px;font:inherit;min-width:0}
#search{width:240px}
.bar button{border:0;border-radius:6px;padding:6px 12px;background:#E69F00;color:#111;font-weight:600;cursor:pointer}
.bar button:hover{background:#f5b642}
.vs{opacity:.7}
.report-link{color:#fff;opacity:.9}
.layout{display:grid;grid-template-columns:250px 1fr;gap:20px;padding:20px;max-width:1500px;margin:0 auto}
aside section{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:12px 14px;margin-bottom:14px}
aside h3{margin:0 0 8px;font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
aside h3 small{text-transform:none;letter-spacing:0;font-weight:400}
.pills{display:flex;flex-wrap:wrap;gap:6px}
.pill,.item{border:1px solid var(--line);background:#fff;border-radius:999px;padding:3px 10px;cursor:pointer;font:inherit;color:var(--ink)}
.pill:hover,.item:hover{border-color:var(--accent);color:var(--accent)}
.pill.active,.item.active{background:var(--accent);border-color:var(--accent);color:#fff}
.sites{margin-bottom:8px;padding-bottom:8px;border-bottom:1px solid var(--line)}
.sites[hidden]{display:none}
.pill.site.active{background:var(--accent2);border-color:var(--accent2)}
.list{display:flex;flex-direction:column;gap:4px}
.item{border-radius:8px;text-align:left;display:flex;justify-content:space-between}
.item .n{color:var(--muted);font-variant-numeric:tabular-nums}
.item.zero{opacity:.5}
.item.active .n{color:#dbeafe}
.corpus{color:var(--muted);font-size:12px;margin:0 4px}
main{min-width:0}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:16px 20px;margin-bottom:20px}
.panel h2{margin:0 0 12px;font-size:17px}
.chips{display:flex;flex-wrap:wrap;gap:6px;max-height:260px;overflow:auto}
.chip{font:12px var(--mono);border:1px solid var(--line);border-radius:6px;padding:3px 7px;background:#fafafa;cursor:pointer;color:var(--ink)}
.chip:hover{border-color:var(--accent)}
.chip.top{background:#e8f1f8;border-color:#9cc3e0}
.chip.concept{background:#fdf0e6;border-color:#f0b98a}
.chip.selected{outline:2px solid var(--accent2)}
.chip .score{color:var(--muted);margin-left:4px}
.chip.cluster{font-family:inherit;text-align:left;max-width:100%}
.chip.cluster.novel{background:#f3effd;border-color:#c9b6f2}
.chip.cluster .what{color:var(--muted);margin-left:6px}
.tok.hit{background:#ffe08a;font-weight:650}
.hint{color:var(--muted)}
.detail h2{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap}
.detail h2 .id{font:600 22px var(--mono)}
.badge{display:inline-block;font-size:12px;border-radius:999px;padding:2px 9px;background:#eef2f7;color:#374151;margin-right:6px}
.badge.concept{background:#D55E00;color:#fff}
.badge.top{background:#0072B2;color:#fff}
.stats{color:var(--muted);font-size:13px;margin:4px 0 14px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:8px 28px}
.classes-box{max-width:560px}
.grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:8px 28px}
h4{margin:14px 0 6px;font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
table.words{border-collapse:collapse;width:100%;font-size:13px;table-layout:fixed}
table.words col.c-w{width:38%}table.words col.c-bar{width:24%}table.words col.c-z{width:16%}table.words col.c-n{width:10%}table.words col.c-l{width:12%}
table.words td{padding:3px 6px;border-bottom:1px solid #f0f2f5;vertical-align:middle}
table.words td.w{font-family:var(--mono);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.words td.num{text-align:right;font-variant-numeric:tabular-nums;color:#374151;white-space:nowrap}
table.words td.lbl{color:var(--muted);font-size:11px}
.bar-cell{width:auto}
.lbl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.hbar{height:8px;border-radius:4px;background:var(--accent)}
.hbar.neg{background:#2166ac}
.hbar.pos{background:#b2182b}
.classbars .row{display:grid;grid-template-columns:90px 1fr 70px;align-items:center;gap:8px;font-size:13px;margin:2px 0}
.classbars .track{position:relative;height:12px;background:#f3f4f6;border-radius:3px}
.classbars .zero{position:absolute;left:50%;top:-2px;bottom:-2px;width:1px;background:#9ca3af}
.classbars .fill{position:absolute;top:0;bottom:0;border-radius:3px}
.lines{display:flex;flex-direction:column;gap:8px;margin-top:6px}
.line{display:flex;align-items:flex-start;gap:10px}
.line .sid{font:11px var(--mono);color:var(--muted);width:56px;flex:none;padding-top:4px;text-align:right}
.line .sid .who{display:block;color:var(--ink);font-weight:600}
.code{display:flex;flex-wrap:wrap;gap:2px;font:13px var(--mono)}
.tok{padding:2px 4px;border-radius:4px;white-space:pre;cursor:default}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;color:var(--muted);margin-top:8px}
.legend .ramp{width:160px;height:10px;border-radius:5px;background:linear-gradient(90deg,#2166ac,#f7f7f7,#b2182b)}
table.results{border-collapse:collapse;width:100%;font-size:13px}
table.results th{text-align:left;color:var(--muted);font-weight:500;border-bottom:2px solid var(--line);padding:4px 8px}
table.results td{padding:4px 8px;border-bottom:1px solid #f0f2f5}
table.results tr.clickable{cursor:pointer}
table.results td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.results td.worse{color:#b91c1c;font-weight:600}
table.results td.muted{color:var(--muted)}
.interventions{margin:8px 0 14px}
.interventions .effect{margin-bottom:12px}
table.results tr.clickable:hover{background:#f3f6fa}
.scatter{border:1px solid var(--line);border-radius:8px;background:#fcfcfd}
.corr{font-size:28px;font-weight:650}
.toast{position:fixed;bottom:20px;right:20px;background:#991b1b;color:#fff;padding:10px 14px;border-radius:8px;box-shadow:0 4px 12px rgba(0,0,0,.2)}
.muted{color:var(--muted)}
@media (max-width:900px){.layout{grid-template-columns:1fr}}
`;
