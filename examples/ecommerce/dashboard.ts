// A live dashboard for the demo: one page on 127.0.0.1 (loopback only) that polls the figures
// every second and draws them as line charts — orders/s, p50/p99 latency, lag, retries, dead
// letters, sagas — and shows the verified summary when the run ends. node:http and a canvas;
// no dependencies.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DemoSummary, Progress } from './main.ts';

export interface Dashboard {
  readonly url: string;
  push(progress: Progress): void;
  finish(summary: DemoSummary): void;
  close(): Promise<void>;
}

export async function startDashboard(port = 0): Promise<Dashboard> {
  const points: Progress[] = [];
  let summary: DemoSummary | undefined;
  const server = createServer((req, res) => {
    if (req.url === '/api/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ points, summary }));
    } else if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    push: (p) => void points.push(p),
    finish: (s) => void (summary = s),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // browsers keep their polling connection alive
      }),
  };
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Switchyard demo — Black Friday</title>
<style>
body{font:14px system-ui,sans-serif;margin:20px;background:#fafafa;color:#222}
h1{font-size:20px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px}.card h2{font-size:14px;margin:0 0 6px}
canvas{width:100%;height:160px}#now{font-family:monospace}.pass{color:#0a7d27}.fail{color:#c00}
table{border-collapse:collapse}td{padding:2px 8px;vertical-align:top}
</style></head><body>
<h1>Switchyard demo — Black Friday</h1><div id="now">waiting for the first figures…</div>
<div class="grid">
<div class="card"><h2>orders settled per second</h2><canvas id="rate"></canvas></div>
<div class="card"><h2>order latency, ms (p50, p99)</h2><canvas id="latency"></canvas></div>
<div class="card"><h2>consumer lag (messages)</h2><canvas id="lag"></canvas></div>
<div class="card"><h2>sagas (completed, rolled back)</h2><canvas id="sagas"></canvas></div>
<div class="card"><h2>retries, dead letters</h2><canvas id="faults"></canvas></div>
</div>
<div class="card" style="margin-top:16px"><h2>verified summary</h2><div id="summary">the run is still going</div></div>
<script>
const colors=['#1f77b4','#d62728','#2ca02c'];
function chart(id,series){const c=document.getElementById(id),r=devicePixelRatio||1,w=c.clientWidth,h=c.clientHeight;c.width=w*r;c.height=h*r;
const g=c.getContext('2d');g.scale(r,r);g.clearRect(0,0,w,h);const n=Math.max(2,...series.map(s=>s.length));
const max=Math.max(1,...series.flat());g.fillStyle='#888';g.font='11px sans-serif';g.fillText(String(Math.round(max)),2,10);
series.forEach((s,i)=>{g.strokeStyle=colors[i];g.lineWidth=1.5;g.beginPath();s.forEach((v,j)=>{const x=30+(w-35)*j/(n-1),y=h-4-(h-16)*v/max;j?g.lineTo(x,y):g.moveTo(x,y)});g.stroke();});}
const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
async function tick(){try{const {points,summary}=await (await fetch('/api/state')).json();
if(points.length){const p=points[points.length-1];document.getElementById('now').textContent=
p.elapsedS+' s'+(p.phase==='settling'?' (settling)':'')+' — '+p.ordersPerSecond+' orders/s, p50 '+Math.round(p.p50Ms)+' ms, p99 '+Math.round(p.p99Ms)+' ms, lag '+p.lag+', retries '+p.retries+', DLQ '+p.deadLetters+', '+p.completed+' completed, '+p.rolledBack+' rolled back, email circuit '+p.breaker;}
const col=k=>points.map(p=>p[k]);chart('rate',[col('ordersPerSecond')]);chart('latency',[col('p50Ms'),col('p99Ms')]);chart('lag',[col('lag')]);
chart('sagas',[col('completed'),col('rolledBack')]);chart('faults',[col('retries'),col('deadLetters')]);
if(summary){document.getElementById('summary').innerHTML='<p class="'+(summary.ok?'pass':'fail')+'"><b>'+(summary.ok?'all checks passed':'checks FAILED')+'</b> — '+
summary.orders.requested+' orders: '+summary.orders.completed+' completed, '+summary.orders.rolledBack+' rolled back, '+summary.orders.stuck.length+' stuck; '+summary.throughput.ordersPerSecond+' orders/s</p><table>'+
summary.checks.map(c=>'<tr><td class="'+(c.ok?'pass':'fail')+'">'+(c.ok?'PASS':'FAIL')+'</td><td>'+esc(c.name)+'</td><td>'+esc(c.detail)+'</td></tr>').join('')+'</table>';return;}
}catch{}setTimeout(tick,1000);}
tick();
</script></body></html>`;
