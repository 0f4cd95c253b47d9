// A chunked deployment, executions and the download through node-appwrite.
// argv: <archive.tar.gz> <where to write the downloaded archive>
"use strict";
const fs = require("node:fs");
const { InputFile } = require("node-appwrite/file");
const { sdk, functions, poll, run } = require("./judge.cjs");

run(async () => {
  const [archive, downloadTo] = process.argv.slice(2);
  const fx = functions();
  await fx.create("big", "Big", sdk.Runtime.Python311, ["any"], [], "", 15, true, true, "main.py");
  await fx.createVariable("big", "GREETING", "hello from node");

  const progress = [];
  const uploaded = await fx.createDeployment("big", InputFile.fromPath(archive, "code.tar.gz"), true, undefined, undefined,
    (step) => progress.push(step));
  const built = await poll(() => fx.getDeployment("big", uploaded.$id), (d) => ["ready", "failed", "canceled"].includes(d.status),
    120, "the build");
  const active = await fx.get("big");

  const sync = await fx.createExecution("big", JSON.stringify({ n: 1 }), false, "/echo?x=1", sdk.ExecutionMethod.POST,
    { "content-type": "application/json" });
  const queued = await fx.createExecution("big", "async body", true, "/later", sdk.ExecutionMethod.PUT);
  const finished = await poll(() => fx.getExecution("big", queued.$id), (e) => ["completed", "failed"].includes(e.status),
    60, "the async execution");
  const executions = await fx.listExecutions("big", [sdk.Query.equal("trigger", ["http"])]);

  const download = Buffer.from(await fx.getDeploymentDownload("big", uploaded.$id));
  fs.writeFileSync(downloadTo, download);
  return {
    uploaded, progress, built, activeDeployment: active.deployment, sync, queued, finished,
    executionsTotal: executions.total, downloadSize: download.length,
  };
});
