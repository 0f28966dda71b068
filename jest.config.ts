import type { Config } from 'jest';

/** One jest project per package; every test talks to a real Redis (see packages/test-support). */
const project = (name: string, dir: string): NonNullable<Config['projects']>[number] => ({
  displayName: name,
  rootDir: dir,
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: "<rootDir>/tsconfig.json" }] },
});

const config: Config = {
  projects: [
    project('core', '<rootDir>/packages/core'),
    project('socket.io', '<rootDir>/packages/socket.io'),
    project('fastify', '<rootDir>/packages/fastify'),
    project('sse', '<rootDir>/packages/sse'),
    project('ws', '<rootDir>/packages/ws'),
    project('example-cart', '<rootDir>/examples/cart'),
    project('bench', '<rootDir>/bench'),
    project('docs-check', '<rootDir>/packages/docs-check'),
  ],
  testTimeout: 30_000,
};

export default config;
