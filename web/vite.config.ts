import { defineConfig } from 'vite';

// Development only: the Rust server answers the API; Vite serves the page.
// LINESMAP_API points at a running `linesmap serve` (default 127.0.0.1:18090).
const target = process.env.LINESMAP_API || 'http://127.0.0.1:18090';
const proxy = Object.fromEntries(
  ['/api', '/collections', '/openapi', '/health', '/conformance'].map((p) => [p, { target, changeOrigin: true }]),
);

export default defineConfig({
  server: { proxy },
  preview: { proxy },
  build: {
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        // The MapLibre worker is emitted as an asset; name it .js so any static server sends a JS type.
        assetFileNames: (a: { name?: string; names?: string[] }) =>
          /\.mjs$/.test(a.names?.[0] ?? a.name ?? '') ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]',
      },
    },
  },
});
