// Scheduled job (Open Runtimes, node-20.0): runs every 15 minutes and reports what it would clean up.
export default async ({ req, res, log, error }) => {
  const maxAgeHours = Number(process.env.MAX_AGE_HOURS ?? '24');
  if (!Number.isFinite(maxAgeHours) || maxAgeHours <= 0) {
    error('MAX_AGE_HOURS must be a positive number');
    return res.json({ ok: false }, 500);
  }
  const cutoff = new Date(Date.now() - maxAgeHours * 3600 * 1000).toISOString();
  log(`cleaning up records older than ${cutoff} (trigger: ${req.headers['x-appwrite-trigger'] ?? 'manual'})`);
  return res.json({ ok: true, cutoff });
};
