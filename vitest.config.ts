import { defineConfig } from 'vitest/config';

// Two projects: unit tests (fast, no privileges) and host tests (real sockets,
// child daemons, network namespaces). Both run in CI.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['core/test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'host',
          include: ['host-tests/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Host tests share the host (namespaces, NFQUEUE, load): one file at a time.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
