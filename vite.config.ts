/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('./frontend'),
  base: '/',
  publicDir: here('./frontend/public'),
  plugins: [svelte({ configFile: here('./svelte.config.js') })],
  build: {
    outDir: here('./frontend/dist'),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: 'http://127.0.0.1:8420', changeOrigin: false, ws: false },
    },
  },
  test: {
    root: here('./frontend'),
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
