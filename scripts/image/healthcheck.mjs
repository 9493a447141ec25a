// The image's HEALTHCHECK (no curl in the image): exit 0 when the ops listener answers /healthz.
const port = process.env.JIT_OPS_PORT || '9464';
try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
