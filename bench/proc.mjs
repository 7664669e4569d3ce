// /proc helpers for the bench scripts (same accounting as the oracle's bench.mjs): CPU = utime + stime of
// every direct child of a postmaster, plus what its reaped (exited) children used.
import fs from "node:fs";
import net from "node:net";

const TICK_MS = 1000 / Number(process.env.CLK_TCK || 100);

function statFields(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return f.slice(f.lastIndexOf(")") + 2).split(" "); // [0] = state, [1] = ppid, [11] = utime, [12] = stime
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

// A free TCP port on 127.0.0.1 (the kernel picks one; the listener is closed before the port is used).
export function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}
