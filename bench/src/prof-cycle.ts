import { LiveSessionStore } from '@live-session/core';
import { Redis } from 'ioredis';
import { loadAsExpressSession, populate, promisify, sids as makeSids, smallSession } from './stores';

async function main() {
  const kind = process.argv[2] ?? 'read';
  const touchAfter = Number(process.argv[3] ?? 0);
  const client = new Redis('redis://127.0.0.1:6379/5', { enableAutoPipelining: process.env.AP === '1' });
  const store = new LiveSessionStore({ client, prefix: 'prof:', touchAfter });
  const sids = process.env.KEEP ? (await client.keys('prof:*')).map((k) => k.slice(5)) : makeSids(10000);
  if (!process.env.KEEP) await populate(store, sids, smallSession);
  if (process.env.SCRIPT) (store as any).readHash = (store as any).read;
  let next = 0;
  const run = async (ms: number) => {
    const deadline = performance.now() + ms;
    let n = 0;
    const loop = async () => {
      while (performance.now() < deadline) {
        const sid = sids[next++ % sids.length];
        const sess = await loadAsExpressSession(store, sid);
        if (kind === 'write') (sess as any).visits = ((sess as any).visits ?? 0) + 1;
        sess.touch();
        if (kind === 'write') await promisify<void>((cb) => store.set(sid, sess as any, cb));
        else await promisify<void>((cb) => store.touch(sid, sess as any, cb as any));
        n++;
      }
    };
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: 50 }, loop));
    const c = process.cpuUsage(c0);
    return { n, nodeUs: (c.user + c.system) / n };
  };
  await run(1000);
  console.log(kind, touchAfter, await run(4000));

  client.disconnect();
}
main();
