export { startRedis, ping, type TestRedis } from './redis';
export { freePort } from './ports';
export { waitFor } from './wait';
export { CookieClient } from './http';
export { startChild, type ChildServer } from './processes';
