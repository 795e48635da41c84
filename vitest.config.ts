import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // onnxruntime sessions and large typed arrays are not fork-friendly in threads; forks keep native
    // state per test file.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
