// The dashboard's single page: plain HTML, a canvas line chart, and a poll of the JSON API every
// second (state) or every few seconds (dead letters, sagas: each listing reads a topic or a store).
export const DASHBOARD_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Switchyard demo — Black Friday</title>
<style>
body{font:14px system-ui,sans-serif;margin:20px;background:#fafafa;color:#222}
h1{font-size:20px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px}.card h2{font-size:14px;margin:0 0 6px}
canvas{width:100%;height:160px}#now{font-family:monospace}.pass{color:#0a7d27}.fail{color:#c00}
table{border-collapse:collapse;width:100%}td,th{padding:2px 8px;vertical-align:top;text-align:left}th{font-weight:600;border-bottom:1px solid #ddd}
.legend span{margin-right:12px;font-size:12px}.mono{font-family:monospace;font-size:12px}tr.saga{cursor:pointer}tr.saga:hover{background:#f0f4ff}
.state-closed{color:#0a7d27}.state-open{color:#c00}.state-half-open{color:#b60}button{font-size:12px}
</style></head><body>
<h1>Switchyard demo — Black Friday</h1><div id="now">waiting for the first figures…</div>
<div class="grid">
<div class="card"><h2>orders settled per second</h2><canvas id="rate"></canvas></div>
<div class="card"><h2>order latency, ms (p50, p99)</h2><canvas id="latency"></canvas></div>
<div class="card"><h2>consumer lag per topic / group (messages)</h2><canvas id="lag"></canvas><div class="legend" id="lag-legend"></div></div>
<div class="card"><h2>sagas (completed, rolled back)</h2><canvas id="sagas"></canvas></div>
<div class="card"><h2>retries, dead letters</h2><canvas id="faults"></canvas></div>
<div class="card"><h2>circuit breakers</h2><table id="breakers"></table></div>
</div>
<div class="card" style="margin-top:16px"><h2>dead letters <span id="dlq-count"></span></h2><table><thead><tr><th>id</th><th>topic</th><th>error</th><th>failed at</th><th></th></tr></thead><tbody id="dlq"></tbody></table><div id="dlq-note"></div></div>
<div class="card" style="margin-top:16px"><h2>sagas <select id="saga-status"><option value="">all</option><option>completed</option><option>rolled_back</option><option>in_progress</option><option>compensating</option><option>compensation_failed</option></select></h2>
<table><thead><tr><th>id</th><th>status</th><th>steps</th><th>error</th></tr></thead><tbody id="saga-list"></tbody></table>
<div id="saga-history"></div></div>
<div class="card" style="margin-top:16px"><h2>verified summary</h2><div id="summary">the run is still going</div></div>
<script>
const colors=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#8c564b','#e377c2','#17becf','#7f7f7f','#bcbd22'];
function chart(id,series){const c=document.getElementById(id),r=devicePixelRatio||1,w=c.clientWidth,h=c.clientHeight;c.width=w*r;c.height=h*r;
const g=c.getContext('2d');g.scale(r,r);g.clearRect(0,0,w,h);const n=Math.max(2,...series.map(s=>s.length));
const max=Math.max(1,...series.flat());g.fillStyle='#888';g.font='11px sans-serif';g.fillText(String(Math.round(max)),2,10);
series.forEach((s,i)=>{g.strokeStyle=colors[i%colors.length];g.lineWidth=1.5;g.beginPath();s.forEach((v,j)=>{const x=30+(w-35)*j/(n-1),y=h-4-(h-16)*v/max;j?g.lineTo(x,y):g.moveTo(x,y)});g.stroke();});}
const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const get=async path=>{const r=await fetch(path);if(!r.ok)throw new Error(path+': '+r.status);return r.json();};
let finished=false;
async function tick(){try{const {points,summary,breakers}=await get('/api/state');
if(points.length){const p=points[points.length-1];document.getElementById('now').textContent=
p.elapsedS+' s'+(p.phase==='settling'?' (settling)':'')+' — '+p.ordersPerSecond+' orders/s, p50 '+Math.round(p.p50Ms)+' ms, p99 '+Math.round(p.p99Ms)+' ms, lag '+p.lag+', retries '+p.retries+', DLQ '+p.deadLetters+', '+p.completed+' completed, '+p.rolledBack+' rolled back, email circuit '+p.breaker;}
const col=k=>points.map(p=>p[k]);chart('rate',[col('ordersPerSecond')]);chart('latency',[col('p50Ms'),col('p99Ms')]);
const groups=[...new Set(points.flatMap(p=>Object.keys(p.lagByGroup||{})))].sort();
chart('lag',groups.map(g=>points.map(p=>(p.lagByGroup||{})[g]||0)));
document.getElementById('lag-legend').innerHTML=groups.map((g,i)=>'<span style="color:'+colors[i%colors.length]+'">■ '+esc(g)+'</span>').join('');
chart('sagas',[col('completed'),col('rolledBack')]);chart('faults',[col('retries'),col('deadLetters')]);
document.getElementById('breakers').innerHTML=Object.entries(breakers).map(([k,v])=>'<tr><td>'+esc(k)+'</td><td class="state-'+esc(v)+'" data-breaker="'+esc(k)+'">'+esc(v)+'</td></tr>').join('');
if(summary&&!finished){finished=true;document.getElementById('summary').innerHTML='<p class="'+(summary.ok?'pass':'fail')+'"><b>'+(summary.ok?'all checks passed':'checks FAILED')+'</b> — '+
summary.orders.requested+' orders: '+summary.orders.completed+' completed, '+summary.orders.rolledBack+' rolled back, '+summary.orders.stuck.length+' stuck; '+summary.throughput.ordersPerSecond+' orders/s</p><table>'+
summary.checks.map(c=>'<tr><td class="'+(c.ok?'pass':'fail')+'">'+(c.ok?'PASS':'FAIL')+'</td><td>'+esc(c.name)+'</td><td>'+esc(c.detail)+'</td></tr>').join('')+'</table>';}
}catch(e){console.warn('state: '+e.message)}setTimeout(tick,1000);}
async function deadLetters(){try{const rows=await get('/api/dead-letters');
document.getElementById('dlq-count').textContent='('+rows.length+')';
document.getElementById('dlq').innerHTML=rows.map(d=>'<tr data-dead-letter="'+esc(d.id)+'"><td class="mono">'+esc(d.id)+'</td><td>'+esc(d.topic)+'</td><td>'+esc(d.error)+'</td><td>'+esc(d.failedAt)+'</td><td><button data-topic="'+esc(d.topic)+'" data-id="'+esc(d.id)+'">replay</button></td></tr>').join('');
}catch(e){console.warn('dead letters: '+e.message)}}
document.getElementById('dlq').addEventListener('click',async ev=>{const b=ev.target.closest('button');if(!b)return;b.disabled=true;
const r=await fetch('/api/dead-letters/replay',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({topic:b.dataset.topic,id:b.dataset.id})});
const out=await r.json();document.getElementById('dlq-note').textContent=r.ok?(out.replayed?'replayed '+b.dataset.id+' to its original topic':b.dataset.id+' was no longer in the dead-letter topic'):'replay failed: '+out.error;
await deadLetters();});
let selected='';
async function sagas(){try{const status=document.getElementById('saga-status').value;const rows=await get('/api/sagas'+(status?'?status='+status:''));
document.getElementById('saga-list').innerHTML=rows.map(s=>'<tr class="saga" data-saga="'+esc(s.id)+'"><td class="mono">'+esc(s.id)+'</td><td>'+esc(s.status)+'</td><td>'+s.history.length+'</td><td>'+esc(s.error||'')+'</td></tr>').join('');
const pick=rows.find(s=>s.id===selected);if(pick)showHistory(pick);window.sagaRows=rows;
}catch(e){console.warn('sagas: '+e.message)}}
function showHistory(s){selected=s.id;document.getElementById('saga-history').innerHTML='<h3 style="font-size:13px">step history of '+esc(s.id)+' ('+esc(s.status)+')</h3><table id="steps"><thead><tr><th>#</th><th>step</th><th>kind</th><th>outcome</th><th>attempts</th><th>error</th></tr></thead><tbody>'+
s.history.map(h=>'<tr data-step="'+esc(h.step)+'"><td>'+h.index+'</td><td>'+esc(h.step)+'</td><td>'+esc(h.kind)+'</td><td>'+esc(h.outcome)+'</td><td>'+h.attempts+'</td><td>'+esc(h.error||'')+'</td></tr>').join('')+'</tbody></table>';}
document.getElementById('saga-list').addEventListener('click',ev=>{const tr=ev.target.closest('tr');const s=(window.sagaRows||[]).find(r=>r.id===tr?.dataset.saga);if(s)showHistory(s);});
document.getElementById('saga-status').addEventListener('change',sagas);
async function slow(){await Promise.all([deadLetters(),sagas()]);setTimeout(slow,3000);}
tick();slow();
</script></body></html>`;
