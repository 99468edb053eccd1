import { defineConfig } from 'vitest/config';
import preact from '@preact/preset-vite';

const port = process.env.FM_PORT || '8080';

export default defineConfig({
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    assetsDir: 'static', // the URL path /assets is a page; static files live under /static/
    modulePreload: { polyfill: false }, // the polyfill would be an inline script (CSP)
    assetsInlineLimit: 0, // no data: URLs for scripts or fonts
    sourcemap: false,
    target: 'es2020',
  },
  server: {
    port: Number(process.env.WEB_PORT || 5173),
    proxy: {
      '/api': {
        target: `http://127.0.0.1:${port}`,
        changeOrigin: false,
        // Dev only, while the server has no session cookie yet: EventSource cannot send headers,
        // so the client passes its dev bearer token as ?fm_dev_token=, turned into a header here.
        configure: (proxy) => {
          proxy.on('proxyReq', (proxyReq, req) => {
            const m = /[?&]fm_dev_token=([^&]*)/.exec(req.url || '');
            if (m) {
              proxyReq.setHeader('Authorization', 'Bearer ' + decodeURIComponent(m[1]));
              proxyReq.path = proxyReq.path.replace(/([?&])fm_dev_token=[^&]*&?/, '$1').replace(/[?&]$/, '');
            }
          });
        },
      },
    },
  },
  // `npm run preview` serves dist/ with the server's Content-Security-Policy, to catch CSP breakage
  preview: {
    port: 4173,
    headers: {
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
