import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // No test reaches the network: connections beyond this machine are refused.
    setupFiles: ["test/setup/no-network.ts"],
    // onnxruntime sessions and large typed arrays are not fork-friendly in threads; forks keep native
    // state per test file.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
