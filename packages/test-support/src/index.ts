export { startRedis, type TestRedis } from './redis';
export { ping } from './ping';
export { startCluster, type StartClusterOptions, type TestCluster, type ClusterNode } from './cluster';
export { startSentinel, type StartSentinelOptions, type TestSentinel, type Address } from './sentinel';
export { freePort } from './ports';
export { waitFor } from './wait';
export { CookieClient } from './http';
export { startChild, type ChildServer } from './processes';
export { createTestClient, CLIENT_KINDS, type ClientKind, type TestClient, type TestClientOptions, type Where, type AnyTestClient } from './clients';
