// The database's limit: `pgbench -S` (built-in select-only script: one primary-key SELECT per transaction,
// simple query protocol) against the same kind of cluster the servers use, with CPU per transaction of the
// Postgres backends from /proc (same accounting as bench.mjs).
//   node bench/pgbench.mjs <out.json>
//   env: PG_BIN, PGHOST (socket dir), PGPORT, PGUSER, PGDATABASE, PGBENCH_CLIENTS, PGBENCH_THREADS,
//        PGBENCH_DURATION, PGBENCH_MODE (simple|extended|prepared), PG_POSTMASTER_PID
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { pgChildrenCpu, pgDelta, reapedChildrenCpuMs } from "./proc.mjs";

const out = process.argv[2];
const env = process.env;
const clients = Number(env.PGBENCH_CLIENTS || 32);
const threads = Number(env.PGBENCH_THREADS || 2);
const duration = Number(env.PGBENCH_DURATION || 10);
const mode = env.PGBENCH_MODE || "simple";
const postmaster = Number(env.PG_POSTMASTER_PID || 0);
const args = ["-n", "-S", "-M", mode, "-c", String(clients), "-j", String(threads), "-T", String(duration)];

const load0 = os.loadavg()[0];
const pg0 = pgChildrenCpu(postmaster);
const reaped0 = reapedChildrenCpuMs(postmaster);
const child = spawn(`${env.PG_BIN}/pgbench`, args, { stdio: ["ignore", "pipe", "pipe"] });
let stdout = "", stderr = "";
child.stdout.on("data", (d) => (stdout += d));
child.stderr.on("data", (d) => (stderr += d));
child.on("close", async (code) => {
  // pgbench's backends exit with it: their CPU shows up in the postmaster's cutime/cstime once reaped.
  await new Promise((r) => setTimeout(r, 300));
  const num = (re) => { const m = stdout.match(re); return m ? Number(m[1]) : null; };
  const tps = num(/tps = ([\d.]+) \(without initial connection time\)/) ?? num(/tps = ([\d.]+)/);
  const tx = num(/number of transactions actually processed: (\d+)/);
  const failed = num(/number of failed transactions: (\d+)/) ?? 0;
  const pgCpu = postmaster ? pgDelta(pg0, pgChildrenCpu(postmaster)) + reapedChildrenCpuMs(postmaster) - reaped0 : null;
  const res = {
    command: `pgbench ${args.join(" ")}`, exit_code: code, tps, transactions: tx, failed,
    lat_avg_ms: num(/latency average = ([\d.]+) ms/),
    pg_cpu_ms_per_tx: pgCpu !== null && tx ? +(pgCpu / tx).toFixed(4) : null,
    loadavg1_before: +load0.toFixed(2), loadavg1_after: +os.loadavg()[0].toFixed(2),
  };
  if (code !== 0) res.stderr = stderr.slice(-2000);
  fs.writeFileSync(out, JSON.stringify(res, null, 2));
  console.log(`pgbench -S: ${tps} tps, avg ${res.lat_avg_ms} ms, PG CPU ${res.pg_cpu_ms_per_tx} ms/tx, exit ${code}`);
  process.exit(code === 0 ? 0 : 1);
});
