// An ES module function with a synchronous default export.
export default function ({ req, res, log }) {
  log("esm handler");
  return res.json({ esm: true, pid: process.pid, version: process.env.VERSION_TAG ?? "v1" });
}
