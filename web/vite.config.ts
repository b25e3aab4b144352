import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The API serves dist/web; during `vite dev` the API runs separately, so proxy /api to it.
const apiTarget = process.env.SMART_CRON_API ?? 'http://127.0.0.1:7420';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [preact({ prefreshEnabled: true, devToolsEnabled: false })],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 200,
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
});
