/** The master of a Sentinel deployment (one replica, three sentinels) killed during live traffic (failover.suite.ts). */
import { type Address, startSentinel, waitFor } from '@live-session/test-support';
import { failoverSuite } from './failover.suite';

/** Once as it is, once with the store's reads from memory (the app servers' reads must stay exact through the failover). */
for (const cache of [false, true]) failoverSuite(`Sentinel, one master and one replica${cache ? ', reads from memory' : ''}`, async () => {
  const sentinel = await startSentinel();
  let killed: Address | undefined;
  return {
    env: {
      REDIS_SENTINELS: sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
      REDIS_SENTINEL_NAME: sentinel.name,
      ...(cache ? { CACHE: '1' } : {}),
    },
    killMasterOf: async () => {
      killed = await sentinel.killMaster();
    },
    failedOver: async () => {
      await waitFor(async () => (await sentinel.master()).port !== killed!.port, { timeout: 20_000, interval: 100, what: 'the sentinels to promote the replica' });
    },
    close: () => sentinel.close(),
  };
});
