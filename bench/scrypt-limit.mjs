// The sign-in ceiling of this machine: how many Better Auth password hashes (scrypt N=16384, r=16, p=1,
// dkLen=64; node:crypto.scrypt = OpenSSL EVP_PBE_scrypt, the same cost as pgwarden's) <threads> threads
// complete per second. Each thread runs hashes back to back for <seconds>.
//   UV_THREADPOOL_SIZE=2 node bench/scrypt-limit.mjs <out.json> [seconds]
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";

const out = process.argv[2];
const seconds = Number(process.argv[3] || 5);
const threads = Number(process.env.UV_THREADPOOL_SIZE || 4);
const PARAMS = { N: 16384, r: 16, p: 1, maxmem: 64 * 1024 * 1024 };
const salt = crypto.randomBytes(16).toString("hex"); // Better Auth: hex string of 16 random bytes
const password = "bench-password-123";
const hash = () => new Promise((res, rej) => crypto.scrypt(password.normalize("NFKC"), salt, 64, PARAMS, (e, k) => (e ? rej(e) : res(k))));

await hash(); // warm-up (pool threads, page faults of the 32 MiB block)
const load0 = os.loadavg()[0];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let done = 0;
async function chain() {
  while (performance.now() - t0 < seconds * 1000) {
    await hash();
    done++;
  }
}
await Promise.all(Array.from({ length: threads }, chain));
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const res = {
  threads, seconds: +elapsed.toFixed(3), hashes: done,
  hashes_per_s: +(done / elapsed).toFixed(2),
  cpu_ms_per_hash: +((cpu.user + cpu.system) / 1000 / done).toFixed(2),
  params: { ...PARAMS, dkLen: 64 },
  loadavg1_before: +load0.toFixed(2), loadavg1_after: +os.loadavg()[0].toFixed(2),
};
fs.writeFileSync(out, JSON.stringify(res, null, 2));
console.log(`scrypt limit (${threads} threads): ${res.hashes_per_s} hashes/s, ${res.cpu_ms_per_hash} CPU ms/hash`);
