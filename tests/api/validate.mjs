// validate.mjs - check docs/api/openapi.yaml, and live responses against it.
//
//   node tests/api/validate.mjs SPEC                 the spec alone
//   node tests/api/validate.mjs SPEC EXCHANGES.json  and every recorded exchange
//
// The spec must validate as OpenAPI 3.1 (@seriousme/openapi-schema-validator)
// and pass a few rules of our own (operationIds unique, every templated path
// parameter declared). EXCHANGES.json is an array of
//   {method, route, status, headers: {lower-case name: value},
//    content_type, body (text) | body_b64, request?: JSON body}
// as tests/integration/test_openapi.py records them, or JSON lines with a
// concrete path instead of route, as harness.py records with
// TETHER_API_RECORD set (a path no operation matches must be answered 404
// or 405 with an error body). Each must find its
// operation and status in the spec, carry the response's required headers
// with values of their schemas, have a declared content type (or no body
// where none is declared), and a JSON body must validate against the
// response's schema (ajv, JSON Schema 2020-12). A 2xx exchange's JSON
// request body is validated against the operation's request schema too.
// Exit status 0 when everything holds, 1 otherwise (each failure printed).
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const failures = [];
const fail = (msg) => failures.push(msg);

/** ajv errors, one per line, with their parameters (which property...). */
const explain = (errors, what) => (errors ?? []).map((e) =>
  `${what}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`).join("; ");

/** The object a local "#/a/b" reference points at in the spec. */
function deref(spec, obj) {
  let o = obj;
  for (let hops = 0; o && o.$ref && hops < 8; hops++) {
    if (!o.$ref.startsWith("#/")) throw new Error(`external $ref ${o.$ref}`);
    o = o.$ref.slice(2).split("/").reduce(
      (acc, k) => acc?.[k.replace(/~1/g, "/").replace(/~0/g, "~")], spec);
    if (o === undefined) throw new Error(`dangling $ref ${obj.$ref}`);
  }
  return o;
}

/** Escape one JSON-pointer token. */
const ptr = (s) => String(s).replace(/~/g, "~0").replace(/\//g, "~1");

/** Our own rules, beyond the OpenAPI schema. */
function lint(spec) {
  const ids = new Set();
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      if (!op.operationId) fail(`${m.toUpperCase()} ${path}: no operationId`);
      else if (ids.has(op.operationId)) fail(`duplicate operationId ${op.operationId}`);
      ids.add(op.operationId);
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])]
        .map((p) => deref(spec, p));
      const declared = params.filter((p) => p.in === "path").map((p) => p.name);
      for (const n of names)
        if (!declared.includes(n)) fail(`${m.toUpperCase()} ${path}: path parameter {${n}} not declared`);
      for (const n of declared)
        if (!names.includes(n)) fail(`${m.toUpperCase()} ${path}: parameter ${n} is not in the path`);
      if (!op.responses || Object.keys(op.responses).length === 0)
        fail(`${m.toUpperCase()} ${path}: no responses`);
    }
  }
}

/** The response object of op for a status (exact, then nXX, then default). */
function responseFor(op, status) {
  const r = op.responses ?? {};
  return r[String(status)] ?? r[`${String(status)[0]}XX`] ?? r.default;
}

/** Check every exchange against its operation; the operation/status pairs seen. */
function checkExchanges(spec, exchanges) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const hajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: true });
  addFormats(ajv);
  addFormats(hajv);
  ajv.addSchema(spec, "spec");
  hajv.addSchema(spec, "spec");
  const cache = new Map();
  const compile = (a, pointer) => {
    const key = (a === ajv ? "b:" : "h:") + pointer;
    if (!cache.has(key)) cache.set(key, a.compile({ $ref: `spec#${pointer}` }));
    return cache.get(key);
  };
  const covered = new Set();
  const errorCheck = compile(ajv, "/components/schemas/Error");
  for (const [i, x] of exchanges.entries()) {
    const m = x.method.toLowerCase();
    if (x.route === undefined) {
      // a concrete path (harness.py's records): find its template; the
      // router's 404 and 405 for what no route matches are plain errors
      x.route = routeOf(spec, x.path, m);
      if (x.route === undefined) {
        const what = `#${i} ${x.method} ${x.path} -> ${x.status}`;
        if (![404, 405].includes(x.status))
          fail(`${what}: no operation of the spec matches, yet the answer is not 404 or 405`);
        else if (m !== "head" && !(x.body && errorCheck(JSON.parse(x.body))))
          fail(`${what}: not an error body: ${(x.body ?? "").slice(0, 200)}`);
        unmatched++;
        continue;
      }
    }
    const what = `#${i} ${x.method} ${x.route} -> ${x.status}`;
    const item = spec.paths?.[x.route];
    const op = item?.[m];
    if (!op) {
      fail(`${what}: no such operation in the spec`);
      continue;
    }
    const opPtr = `/paths/${ptr(x.route)}/${m}`;
    const resp0 = responseFor(op, x.status);
    if (!resp0) {
      fail(`${what}: status ${x.status} is not among the spec's responses`);
      continue;
    }
    const resp = deref(spec, resp0);
    const respPtr = resp0.$ref ? resp0.$ref.slice(1)
                               : `${opPtr}/responses/${ptr(statusKey(op, x.status))}`;
    covered.add(`${x.method} ${x.route} ${x.status}`);
    // headers
    for (const [name, h0] of Object.entries(resp.headers ?? {})) {
      const h = deref(spec, h0);
      const v = x.headers[name.toLowerCase()];
      if (v === undefined) {
        if (h.required) fail(`${what}: missing required header ${name}`);
        continue;
      }
      if (h.schema) {
        const validate = hheader(hajv, spec, h);
        if (!validate({ v }))
          fail(`${what}: header ${name}: ${JSON.stringify(v)}: ${explain(validate.errors, "value")}`);
      }
    }
    // body
    const hasBody = (x.body ?? "").length > 0 || (x.body_b64 ?? "").length > 0;
    if (m === "head") {
      if (hasBody) fail(`${what}: a HEAD reply has a body`);
      continue;
    }
    if (!resp.content) {
      if (hasBody || x.content_type) fail(`${what}: the spec has no content, the reply has ${x.content_type}`);
      continue;
    }
    const base = (x.content_type ?? "").split(";")[0].trim().toLowerCase();
    const media = resp.content[base];
    if (!media) {
      fail(`${what}: content type ${JSON.stringify(x.content_type)} not among ${Object.keys(resp.content)}`);
      continue;
    }
    if (base === "application/json") {
      let doc;
      try {
        doc = JSON.parse(x.body);
      } catch (e) {
        fail(`${what}: body is not JSON: ${e.message}`);
        continue;
      }
      if (media.schema) {
        const validate = compile(ajv, `${respPtr}/content/${ptr(base)}/schema`);
        if (!validate(doc))
          fail(`${what}: ${explain(validate.errors, "body")}\n    body: ${x.body.slice(0, 400)}`);
      }
    } else if (media.schema && typeof x.body === "string") {
      const validate = compile(ajv, `${respPtr}/content/${ptr(base)}/schema`);
      if (!validate(x.body)) fail(`${what}: ${explain(validate.errors, "body")}`);
    }
    // the request body of a success
    if (x.status < 300 && x.request !== undefined && x.request !== null) {
      const rb = op.requestBody ? deref(spec, op.requestBody) : null;
      if (!rb?.content?.["application/json"]) {
        fail(`${what}: a JSON request body, but the spec declares none`);
      } else {
        const rp = op.requestBody.$ref ? op.requestBody.$ref.slice(1) : `${opPtr}/requestBody`;
        const validate = compile(ajv, `${rp}/content/application~1json/schema`);
        if (!validate(x.request))
          fail(`${what}: request body: ${explain(validate.errors, "request")}`);
      }
    }
  }
  return covered;
}

let unmatched = 0;

/** The spec's path template that path and method m match, if any. */
function routeOf(spec, path, m) {
  const segs = path.split("/");
  for (const [tmpl, item] of Object.entries(spec.paths ?? {})) {
    if (!item[m]) continue;
    const t = tmpl.split("/");
    if (t.length === segs.length &&
        t.every((p, k) => (/^\{[^}]+\}$/.test(p) ? /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(segs[k])
                                                  : p === segs[k])))
      return tmpl;
  }
  return undefined;
}

/** The key of op.responses that answers status. */
function statusKey(op, status) {
  const r = op.responses ?? {};
  if (r[String(status)]) return String(status);
  if (r[`${String(status)[0]}XX`]) return `${String(status)[0]}XX`;
  return "default";
}

const headerCache = new Map();
/** A validator of {v: header value} for header object h (types coerced). */
function hheader(hajv, spec, h) {
  const schema = deref(spec, h.schema);
  const key = JSON.stringify(schema);
  if (!headerCache.has(key))
    headerCache.set(key, hajv.compile({ type: "object", properties: { v: schema } }));
  return headerCache.get(key);
}

/** Validate the spec, lint it, then check the exchanges if a file is given. */
async function main() {
  const [specPath, exchangesPath] = process.argv.slice(2);
  if (!specPath) {
    console.error("usage: node validate.mjs SPEC [EXCHANGES.json]");
    process.exit(2);
  }
  const text = readFileSync(specPath, "utf8");
  const spec = YAML.parse(text, { uniqueKeys: true });
  const v = new Validator();
  const res = await v.validate(spec);
  if (!res.valid) {
    fail(`${specPath} is not valid OpenAPI ${v.version ?? "3.1"}:\n` +
         JSON.stringify(res.errors, null, 1).slice(0, 4000));
  } else if (!String(spec.openapi).startsWith("3.1")) {
    fail(`${specPath}: openapi is ${spec.openapi}, expected 3.1.x`);
  }
  try {
    lint(spec);
  } catch (e) {
    fail(`${specPath}: ${e.message}`);
  }
  let n = 0, covered = new Set();
  if (exchangesPath && failures.length === 0) {
    const raw = readFileSync(exchangesPath, "utf8");
    const exchanges = raw.trimStart().startsWith("[") ? JSON.parse(raw)
      : raw.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
    n = exchanges.length;
    covered = checkExchanges(spec, exchanges);
  }
  if (failures.length) {
    for (const f of failures) console.error("FAIL " + f);
    console.error(`${failures.length} failure(s)`);
    process.exit(1);
  }
  console.log(`ok: ${specPath} is valid OpenAPI ${spec.openapi}` +
              (exchangesPath ? `; ${n} exchanges (${covered.size} operation/status pairs) match it` +
                               (unmatched ? `, ${unmatched} are the router's 404/405` : "") : ""));
}

main().catch((e) => {
  console.error("FAIL " + (e.stack ?? e));
  process.exit(1);
});
