import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // The addon is loaded once per worker process; --expose-gc lets tests check finalizers.
    pool: "forks",
    execArgv: ["--expose-gc"],
    // Under CI every test is listed by name, the skipped ones (CUDA variants without a GPU) too.
    reporters: process.env.CI === "true" ? ["verbose"] : ["default"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
