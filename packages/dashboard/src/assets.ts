/**
 * The page and its assets. The UI script (src/ui/app.ts) is bundled by esbuild at build time and inlined as
 * `__BALLAST_DASHBOARD_UI__` (tsup's `define`, see ui-build.ts); nothing is fetched from a CDN.
 */
declare const __BALLAST_DASHBOARD_UI__: string | undefined;

/** The bundled UI; tests running the source set `globalThis.__BALLAST_DASHBOARD_UI__` from ui-build.ts. */
export function uiScript(): string | undefined {
  return typeof __BALLAST_DASHBOARD_UI__ === 'string' ? __BALLAST_DASHBOARD_UI__ : undefined;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function page(opts: { title: string; basePath: string; csrf: string; panels: string[] }): string {
  const t = escapeHtml(opts.title);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${t}</title>
<meta name="ballast-base" content="${escapeHtml(opts.basePath)}">
<meta name="ballast-csrf" content="${escapeHtml(opts.csrf)}">
<meta name="ballast-panels" content="${escapeHtml(opts.panels.join(','))}">
<link rel="stylesheet" href="${escapeHtml(opts.basePath)}/assets/app.css">
</head><body><header><h1>${t}</h1><nav id="tabs"></nav><span id="live" class="live">connecting…</span></header>
<main id="panel"></main><div id="toast" role="status"></div>
<script src="${escapeHtml(opts.basePath)}/assets/app.js"></script></body></html>`;
}

export const CSS = `
:root{--bg:#0f1419;--fg:#e6e6e6;--mute:#8b949e;--card:#161b22;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--acc:#58a6ff}
a{color:var(--acc)}*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:16px;padding:10px 18px;border-bottom:1px solid var(--line);background:var(--card);position:sticky;top:0}
h1{font-size:16px;margin:0}h2{font-size:15px;margin:18px 0 8px}h3{font-size:14px;margin:14px 0 6px;color:var(--mute)}
nav button{background:none;border:0;color:var(--mute);padding:6px 10px;cursor:pointer;font:inherit;border-radius:6px}
nav button.on{color:var(--fg);background:var(--line)}.live{margin-left:auto;color:var(--mute);font-size:12px}.live.on{color:var(--ok)}
main{padding:8px 18px 40px}table{border-collapse:collapse;width:100%;margin:4px 0 12px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--mute);font-weight:500}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:var(--line)}
.CLOSED,.passing,.completed,.compensated{color:var(--ok)}.HALF_OPEN,.warning,.compensating{color:var(--warn)}.OPEN,.critical,.compensation_failed,.dead{color:var(--bad)}
button.act{background:var(--line);color:var(--fg);border:1px solid #444c56;border-radius:6px;padding:2px 9px;cursor:pointer;font:inherit;font-size:12px;margin-right:4px}
button.act:hover{border-color:var(--acc)}pre{background:var(--card);border:1px solid var(--line);padding:8px;border-radius:6px;overflow:auto;max-height:320px;font-size:12px}
input,select{background:var(--card);color:var(--fg);border:1px solid var(--line);border-radius:6px;padding:3px 6px;font:inherit}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px}.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.timeline{list-style:none;padding:0;margin:4px 0}.timeline li{padding:3px 0 3px 14px;border-left:2px solid var(--line)}
.timeline li.done{border-color:var(--ok)}.timeline li.undone{border-color:var(--warn)}.timeline li.failed{border-color:var(--bad)}
.add{color:var(--ok)}.del{color:var(--bad)}.chg{color:var(--warn)}.muted{color:var(--mute)}
#toast{position:fixed;bottom:14px;right:14px;background:var(--card);border:1px solid var(--line);padding:8px 12px;border-radius:8px;display:none}
#toast.show{display:block}#toast.err{border-color:var(--bad)}
`;
