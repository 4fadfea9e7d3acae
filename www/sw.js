// Service worker: after one visit the page works offline.
// The page, its scripts and the package (wasm included) are served cache-first
// and refreshed in the background; the model file is left to the package,
// which keeps it in its own Cache ('densenet-edge-models-v1') and checks its
// sha256 on every load, so it is not stored twice. POST /predict is never
// cached.
const CACHE = 'densenet-edge-page-v4';
const SHELL = ['./', 'index.html', 'app.js', 'worker.js', 'pkg/classifier.js', 'pkg/answer.js', 'pkg/instance.js', 'pkg/limits.js', 'pkg/densenet_edge_web.js', 'pkg/densenet_edge_web_bg.wasm', 'pkg/densenet_edge_web_relaxed_bg.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin || url.pathname.endsWith('.onnx')) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(req, { ignoreSearch: true });
      const fresh = fetch(req)
        .then((res) => {
          if (res.ok) cache.put(req, res.clone());
          return res;
        })
        .catch(() => null);
      if (cached) {
        event.waitUntil(fresh); // refresh for next time
        return cached;
      }
      return (await fresh) || new Response('offline and not cached', { status: 504 });
    }),
  );
});
