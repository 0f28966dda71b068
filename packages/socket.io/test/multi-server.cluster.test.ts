/**
 * The multi-server scenarios (multi-server.suite.ts) against a local 3-master Redis Cluster, once
 * per client library: the store publishes with SPUBLISH, each app server SSUBSCRIBEs through a
 * sharded subscriber, and nothing is left subscribed on any master.
 */
import { CLIENT_KINDS } from '@live-session/test-support';
import { clusterTargets, multiServerSuite } from './multi-server.suite';

const MASTERS = 3;

const { target, close } = clusterTargets(MASTERS);
afterAll(close);

for (const kind of CLIENT_KINDS) multiServerSuite(`Redis Cluster, ${MASTERS} masters, ${kind}`, () => target(kind));
