// Service worker: after one visit the page works offline.
// The page, its scripts and the package (wasm included) are served cache-first
// and refreshed in the background. Models and their manifests are never
// touched here: a manifest served cache-first would be the previous
// deployment's after a model update (its sha256 naming a file the server no
// longer has, or the cached copy of a file it replaced). The package keeps
// the model in its own Cache ('densenet-edge-models-v1', keyed by the
// manifest's sha256), fetches the manifest revalidated, and falls back to its
// cached copy of the manifest offline. POST /predict is never cached.
const CACHE = 'densenet-edge-page-v5';
const SHELL = ['./', 'index.html', 'app.js', 'worker.js', 'pkg/classifier.js', 'pkg/answer.js', 'pkg/instance.js', 'pkg/limits.js', 'pkg/densenet_edge_web.js', 'pkg/densenet_edge_web_bg.wasm', 'pkg/densenet_edge_web_relaxed_bg.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  // Earlier versions of this cache held manifests (v4 and before): drop them.
  const old = caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith('densenet-edge-page-') && k !== CACHE).map((k) => caches.delete(k))));
  event.waitUntil(old.then(() => self.clients.claim()));
});

/** Models and manifests: left to the network (and the package's own cache). */
function isModel(url) {
  return url.pathname.includes('/model/') || url.pathname.endsWith('.onnx') || url.pathname.endsWith('.json');
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin || isModel(url)) return;
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
