// Functions and variables through node-appwrite: create, get, list with queries, update, runtimes,
// specifications; variable create/list/get/update/delete; errors for a duplicate key and a missing function.
"use strict";
const { sdk, functions, attempt, run } = require("./judge.cjs");

run(async () => {
  const fx = functions();
  const created = await fx.create("judge", "Judge", sdk.Runtime.Python311, ["any"], [], "", 15, true, true, "main.py");
  const fetched = await fx.get("judge");
  const listed = await fx.list([sdk.Query.equal("name", ["Judge"])]);
  const updated = await fx.update("judge", "Judge 2", sdk.Runtime.Python311, ["any"], [], "", 30, true, true, "main.py");
  const runtimes = await fx.listRuntimes();
  const specifications = await fx.listSpecifications();

  const variable = await fx.createVariable("judge", "GREETING", "hello");
  const duplicate = await attempt(() => fx.createVariable("judge", "GREETING", "again"));
  const variables = await fx.listVariables("judge");
  const gotVariable = await fx.getVariable("judge", variable.$id);
  const changed = await fx.updateVariable("judge", variable.$id, "GREETING", "bonjour");
  const withVars = await fx.get("judge");
  await fx.deleteVariable("judge", variable.$id);
  const afterDelete = await fx.listVariables("judge");

  const missing = await attempt(() => fx.get("nope"));
  await fx.delete("judge");
  const gone = await attempt(() => fx.get("judge"));
  return {
    created, fetched, listedTotal: listed.total, updated,
    runtimesTotal: runtimes.total, specifications: specifications.specifications.map((s) => s.slug),
    variable, duplicate, variablesTotal: variables.total, gotVariable, changed,
    varsOnFunction: withVars.vars.map((v) => [v.key, v.value]), afterDeleteTotal: afterDelete.total,
    missing, gone,
  };
});
