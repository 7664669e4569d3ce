// Turns one bench/run.sh run directory into <out>.json and <out>.md (the Markdown also goes to stdout).
//   node bench/report.mjs <run dir> <out path without extension>
import fs from "node:fs";
import path from "node:path";

const [runDir, outBase] = process.argv.slice(2);
if (!runDir || !outBase) {
  console.error("usage: node bench/report.mjs <run dir> <out path without extension>");
  process.exit(2);
}
const readJson = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return null; } };
const meta = readJson(path.join(runDir, "meta.json"));
const end = readJson(path.join(runDir, "end.json")) || {};
const phases = fs.readFileSync(path.join(runDir, "phases.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

// ------------------------------------------------------------------------------------------------ collect
const servers = []; // one row per round x scenario x target
const pgbench = [];
const scrypt = [];
for (const p of phases) {
  if (p.kind === "server") {
    const f = fs.existsSync(p.dir) ? fs.readdirSync(p.dir).find((n) => /^bench-.*\.json$/.test(n)) : null;
    const data = f ? readJson(path.join(p.dir, f)) : null;
    const row = data && data.results && data.results[0];
    const r = { round: p.round, scenario: p.scenario, target: p.target, busy_before_pct: p.busy_before_pct,
      loadavg1_before: p.loadavg1_before, client_cpu_s: p.client_cpu_s, exit_code: p.exit_code, ok: !!row };
    if (row) {
      Object.assign(r, {
        req_per_s: row.req_per_s, total: row.total, lat_p50_ms: row.lat_p50_ms, lat_p90_ms: row.lat_p90_ms,
        lat_p99_ms: row.lat_p99_ms, lat_max_ms: row.lat_max_ms, non2xx: row.non2xx, errors: row.errors,
        timeouts: row.timeouts, server_cpu_ms_per_req: row.server_cpu_ms_per_req, pg_cpu_ms_per_req: row.pg_cpu_ms_per_req,
        cpu_ms_per_req: row.server_cpu_ms_per_req != null && row.pg_cpu_ms_per_req != null
          ? +(row.server_cpu_ms_per_req + row.pg_cpu_ms_per_req).toFixed(4) : null,
        rss_before_mb: row.rss_before_mb, rss_peak_mb: row.rss_peak_mb, rss_hwm_mb: row.rss_hwm_mb,
        loadavg1_after: row.loadavg1_after,
      });
    } else {
      let err = "";
      try { err = fs.readFileSync(path.join(p.dir, "stderr.log"), "utf8").trim().split("\n").slice(-3).join(" | "); } catch {}
      r.error = err || `bench.mjs exit ${p.exit_code}`;
    }
    servers.push(r);
  } else if (p.kind === "pgbench") {
    pgbench.push({ round: p.round, busy_before_pct: p.busy_before_pct, loadavg1_before: p.loadavg1_before, exit_code: p.exit_code, ...(readJson(p.file) || {}) });
  } else if (p.kind === "scrypt") {
    scrypt.push({ round: p.round, busy_before_pct: p.busy_before_pct, loadavg1_before: p.loadavg1_before, exit_code: p.exit_code, ...(readJson(p.file) || {}) });
  }
}

// ------------------------------------------------------------------------------------------------ summarise
const rounds = [...new Set(phases.map((p) => p.round))].sort((a, b) => a - b);
const scenarios = [...new Set(servers.map((r) => r.scenario))];
const best = (rows, key) => rows.filter((r) => r[key] != null).reduce((a, b) => (a && a[key] >= b[key] ? a : b), null);
const rowsOf = (s, t) => servers.filter((r) => r.scenario === s && r.target === t && r.ok);
const ratio = (a, b) => (a != null && b ? +(a / b).toFixed(3) : null);

const per_scenario = {};
for (const s of scenarios) {
  const pw = best(rowsOf(s, "pgwarden"), "req_per_s");
  const ba = best(rowsOf(s, "betterauth"), "req_per_s");
  per_scenario[s] = {
    pgwarden_best_req_per_s: pw?.req_per_s ?? null, betterauth_best_req_per_s: ba?.req_per_s ?? null,
    req_per_s_ratio: ratio(pw?.req_per_s, ba?.req_per_s),
    req_per_s_ratio_per_round: rounds.map((r) => ratio(
      servers.find((x) => x.round === r && x.scenario === s && x.target === "pgwarden")?.req_per_s,
      servers.find((x) => x.round === r && x.scenario === s && x.target === "betterauth")?.req_per_s)),
    // CPU per request (server + its Postgres backends), Better Auth / pgwarden: the steadier figure
    cpu_per_req_ratio_betterauth_over_pgwarden: ratio(
      Math.min(...rowsOf(s, "betterauth").map((r) => r.cpu_ms_per_req ?? Infinity)),
      Math.min(...rowsOf(s, "pgwarden").map((r) => r.cpu_ms_per_req ?? Infinity))),
  };
  if (!Number.isFinite(per_scenario[s].cpu_per_req_ratio_betterauth_over_pgwarden)) per_scenario[s].cpu_per_req_ratio_betterauth_over_pgwarden = null;
}
const pgbBest = best(pgbench, "tps");
const scryptBest = best(scrypt, "hashes_per_s");
const gsPw = per_scenario["get-session"]?.pgwarden_best_req_per_s ?? null;
const siPw = per_scenario["sign-in-email"]?.pgwarden_best_req_per_s ?? null;
const pwRows = servers.filter((r) => r.target === "pgwarden" && r.ok);
const mb = (kb) => (kb != null ? +(kb / 1024).toFixed(1) : null);
const memory = {
  pgwarden: {
    idle_rss_mb: mb(meta.pgwarden.idle_rss_kb),
    peak_rss_sampled_mb: pwRows.length ? Math.max(...pwRows.map((r) => r.rss_peak_mb || 0)) : null,
    peak_rss_hwm_mb: mb(end.pgwarden?.hwm_kb), rss_after_mb: mb(end.pgwarden?.rss_after_kb),
  },
  betterauth: {
    idle_rss_mb: mb(meta.betterauth.idle_rss_kb),
    peak_rss_sampled_mb: Math.max(0, ...servers.filter((r) => r.target === "betterauth" && r.ok).map((r) => r.rss_peak_mb || 0)) || null,
    peak_rss_hwm_mb: mb(end.betterauth?.hwm_kb), rss_after_mb: mb(end.betterauth?.rss_after_kb),
  },
};
const perRound = (fn) => rounds.map(fn);
const targets = [
  { name: "get-session: pgwarden / Better Auth req/s", value: per_scenario["get-session"]?.req_per_s_ratio ?? null,
    per_round: per_scenario["get-session"]?.req_per_s_ratio_per_round ?? [], unit: "x", goal: ">= 30x", met: (v) => v >= 30 },
  { name: "get-session: pgwarden req/s / pgbench -S TPS", value: ratio(gsPw, pgbBest?.tps),
    per_round: perRound((r) => ratio(servers.find((x) => x.round === r && x.scenario === "get-session" && x.target === "pgwarden")?.req_per_s,
      pgbench.find((x) => x.round === r)?.tps)), unit: "x", goal: ">= 0.3x", met: (v) => v >= 0.3 },
  { name: "sign-in/email: pgwarden req/s / 2-core scrypt limit", value: ratio(siPw, scryptBest?.hashes_per_s),
    per_round: perRound((r) => ratio(servers.find((x) => x.round === r && x.scenario === "sign-in-email" && x.target === "pgwarden")?.req_per_s,
      scrypt.find((x) => x.round === r)?.hashes_per_s)), unit: "%", goal: ">= 90%", met: (v) => v >= 0.9 },
  { name: "sign-in/email, CPU view (not a target): scrypt CPU per hash / pgwarden CPU per sign-in (server + PG)",
    value: null, per_round: perRound((r) => ratio(scrypt.find((x) => x.round === r)?.cpu_ms_per_hash,
      servers.find((x) => x.round === r && x.scenario === "sign-in-email" && x.target === "pgwarden")?.cpu_ms_per_req)),
    unit: "%", goal: "–", info: true, met: () => null },
  { name: "pgwarden idle RSS", value: memory.pgwarden.idle_rss_mb, per_round: [], unit: "MB", goal: "< 30 MB", met: (v) => v < 30 },
  { name: "pgwarden peak RSS under load (VmHWM)", value: memory.pgwarden.peak_rss_hwm_mb, per_round: [], unit: "MB", goal: "< 100 MB", met: (v) => v < 100 },
].map((t) => {
  if (t.info) { // mean of the rounds
    const v = t.per_round.filter((x) => x != null);
    t = { ...t, value: v.length ? +(v.reduce((a, b) => a + b, 0) / v.length).toFixed(3) : null };
  }
  return { ...t, met: t.value == null ? null : t.met(t.value) };
});

const anomalies = [];
for (const r of servers) {
  if (!r.ok) anomalies.push(`round ${r.round} ${r.scenario} ${r.target}: no result (${r.error})`);
  else if (!r.total) anomalies.push(`round ${r.round} ${r.scenario} ${r.target}: no request completed within ${meta.duration_s} s (autocannon errors ${r.errors}, of which timeouts ${r.timeouts}: autocannon gives up on a request after 10 s)`);
  else if (r.non2xx || r.errors || r.timeouts)
    anomalies.push(`round ${r.round} ${r.scenario} ${r.target}: non-2xx ${r.non2xx}, autocannon errors ${r.errors}, of which timeouts ${r.timeouts}${r.timeouts ? " (requests slower than autocannon's 10 s limit)" : ""}`);
}
for (const p of pgbench) if (p.exit_code !== 0 || p.failed) anomalies.push(`round ${p.round} pgbench: exit ${p.exit_code}, failed ${p.failed}`);
for (const p of scrypt) if (p.exit_code !== 0) anomalies.push(`round ${p.round} scrypt limit: exit ${p.exit_code}`);
for (const t of ["pgwarden", "betterauth"]) {
  if (end[t] && end[t].alive === false) anomalies.push(`${t} died during the run (see ${t}.log)`);
  if (end[t]?.log_errors) anomalies.push(`${t}.log: ${end[t].log_errors} error line(s)`);
}

// ------------------------------------------------------------------------------------------------ write
const summary = { per_scenario, pgbench_best_tps: pgbBest?.tps ?? null, scrypt_limit_best_hashes_per_s: scryptBest?.hashes_per_s ?? null, memory };
const result = { meta, end, summary, targets, anomalies, servers, pgbench, scrypt };
fs.mkdirSync(path.dirname(outBase), { recursive: true });
fs.writeFileSync(`${outBase}.json`, JSON.stringify(result, null, 2) + "\n");

const f = (v, d = 1) => (v == null || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
const fr = (v, unit) => (v == null ? "–" : unit === "%" ? `${(v * 100).toFixed(0)}%` : unit === "x" ? `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}x` : `${v.toFixed(1)} ${unit}`);
// autocannon's latency histogram has whole-millisecond resolution: 0 means "under 1 ms".
const fLat = (v, total) => (v == null ? "–" : v === 0 && total ? "<1" : Number(v).toFixed(0));
const fCpu = (v) => (v == null ? "–" : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const label = { pgwarden: "pgwarden", betterauth: "Better Auth" };
const busies = phases.map((p) => p.busy_before_pct).filter((v) => v != null);
const settles = phases.map((p) => p.settle_s).filter((v) => v != null);
const L = [];
L.push(`# pgwarden vs Better Auth 1.6.23 — ${meta.stamp}`, "");
L.push(`${meta.cpus} × ${meta.cpu_model}, ${Math.round(meta.mem_total_kb / 1048576)} GiB; PostgreSQL ${meta.postgres} (two fresh clusters, same settings: ${meta.pg_settings}); node ${meta.node}; ` +
  `autocannon (oracle's bench.mjs) on the same machine, ${meta.connections} connections, ${meta.duration_s} s per scenario, ${meta.rounds} round(s), Better Auth and pgwarden alternating per scenario. ` +
  `pgwarden ${meta.pgwarden.git_rev}${meta.pgwarden.src_files_modified ? ` + ${meta.pgwarden.src_files_modified} modified src file(s)` : ""} (binary built ${meta.pgwarden.binary_mtime}), threads ${meta.pgwarden.threads}; Better Auth rate limiting off, pg pool ${meta.betterauth.pg_pool_max}.`);
L.push("", `Load average (1/5/15 min): start ${meta.loadavg_start.split(" ").slice(0, 3).join(" ")}, end ${(end.loadavg_end || "").split(" ").slice(0, 3).join(" ")}; busy-before (1 s before each phase, all CPUs): ${busies.length ? `${Math.min(...busies)}–${Math.max(...busies)} %` : "–"}${settles.length ? `; each phase started once both servers were idle (waited up to ${Math.max(...settles)} s)` : ""}.`, "");

L.push("## Targets (issue 2)", "");
L.push("| target | measured | per round | goal | met |", "| --- | --- | --- | --- | --- |");
for (const t of targets)
  L.push(`| ${t.name} | ${fr(t.value, t.unit)} | ${t.per_round.length ? t.per_round.map((v) => fr(v, t.unit)).join(" / ") : "–"} | ${t.goal} | ${t.met == null ? "–" : t.met ? "yes" : "**no**"} |`);
L.push("", "Measured = best round of each side (pgbench -S and the scrypt limit: best round too, i.e. the harder reference); the CPU view is the mean of the rounds and does not depend on how much CPU the neighbours left (100% = a sign-in costs pgwarden exactly one bare hash).", "");

L.push("## Per scenario", "");
L.push("| scenario | server | round | req/s | p50 ms¹ | p99 ms¹ | CPU ms/req server + PG = total | peak RSS MB | non-2xx / errors / timeouts | client CPU s | busy-before % | load1 |");
L.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const s of scenarios) {
  for (const r of rounds) {
    for (const t of ["betterauth", "pgwarden"]) {
      const x = servers.find((y) => y.round === r && y.scenario === s && y.target === t);
      if (!x) continue;
      if (!x.ok) { L.push(`| ${s} | ${label[t]} | ${r} | failed: ${x.error.replace(/\|/g, "/").slice(0, 120)} | | | | | | | ${f(x.busy_before_pct, 0)} | ${f(x.loadavg1_before, 2)} |`); continue; }
      L.push(`| ${s} | ${label[t]} | ${r} | ${f(x.req_per_s, x.req_per_s < 100 ? 1 : 0)} | ${fLat(x.lat_p50_ms, x.total)} | ${fLat(x.lat_p99_ms, x.total)} | ` +
        `${fCpu(x.server_cpu_ms_per_req)} + ${fCpu(x.pg_cpu_ms_per_req)} = ${fCpu(x.cpu_ms_per_req)} | ${f(x.rss_peak_mb)} | ${x.non2xx} / ${x.errors} / ${x.timeouts} | ${f(x.client_cpu_s, 1)} | ${f(x.busy_before_pct, 0)} | ${f(x.loadavg1_before, 2)} |`);
    }
    if (s === "get-session") {
      const p = pgbench.find((y) => y.round === r);
      if (p) L.push(`| (database limit) | pgbench -S (${meta.pgbench.mode}, -c ${meta.pgbench.clients} -j ${meta.pgbench.threads}, scale ${meta.pgbench.scale}) | ${r} | ${f(p.tps, 0)} TPS | – | avg ${f(p.lat_avg_ms, 2)} | PG ${fCpu(p.pg_cpu_ms_per_tx)} ms/tx | – | failed ${p.failed ?? "–"} | – | ${f(p.busy_before_pct, 0)} | ${f(p.loadavg1_before, 2)} |`);
    }
    if (s === "sign-in-email") {
      const p = scrypt.find((y) => y.round === r);
      if (p) L.push(`| (scrypt limit) | node:crypto.scrypt N=16384 r=16 p=1, ${p.threads} threads | ${r} | ${f(p.hashes_per_s, 1)} hashes/s | – | – | ${fCpu(p.cpu_ms_per_hash)} ms/hash | – | – | – | ${f(p.busy_before_pct, 0)} | ${f(p.loadavg1_before, 2)} |`);
    }
  }
}
L.push("", "¹ autocannon's latency histogram counts whole milliseconds (\"<1\" = under 1 ms). CPU = utime + stime from /proc of the server process (all threads) and of its Postgres cluster's backends during the scenario, divided by the requests completed; client CPU = the autocannon process (it shares the 2 cores). Better Auth's sign-ins complete in bursts of about one per connection (its cookie HMAC, WebCrypto, queues in the libuv pool behind every pending scrypt), so its sign-in req/s is coarse and its CPU/req includes hashes still in flight at the end.");
L.push("", "## Ratios pgwarden / Better Auth", "");
L.push("| scenario | req/s ratio (best) | per round | CPU per request, Better Auth / pgwarden |", "| --- | --- | --- | --- |");
for (const s of scenarios) {
  const x = per_scenario[s];
  L.push(`| ${s} | ${fr(x.req_per_s_ratio, "x")} | ${x.req_per_s_ratio_per_round.map((v) => fr(v, "x")).join(" / ")} | ${fr(x.cpu_per_req_ratio_betterauth_over_pgwarden, "x")} |`);
}
L.push("", "## Memory (server process RSS)", "");
L.push("| server | idle after start MB | peak under load MB (VmHWM) | peak sampled every 100 ms MB | after the run MB |", "| --- | --- | --- | --- | --- |");
for (const t of ["pgwarden", "betterauth"]) {
  const m = memory[t];
  L.push(`| ${label[t]} | ${f(m.idle_rss_mb)} | ${f(m.peak_rss_hwm_mb)} | ${f(m.peak_rss_sampled_mb)} | ${f(m.rss_after_mb)} |`);
}
L.push("", "## Anomalies", "", anomalies.length ? anomalies.map((a) => `- ${a}`).join("\n") : "None: no errors, timeouts or non-2xx responses in either server; no error lines in their logs.", "");
const md = L.join("\n");
fs.writeFileSync(`${outBase}.md`, md);
console.log(md);
console.log(`\n[bench] -> ${outBase}.json, ${outBase}.md`);
