// Worker process for Node.js functions, following the Open Runtimes v4 function contract.
//
// Started by localserver.runtime.worker with the machine's `node` and the deployment's build folder
// as working directory. Requests arrive as JSON lines on an inherited socket (--fd), one at a time;
// each reply is one JSON line. console output and process.stdout/stderr writes are captured per
// execution, so the function can never corrupt the protocol.
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import util from "node:util";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
const LOG_CAP = Number(args["log-cap"] ?? 1000000);
const BODY_CAP = Number(args["body-cap"] ?? 20971520);
const ROOT = process.cwd();
const ENTRYPOINT = args.entrypoint;
const NATIVE_NOTE = "Native logs detected. Use context.log() or context.error() for better experience.\n";

class Capped {
  constructor(cap) {
    this.cap = cap;
    this.parts = [];
    this.size = 0;
    this.dropped = false;
  }
  add(text) {
    this.parts.push(text);
    this.size += text.length;
    if (this.size > 2 * this.cap) {
      const joined = this.parts.join("").slice(-this.cap);
      this.parts = [joined];
      this.size = joined.length;
      this.dropped = true;
    }
  }
  value() {
    let text = this.parts.join("");
    if (text.length > this.cap) {
      text = text.slice(-this.cap);
      this.dropped = true;
    }
    return text;
  }
}

function format(message) {
  if (message instanceof Error) return message.stack || String(message);
  if (typeof message === "string") return message;
  if (message !== null && typeof message === "object") {
    try {
      return JSON.stringify(message);
    } catch {
      return util.inspect(message);
    }
  }
  return String(message);
}

let userFunction = null;
async function loadFunction() {
  if (userFunction) return userFunction;
  const file = path.resolve(ROOT, ENTRYPOINT);
  let mod;
  try {
    mod = createRequire(path.join(ROOT, "noop.js"))(file);
  } catch (err) {
    if (err && (err.code === "ERR_REQUIRE_ESM" || err.code === "ERR_REQUIRE_ASYNC_MODULE")) {
      mod = await import(pathToFileURL(file).href);
    } else {
      throw err;
    }
  }
  let fn = mod && typeof mod === "object" && "default" in mod ? mod.default : mod;
  if (fn && typeof fn === "object" && typeof fn.default === "function") fn = fn.default;
  if (typeof fn !== "function") {
    throw new Error(`${ENTRYPOINT} must export a function (export default async (context) => ... or module.exports = ...).`);
  }
  userFunction = fn;
  return fn;
}

function makeContext(message, logs, errors) {
  const bodyBinary = Buffer.from(message.body ?? "", "base64");
  const headers = {};
  for (const [key, value] of Object.entries(message.headers ?? {})) {
    if (!key.toLowerCase().startsWith("x-open-runtimes-")) headers[key.toLowerCase()] = value;
  }
  const contentType = (headers["content-type"] ?? "text/plain").toLowerCase();
  const scheme = headers["x-forwarded-proto"] ?? "http";
  const defaultPort = scheme === "https" ? "443" : "80";
  const hostHeader = headers["host"] ?? "";
  const host = hostHeader.includes(":") ? hostHeader.split(":")[0] : hostHeader;
  const port = +(hostHeader.includes(":") ? hostHeader.split(":")[1] : defaultPort);
  const rawPath = message.path || "/";
  const pathOnly = rawPath.includes("?") ? rawPath.split("?")[0] : rawPath;
  const queryString = rawPath.includes("?") ? rawPath.slice(rawPath.indexOf("?") + 1) : "";
  const query = {};
  for (const param of queryString.split("&")) {
    const [key, ...rest] = param.split("=");
    if (key) query[key] = rest.join("=");
  }
  const url = `${scheme}://${host}${String(port) === defaultPort ? "" : `:${port}`}${pathOnly}${queryString === "" ? "" : `?${queryString}`}`;
  return {
    req: {
      get body() {
        if (contentType.startsWith("application/json")) {
          return bodyBinary.length > 0 ? this.bodyJson : {};
        }
        for (const type of ["application/", "audio/", "font/", "image/", "video/"]) {
          if (contentType.startsWith(type)) return this.bodyBinary;
        }
        return this.bodyText;
      },
      get bodyRaw() {
        return this.bodyText;
      },
      get bodyText() {
        return bodyBinary.toString();
      },
      get bodyJson() {
        return JSON.parse(this.bodyText);
      },
      get bodyBinary() {
        return bodyBinary;
      },
      headers,
      method: message.method ?? "POST",
      host,
      scheme,
      query,
      queryString,
      port,
      url,
      path: pathOnly,
    },
    res: {
      send(body, statusCode = 200, headers = {}) {
        return this.text(`${body}`, statusCode, headers);
      },
      text(body, statusCode = 200, headers = {}) {
        return this.binary(Buffer.from(`${body}`, "utf8"), statusCode, headers);
      },
      binary(bytes, statusCode = 200, headers = {}) {
        return { body: bytes, statusCode, headers };
      },
      json(obj, statusCode = 200, headers = {}) {
        headers = { ...headers, "content-type": "application/json" };
        return this.text(JSON.stringify(obj), statusCode, headers);
      },
      empty() {
        return this.text("", 204, {});
      },
      redirect(url, statusCode = 301, headers = {}) {
        headers = { ...headers, location: url };
        return this.text("", statusCode, headers);
      },
    },
    log(...messages) {
      logs.add(messages.map(format).join(" ") + "\n");
    },
    error(...messages) {
      errors.add(messages.map(format).join(" ") + "\n");
    },
  };
}

const CONSOLE_METHODS = ["log", "info", "debug", "warn", "error", "trace"];

function captureNative(logs) {
  const saved = { console: {}, stdout: process.stdout.write, stderr: process.stderr.write };
  let noted = false;
  const sink = (text) => {
    if (!noted) {
      noted = true;
      logs.add(NATIVE_NOTE);
    }
    logs.add(text);
  };
  for (const name of CONSOLE_METHODS) {
    saved.console[name] = console[name];
    console[name] = (...messages) => sink(util.format(...messages) + "\n");
  }
  const write = (chunk, encoding, callback) => {
    sink(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") done();
    return true;
  };
  process.stdout.write = write;
  process.stderr.write = write;
  return () => {
    for (const name of CONSOLE_METHODS) console[name] = saved.console[name];
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
  };
}

async function invoke(message) {
  const logs = new Capped(LOG_CAP);
  const errors = new Capped(LOG_CAP);
  const context = makeContext(message, logs, errors);
  const restore = captureNative(logs);
  let output = null;
  try {
    const fn = await loadFunction();
    output = await fn(context);
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND") context.error("Could not load code file.");
    // The function's own stack: this worker's frames and node's internals are left out.
    context.error(e && e.stack ? e.stack.split("\n").filter((line) => !line.includes(import.meta.url) && !line.includes("(node:internal")).join("\n") : e);
    output = context.res.text("", 500, {});
  } finally {
    restore();
  }
  if (output === null || output === undefined) {
    context.error("Return statement missing. return context.res.empty() if no response is expected.");
    output = context.res.text("", 500, {});
  }
  if (typeof output !== "object") {
    context.error(`The function must return a context.res response (e.g. return context.res.text('...')), got ${typeof output}`);
    output = context.res.text("", 500, {});
  }
  let body = output.body ?? "";
  body = Buffer.isBuffer(body) || body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(String(body), "utf8");
  let statusCode = Number(output.statusCode ?? 200);
  const headers = {};
  for (const [key, value] of Object.entries(output.headers ?? {})) {
    if (!key.toLowerCase().startsWith("x-open-runtimes-")) headers[key.toLowerCase()] = String(value);
  }
  if (body.length > BODY_CAP) {
    context.error(`Response body of ${body.length} bytes exceeds the limit of ${BODY_CAP} bytes.`);
    body = Buffer.alloc(0);
    statusCode = 500;
    for (const key of Object.keys(headers)) delete headers[key];
  }
  let contentType = (headers["content-type"] ?? "text/plain").toLowerCase();
  if (!contentType.startsWith("multipart/") && !contentType.includes("charset=")) contentType += "; charset=utf-8";
  headers["content-type"] = contentType;
  return {
    id: message.id,
    statusCode,
    headers,
    body: body.toString("base64"),
    logs: logs.value(),
    errors: errors.value(),
    logsTruncated: logs.dropped,
    errorsTruncated: errors.dropped,
  };
}

const socket = new net.Socket({ fd: Number(args.fd), readable: true, writable: true });
const send = (obj) => socket.write(JSON.stringify(obj) + "\n");
const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => send(await invoke(JSON.parse(line))));
});
lines.on("close", () => process.exit(0));
process.on("unhandledRejection", () => {}); // a stray rejection of user code must not kill the warm worker
send({ ready: true, pid: process.pid });
