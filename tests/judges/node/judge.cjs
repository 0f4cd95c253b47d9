// Shared by the node-appwrite judge scripts: a client from the environment, SDK errors as data, polling, output.
// The scripts print one JSON object on stdout; pytest (tests/localserver/test_node_sdk.py) asserts on it.
"use strict";
const sdk = require("node-appwrite");

function functions() {
  const client = new sdk.Client()
    .setEndpoint(process.env.APPWRITE_ENDPOINT)
    .setProject(process.env.APPWRITE_PROJECT)
    .setKey(process.env.APPWRITE_KEY);
  return new sdk.Functions(client);
}

// The call's result, or the AppwriteException it raised as {code, type, message}; anything else is a crash.
async function attempt(call) {
  try {
    return { ok: await call() };
  } catch (error) {
    if (error instanceof sdk.AppwriteException) {
      return { error: { code: error.code, type: error.type, message: error.message } };
    }
    throw error;
  }
}

// Call `probe` until `done(value)` holds, or throw after `seconds`.
async function poll(probe, done, seconds, what) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function run(main) {
  main().then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error) => {
      process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
      process.exit(1);
    },
  );
}

module.exports = { sdk, functions, attempt, poll, run };
