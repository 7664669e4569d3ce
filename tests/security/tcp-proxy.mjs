// A TCP fault injector for the reliability tests (security.md "DB proxy"): sits between pgwarden and Postgres
// (or any TCP service) and can drop the service and bring it back while the server runs.
//
//   const proxy = await TcpProxy.start({ host, port } | { path })  -> proxy.port (listens on 127.0.0.1)
//   proxy.cut()        every open connection is reset (RST) and new ones are reset as soon as accepted:
//                      the database "went away" (crash, failover, network cut)
//   proxy.blackhole()  open connections stop forwarding and new ones are accepted but never answered: the
//                      database "hangs" (a partition where packets vanish)
//   proxy.restore()    forward again; connections held by blackhole() are reset (their streams lost bytes)
//   proxy.accepted     connections accepted so far; proxy.open: connections currently open
//   proxy.close()
import net from 'node:net';

export class TcpProxy {
  static async start(target) {
    const p = new TcpProxy(target);
    await new Promise((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', resolve);
    });
    p.port = p.server.address().port;
    return p;
  }

  constructor(target) {
    this.target = target;
    this.mode = 'forward';
    this.pairs = new Set();
    this.accepted = 0;
    this.server = net.createServer((client) => this.onConnection(client));
  }

  get open() { return this.pairs.size; }

  onConnection(client) {
    this.accepted++;
    client.on('error', () => {});
    if (this.mode === 'cut') { client.resetAndDestroy(); return; }
    const pair = { client, upstream: null, held: this.mode === 'blackhole' };
    this.pairs.add(pair);
    client.on('close', () => { pair.upstream?.destroy(); this.pairs.delete(pair); });
    if (pair.held) { client.on('data', () => {}); return; }  // accepted, never answered
    this.connectUpstream(pair);
  }

  connectUpstream(pair) {
    const upstream = this.target.path ? net.connect(this.target.path) : net.connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => pair.client.resetAndDestroy());
    upstream.on('close', () => pair.client.destroy());
    pair.client.on('data', (d) => { if (!pair.held) upstream.write(d); });
    upstream.on('data', (d) => { if (!pair.held) pair.client.write(d); });
  }

  cut() {
    this.mode = 'cut';
    for (const pair of [...this.pairs]) {
      pair.client.resetAndDestroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  blackhole() {
    this.mode = 'blackhole';
    for (const pair of this.pairs) pair.held = true;  // bytes in both directions are dropped from now on
  }

  restore() {
    this.mode = 'forward';
    for (const pair of [...this.pairs]) {
      if (!pair.held) continue;
      pair.client.resetAndDestroy();
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    }
  }

  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
