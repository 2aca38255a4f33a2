// Vite build of the web UI. The control plane serves web/dist; `npm run dev` proxies the API
// to a control plane given by CL_DEV_CONTROL_PLANE (default http://127.0.0.1:8080).
import { defineConfig } from 'vite';

const controlPlane = process.env.CL_DEV_CONTROL_PLANE ?? 'http://127.0.0.1:8080';

export default defineConfig({
  // JSX through esbuild's automatic runtime: no React plugin needed.
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The server's CSP allows only same-origin scripts/styles: never inline assets as data: URLs
    // into scripts, and keep the module preload polyfill out (it would be an inline script).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    proxy: {
      '/v1': controlPlane,
      '/auth': controlPlane,
    },
  },
});
