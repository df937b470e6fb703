import { defineConfig } from 'vite';

// Built with `vite build web` (root web/, output web/dist).
// esbuild's own JSX transform (automatic runtime) instead of @vitejs/plugin-react: the build needs
// no Babel and no plugin; what is lost is only Fast Refresh in `vite dev`.
export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Mantine and the icon set make one ~700 kB chunk; the UI is served locally, so a split buys
    // little and the warning would only be noise.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      onwarn(warning, warn) {
        // Mantine marks its modules "use client" for React Server Components; meaningless in a
        // client-only bundle, and hundreds of lines of noise.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    // `npx vite web` during development: the API runs separately (`npm start`, port 8080).
    proxy: { '/v1': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080', '/openapi.json': 'http://127.0.0.1:8080' },
  },
});
