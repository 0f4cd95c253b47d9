// A CommonJS function written the Appwrite way (Open Runtimes v4 contract).
module.exports = async ({ req, res, log, error }) => {
  if (req.path === "/text") return res.text(`plain hello ${req.query.name ?? "world"}`);
  if (req.path === "/redirect") return res.redirect("https://appwrite.io/docs", 302);
  if (req.path === "/empty") return res.empty();
  if (req.path === "/logs") {
    log("a log line", { n: 1 });
    error("an error line");
    console.log("printed natively");
    return res.send("logged");
  }
  if (req.path === "/env") {
    const names = ["MY_VAR", "APPWRITE_FUNCTION_ID", "APPWRITE_FUNCTION_RUNTIME_NAME", "FNSYNC_SERVER_SECRET"];
    return res.json(Object.fromEntries(names.map((n) => [n, process.env[n] ?? null])));
  }
  if (req.path === "/throw") throw new Error("thrown on purpose");
  if (req.path === "/sleep") {
    await new Promise((r) => setTimeout(r, Number(req.query.s ?? 60) * 1000));
    return res.text("woke up");
  }
  if (req.path === "/flood") {
    for (;;) console.log("x".repeat(1000));
  }
  if (req.path === "/binary") return res.binary(Buffer.from([104, 105]), 200, { "content-type": "application/octet-stream" });
  return res.json(
    {
      method: req.method,
      path: req.path,
      query: req.query,
      queryString: req.queryString,
      body: req.body,
      bodyText: req.bodyText,
      headers: req.headers,
      host: req.host,
      port: req.port,
      scheme: req.scheme,
      url: req.url,
      pid: process.pid,
    },
    201,
    { "x-custom": "yes" },
  );
};
