import { openStore, populate, sids as makeSids, smallSession, loadAsExpressSession, promisify, OURS, CONNECT_REDIS } from '/work/main/bench/src/stores';
(async () => {
  const which = process.argv[2];
  const kind = process.argv[3] ?? 'write';
  const open = await openStore(which === 'ours' ? OURS : which === 'mem' ? ('MemoryStore' as never) : CONNECT_REDIS, 'redis://127.0.0.1:6379', `prof:${which}:`, { autoPipelining: true, options: which === 'ours' ? { cache: process.env.MAX ? { maxSessions: Number(process.env.MAX) } : !process.env.NOCACHE } : {} });
  const sids = makeSids(Number(process.env.N ?? 2000));
  await populate(open.store, sids, smallSession);
  let n = 0;
  const run = async (ms: number) => {
    const deadline = Date.now() + ms;
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (Date.now() < deadline) {
        const sid = sids[next++ % sids.length];
        const sess = await loadAsExpressSession(open.store, sid);
        if (kind === 'write') sess.visits = ((sess.visits as number) ?? 0) + 1;
        sess.touch();
        if (kind === 'write') await promisify<void>((cb) => open.store.set(sid, sess, cb));
        else await promisify<void>((cb) => open.store.touch!(sid, sess, cb as (err?: unknown) => void));
        n++;
      }
    }));
  };
  await run(2000);
  let writes = 0, bytes = 0, spent = 0n;
  const net = require('node:net');
  const orig = net.Socket.prototype.write;
  net.Socket.prototype.write = function (chunk: any, ...rest: any[]) { writes++; bytes += chunk.length; const t = process.hrtime.bigint(); const r = orig.call(this, chunk, ...rest); spent += process.hrtime.bigint() - t; return r; };
  n = 0;
  const inspector = require('node:inspector');
  const session = new inspector.Session(); session.connect();
  const post = (m: string, p?: any) => new Promise<any>((res, rej) => session.post(m, p, (e: any, r: any) => (e ? rej(e) : res(r))));
  if (process.env.PROF) { await post('Profiler.enable'); await post('Profiler.setSamplingInterval', { interval: 100 }); await post('Profiler.start'); }
  const t = process.cpuUsage();
  const t0 = Date.now();
  await run(4000);
  const cpu = process.cpuUsage(t);
  if (process.env.PROF) { const { profile } = await post('Profiler.stop'); require('fs').mkdirSync('/tmp/prof', { recursive: true }); require('fs').writeFileSync('/tmp/prof/p.cpuprofile', JSON.stringify(profile)); }
  console.log('socket writes per cycle', (writes / n).toFixed(2), 'bytes per cycle', (bytes / n).toFixed(0), 'us in write per cycle', (Number(spent) / 1000 / n).toFixed(1));
  console.log(which, kind, 'cycles/s', Math.round(n / ((Date.now() - t0) / 1000)), 'node us/cycle', ((cpu.user + cpu.system) / n).toFixed(1), 'user', (cpu.user / n).toFixed(1), 'sys', (cpu.system / n).toFixed(1));
  await open.close();
  process.exit(0);
})();
