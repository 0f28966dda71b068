/**
 * The Store contract against a local 3-master Redis Cluster (the suite lives in
 * store-contract.suite.ts), once per client library: all/ids/length/clear must SCAN every master,
 * changes are published with SPUBLISH and received through SSUBSCRIBE, and no command spans slots.
 */
import { CLIENT_KINDS, createTestClient, startCluster, type TestCluster } from '@live-session/test-support';
import { storeContractSuite } from './store-contract.suite';

const MASTERS = 3;

// One Cluster for the file: starting one takes seconds on this machine.
let cluster: Promise<TestCluster> | undefined;
afterAll(async () => (await cluster)?.close());

for (const kind of CLIENT_KINDS) {
  storeContractSuite(`Redis Cluster, 3 masters, ${kind}`, async () => {
    cluster ??= startCluster({ masters: MASTERS });
    const client = await createTestClient(kind, { cluster: (await cluster).nodes });
    return { client, close: () => client.close(), masters: MASTERS };
  });
  storeContractSuite(
    `Redis Cluster, 3 masters, ${kind}, reads from memory (cache)`,
    async () => {
      cluster ??= startCluster({ masters: MASTERS });
      const client = await createTestClient(kind, { cluster: (await cluster).nodes });
      return { client, close: () => client.close(), masters: MASTERS };
    },
    { prefix: 'contract[c]:', options: { cache: true } },
  );
}
