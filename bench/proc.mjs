// /proc helpers shared by the bench scripts (same accounting as the oracle's bench.mjs):
// CPU = utime + stime of a process (all its threads) or of every direct child of a postmaster.
import fs from "node:fs";

const TICK_MS = 1000 / Number(process.env.CLK_TCK || 100);

function statFields(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return f.slice(f.lastIndexOf(")") + 2).split(" "); // [0] = state, [1] = ppid, [11] = utime, [12] = stime
}

export function cpuMs(pid) {
  try {
    const r = statFields(pid);
    return (Number(r[11]) + Number(r[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

// CPU ms of the reaped (exited and waited-for) children of a process: cutime + cstime.
export function reapedChildrenCpuMs(pid) {
  try {
    const r = statFields(pid);
    return (Number(r[13]) + Number(r[14])) * TICK_MS;
  } catch {
    return 0;
  }
}

// pid -> CPU ms for every direct child of `postmaster` (backends, walwriter, checkpointer, ...)
export function pgChildrenCpu(postmaster) {
  const m = new Map();
  if (!postmaster) return m;
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const r = statFields(d);
      if (Number(r[1]) === postmaster) m.set(d, (Number(r[11]) + Number(r[12])) * TICK_MS);
    } catch {}
  }
  return m;
}

export function pgDelta(before, after) {
  let t = 0;
  for (const [k, v] of after) t += v - (before.get(k) || 0);
  return t;
}

export function memKb(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m")) || [])[1] || 0);
    return { rss_kb: kb("VmRSS"), hwm_kb: kb("VmHWM") };
  } catch {
    return null;
  }
}

// Share of all CPUs that was busy during `ms` (from /proc/stat): the "busy-before" noise figure.
export async function busyPct(ms = 1000) {
  const read = () => {
    const v = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] || 0);
    return { idle, total: v.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  const dt = b.total - a.total;
  return dt > 0 ? +(100 * (1 - (b.idle - a.idle) / dt)).toFixed(1) : 0;
}
