// Browser test (issue 12 item 3): what a clinician sees of our cards in an EHR that behaves as the
// CDS Hooks sandbox does, in headless Chromium from Debian (/usr/bin/chromium) driven through
// playwright-core (never `playwright install`, never a downloaded browser).
//
// Real parts only, all on 127.0.0.1: the test FHIR server (tests/fhir-server, Medplum in memory),
// the real `cephalgia serve` (client JWTs required: the page signs ES384 tokens as the sandbox
// does), a tiny static server of our own for the EHR page (tests/browser/ehr) which also relays
// /fhir to the FHIR server so that the page can read it from its own origin (the test FHIR server
// sends no CORS headers; the service itself is called cross-origin, preflights included).
//
// Patients loaded into the FHIR server (ids kept, dates moved so that each chart's "now" is the
// service's pinned --now):
//   routine      golden case 201: cervicogenic headache, neck pain, PT referral step 1
//   thunderclap  golden case 404: thunderclap headache, emergency
//   migraine     a Synthea chart with chronic intractable migraine (../shared/fhir-samples/synthea),
//                evaluated on the day of its last encounter
//
// Asserted, per patient, on the rendered page (1280x800 viewport):
//   the action button of the first card lies within the first 800 px; no card is taller than
//   600 px; the cards' text holds no raw resource id (Condition/..., Observation/...), no internal
//   file name (knowledge.md, seeds/) and no "not documented"; detail links open a new tab.
// And: accepting a suggestion and dismissing a card (with an override reason when the card offers
// one) post CDS Hooks 2.0 feedback that reaches GET /admin/feedback, counted under the card's rule.
// Screenshots go to --artifacts (printed). Every check is reported; any failure fails the test.
// A missing Chromium or playwright-core fails the test in one line; it is never skipped.
//
//   node browser_test.mjs --cephalgia BUILD/bin/cephalgia --plugins BUILD/packs \
//        --artifacts BUILD/test-artifacts/browser [--shared ../shared] [--chromium /usr/bin/chromium]
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const VIEWPORT = { width: 1280, height: 800 };
const MAX_CARD_HEIGHT = 600;
const PINNED_NOW = '2026-03-01T10:00:00Z';  // the golden cases' "now"; the service's --now
const FHIR_TOKEN = `ehr-fhir-token-${randomUUID()}`;
const CLIENT_ISS = 'https://test-ehr.cephalgia.test';
const OVERALL_TIMEOUT_MS = 240_000;

function parseArgs(argv) {
  const o = {
    cephalgia: '', plugins: '', artifacts: '', chromium: '/usr/bin/chromium',
    shared: path.resolve(repo, '../shared'), syntheaFile: 'Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in o) || i + 1 >= argv.length) die(`unknown or incomplete argument ${argv[i]}`);
    o[key] = argv[i + 1];
  }
  for (const k of ['cephalgia', 'plugins', 'artifacts']) if (!o[k]) die(`--${k} is required`);
  return o;
}

function die(message) {
  console.error(`browser test: FAILED: ${message}`);
  process.exit(1);
}

// --- Child processes (ended by their own pid only) ------------------------------------------------

const children = [];
function startChild(command, args, options) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  children.push(child);
  child.log = '';
  child.stderr.on('data', (d) => { child.log += d; });
  return child;
}
function stopChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

// Resolves with the first stdout/stderr text matching `pattern`'s group 1.
function waitFor(child, stream, pattern, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${timeoutMs} ms: ${child.log.slice(-2000).trim()}`)), timeoutMs);
    const onData = (d) => {
      seen += d;
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        child[stream].off('data', onData);
        resolve(m[1]);
      }
    };
    child[stream].on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) during start-up: ${child.log.slice(-2000).trim()}`));
    });
  });
}

// --- Plain HTTP from the test ---------------------------------------------------------------------

function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(url, { method, headers: { ...headers, ...(data ? { 'Content-Length': data.length } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// --- Patients -------------------------------------------------------------------------------------

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;

// Moves every FHIR date and dateTime in `node` by `days` whole days (so a chart evaluated on
// another day reads the same against the pinned --now; ages and intervals are kept).
function shiftDates(node, days) {
  if (!days) return node;
  if (Array.isArray(node)) return node.map((n) => shiftDates(n, days));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, shiftDates(v, days)]));
  }
  if (typeof node === 'string' && DATE.test(node)) {
    return new Date(Date.parse(`${node}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
  }
  if (typeof node === 'string' && DATE_TIME.test(node)) {
    const iso = new Date(Date.parse(node) + days * DAY_MS).toISOString();
    return node.includes('.') ? iso : iso.replace(/\.\d{3}Z$/, 'Z');
  }
  return node;
}
const daysBetween = (from, to) => Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS);

// A golden case's prefetch, as the resources an EHR would hold.
function goldenCaseResources(file) {
  const c = JSON.parse(readFileSync(path.join(repo, 'tests/rules/cases', file), 'utf8'));
  const resources = [];
  for (const value of Object.values(c.request.prefetch || {})) {
    if (!value) continue;
    if (value.resourceType === 'Bundle') resources.push(...(value.entry || []).map((e) => e.resource).filter(Boolean));
    else resources.push(value);
  }
  return { resources: shiftDates(resources, daysBetween(c.now, PINNED_NOW)), patientId: c.request.context.patientId };
}

// A Synthea transaction Bundle's resources with `urn:uuid:` references made `Type/id` (what the
// test FHIR server's own loader does), moved so its last encounter falls on the pinned now.
function syntheaResources(shared, file) {
  const review = JSON.parse(readFileSync(path.join(repo, 'tests/rules/synthea-headache-review.json'), 'utf8'));
  const chart = review.patients.find((p) => p.file === file);
  if (!chart) die(`${file} is not in tests/rules/synthea-headache-review.json`);
  const bundle = JSON.parse(readFileSync(path.join(shared, 'fhir-samples/synthea', file), 'utf8'));
  const refs = new Map();
  for (const e of bundle.entry || []) {
    if (e.resource?.id && e.fullUrl?.startsWith('urn:uuid:')) refs.set(e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`);
  }
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) =>
        [k, k === 'reference' && typeof v === 'string' && refs.has(v) ? refs.get(v) : rewrite(v)]));
    }
    return node;
  };
  const resources = (bundle.entry || []).map((e) => e.resource).filter((r) => r?.id).map(rewrite);
  return { resources: shiftDates(resources, daysBetween(chart.evaluatedAt, PINNED_NOW)), patientId: chart.patientId };
}

async function loadIntoFhir(fhirBase, resources) {
  const transaction = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({
      fullUrl: `${r.resourceType}/${r.id}`, resource: r,
      request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
    })),
  };
  const r = await request('POST', fhirBase, {
    headers: { Authorization: `Bearer ${FHIR_TOKEN}`, 'Content-Type': 'application/fhir+json' }, body: transaction,
  });
  const failed = (r.json?.entry || []).filter((e) => !String(e.response?.status || '').startsWith('20'));
  if (r.status !== 200 || failed.length) {
    throw new Error(`loading ${resources.length} resources failed: HTTP ${r.status} ${r.text.slice(0, 500)}`);
  }
}

// --- The EHR page's origin: static files, its config, and /fhir relayed to the FHIR server ------

const STATIC = {
  '/': 'index.html', '/index.html': 'index.html', '/ehr.js': 'ehr.js', '/ehr.css': 'ehr.css',
  '/markdown.js': 'markdown.js',
};
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function startEhrServer(config, fhirPort) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/fhir' || url.pathname.startsWith('/fhir/')) {
      const upstream = http.request({
        host: '127.0.0.1', port: fhirPort, method: req.method, path: req.url,
        headers: { authorization: req.headers.authorization || '', accept: req.headers.accept || 'application/fhir+json' },
      }, (up) => {
        res.writeHead(up.statusCode, { 'Content-Type': up.headers['content-type'] || 'application/fhir+json' });
        up.pipe(res);
      });
      upstream.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      req.pipe(upstream);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/ehr-config.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(config));
      return;
    }
    const file = STATIC[url.pathname];
    if (req.method !== 'GET' || !file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)], 'Cache-Control': 'no-store' });
    res.end(readFileSync(path.join(here, 'ehr', file)));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// --- Checks ---------------------------------------------------------------------------------------

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok: Boolean(ok), detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

const RAW_ID = /\b(?:Patient|Condition|Observation|MedicationRequest|MedicationStatement|MedicationAdministration|Medication|Procedure|ServiceRequest|AllergyIntolerance|Encounter|DiagnosticReport|DocumentReference|Practitioner|PractitionerRole|Immunization|CarePlan|Claim|ExplanationOfBenefit)\/[A-Za-z0-9][A-Za-z0-9\-.]{0,63}/;
const INTERNAL_FILE = /knowledge\.md|seeds\//i;
const NOT_DOCUMENTED = /not documented/i;

// Every match of `pattern` in `text`, and a short account of them for the report.
function findAll(text, pattern) {
  const found = [...text.matchAll(new RegExp(pattern.source, `${pattern.flags}g`))].map((m) => m[0]);
  const unique = [...new Set(found)];
  return { found, detail: found.length ? `${found.length} found, e.g. ${unique.slice(0, 3).map((s) => JSON.stringify(s)).join(', ')}` : '' };
}

// What the clinician sees of the cards, measured in the page (viewport at the top).
function measure(page) {
  return page.evaluate(() => {
    window.scrollTo(0, 0);
    const cards = [...document.querySelectorAll('#cards article.decision-card')];
    return {
      state: document.body.dataset.state,
      errors: window.ehr.errors,
      prefetch: window.ehr.prefetch,
      responses: window.ehr.responses.map((r) => ({ serviceId: r.serviceId, status: r.status })),
      cards: cards.map((c) => {
        const box = c.getBoundingClientRect();
        const suggestion = c.querySelector('.card-actions button.suggestion');
        const action = suggestion || c.querySelector('.card-actions a, .card-actions button');
        const actionBox = action ? action.getBoundingClientRect() : null;
        return {
          summary: c.querySelector('.card-summary')?.textContent || '',
          indicator: (c.className.match(/indicator-(\w+)/) || [])[1],
          ruleId: c.dataset.ruleId || '',
          uuid: c.dataset.cardUuid || '',
          top: Math.round(box.top + window.scrollY),
          height: Math.round(box.height),
          text: c.innerText,
          action: action ? { kind: suggestion ? 'suggestion' : action.className, label: action.textContent, bottom: Math.round(actionBox.bottom + window.scrollY) } : null,
          sourceHref: c.querySelector('.card-source a')?.getAttribute('href') || null,
          detailLinks: [...c.querySelectorAll('.card-detail a')].map((a) => ({ href: a.getAttribute('href'), target: a.target, rel: a.rel })),
          suggestions: c.querySelectorAll('button.suggestion').length,
        };
      }),
    };
  });
}

async function openChart(browserContext, ehrUrl, patient, pageErrors) {
  const page = await browserContext.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${patient.label}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${patient.label}: console: ${m.text()}`); });
  await page.goto(`${ehrUrl}/index.html?patient=${encodeURIComponent(patient.patientId)}&user=Practitioner/pr-gp-1`);
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 60_000 });
  return page;
}

async function screenshot(page, dir, name, fullPage) {
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  console.log(`screenshot: ${file}`);
  return file;
}

function checkWhatTheClinicianSees(label, m) {
  check(`${label}: the page loaded its cards`, m.state === 'ready',
    m.state === 'ready' ? `${m.cards.length} card(s)` : `state ${m.state}: ${m.errors.join('; ')}`);
  check(`${label}: at least one card`, m.cards.length > 0, m.cards.map((c) => `[${c.indicator}] ${c.summary}`).join(' | '));
  if (!m.cards.length) return;
  const first = m.cards[0];
  check(`${label}: the first card's action button is within the first ${VIEWPORT.height} px`,
    first.action && first.action.bottom <= VIEWPORT.height,
    first.action ? `${first.action.kind} "${first.action.label}" ends at ${first.action.bottom} px` : 'the first card has no action button');
  const tall = m.cards.filter((c) => c.height > MAX_CARD_HEIGHT);
  check(`${label}: no card taller than ${MAX_CARD_HEIGHT} px`, tall.length === 0,
    m.cards.map((c) => `${c.height} px "${c.summary.slice(0, 50)}"`).join(', '));
  const text = m.cards.map((c) => c.text).join('\n');
  for (const [what, pattern] of [['raw resource id', RAW_ID], ['internal file name', INTERNAL_FILE],
    ['"not documented"', NOT_DOCUMENTED]]) {
    const { found, detail } = findAll(text, pattern);
    check(`${label}: no ${what} in the cards' text`, found.length === 0, detail);
  }
  const sameTab = m.cards.flatMap((c) => c.detailLinks).filter((l) => l.target !== '_blank' || !l.rel.includes('noopener'));
  check(`${label}: links in card details open a new tab`, sameTab.length === 0, sameTab.map((l) => l.href).join(', '));
}

// --- Main -----------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv);
  try {
    accessSync(opts.chromium, constants.X_OK);
  } catch {
    die(`Chromium not found at ${opts.chromium}; install it with: bash scripts/setup.sh --test (Debian package 'chromium')`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    die(`playwright-core is not installed in ${here}/node_modules; run: bash tests/browser/install.sh (${e.code || e.message})`);
  }
  try {
    accessSync(opts.cephalgia, constants.X_OK);
  } catch {
    die(`no cephalgia binary at ${opts.cephalgia}; build it first`);
  }
  mkdirSync(opts.artifacts, { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), 'cephalgia-browser-'));

  try {
    // 1. The EHR's FHIR server, with our three patients.
    const fhir = startChild(process.execPath, [
      path.join(repo, 'tests/fhir-server/server.mjs'), '--port', '0', '--token', FHIR_TOKEN, '--exit-on-stdin-close',
    ], { cwd: path.join(repo, 'tests/fhir-server') });
    const fhirPort = Number(await waitFor(fhir, 'stdout', /LISTENING (\d+)/, 'the test FHIR server', 60_000));
    const fhirBase = `http://127.0.0.1:${fhirPort}/fhir`;
    const patients = [
      { label: 'routine cervicogenic (case 201)', slug: 'routine-cervicogenic', ...goldenCaseResources('201-step1-pt-referral.json') },
      { label: 'thunderclap (case 404)', slug: 'thunderclap', ...goldenCaseResources('404-thunderclap-text-only.json') },
      { label: `Synthea chronic migraine (${opts.syntheaFile.split('_').slice(0, 2).join(' ')})`, slug: 'synthea-migraine',
        ...syntheaResources(opts.shared, opts.syntheaFile) },
    ];
    for (const p of patients) await loadIntoFhir(fhirBase, p.resources);
    console.log(`fhir: ${fhirBase} with ${patients.map((p) => `${p.resources.length} resources (${p.slug})`).join(', ')}`);

    // 2. The service, requiring client JWTs from the EHR's key.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const kid = 'test-ehr-key-1';
    writeFileSync(path.join(work, 'ehr.jwks.json'), JSON.stringify({
      keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES384', use: 'sig' }],
    }));
    const serve = startChild(opts.cephalgia, [
      'serve', '--port', '0', '--bind', '127.0.0.1', '--threads', '2', '--plugins', opts.plugins,
      '--data-dir', path.join(work, 'data'), '--now', PINNED_NOW,
      '--auth', 'required', '--jwks', path.join(work, 'ehr.jwks.json'), '--trusted-issuer', CLIENT_ISS,
    ], {});
    const servePort = await waitFor(serve, 'stderr', /"event":"listening".*?127\.0\.0\.1:(\d+)/, 'cephalgia serve', 30_000);
    const cdsBase = `http://127.0.0.1:${servePort}`;
    console.log(`service: ${cdsBase} (cephalgia serve, pid ${serve.pid})`);

    // 3. The EHR page.
    const ehrServer = await startEhrServer({
      cdsBaseUrl: cdsBase, fhirServer: fhirBase, fhirReadBase: '/fhir', fhirToken: FHIR_TOKEN,
      fhirScope: 'patient/*.read user/*.read', fhirClientId: 'cephalgia-test-ehr',
      clientJwt: { iss: CLIENT_ISS, kid, privateJwk: privateKey.export({ format: 'jwk' }) },
    }, fhirPort);
    const ehrUrl = `http://127.0.0.1:${ehrServer.address().port}`;
    console.log(`ehr page: ${ehrUrl}/index.html`);

    // 4. Chromium.
    const browser = await chromium.launch({ executablePath: opts.chromium, headless: true });
    console.log(`browser: Chromium ${browser.version()} (${opts.chromium})`);
    const pageErrors = [];
    try {
      const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
      const pages = {};
      const measured = {};
      for (const p of patients) {
        const page = await openChart(context, ehrUrl, p, pageErrors);
        pages[p.slug] = page;
        measured[p.slug] = await measure(page);
        await screenshot(page, opts.artifacts, `${p.slug}-viewport`, false);
        await screenshot(page, opts.artifacts, `${p.slug}-full`, true);
        checkWhatTheClinicianSees(p.label, measured[p.slug]);
        const m = measured[p.slug];
        console.log(`  ${p.slug}: prefetch ${JSON.stringify(m.prefetch)}; responses ${JSON.stringify(m.responses)}`);
        for (const c of m.cards) {
          console.log(`  ${p.slug}: [${c.indicator}] ${c.ruleId} top ${c.top} px, height ${c.height} px, ` +
            `${c.suggestions} suggestion(s), source href ${c.sourceHref}: ${c.summary}`);
        }
      }

      // 5. Feedback: accept the first suggestion on the routine chart, dismiss the first card of
      // the thunderclap chart with a reason when it offers one.
      const before = await request('GET', `${cdsBase}/admin/feedback`);
      check('GET /admin/feedback answers before any feedback', before.status === 200, `HTTP ${before.status}`);

      const routine = pages['routine-cervicogenic'];
      const acceptCard = measured['routine-cervicogenic'].cards.find((c) => c.suggestions > 0 && c.uuid);
      let accepted = null;
      if (acceptCard) {
        await routine.locator(`article[data-card-uuid="${acceptCard.uuid}"] button.suggestion`).first().click();
        await routine.waitForFunction(() => window.ehr.feedback.length > 0 && window.ehr.feedback[0].status !== 0);
        accepted = await routine.evaluate(() => window.ehr.feedback[0]);
        const item = accepted.request.feedback[0];
        check('accept: feedback POST answered 200', accepted.status === 200, `HTTP ${accepted.status}`);
        check('accept: outcome accepted with acceptedSuggestions',
          item.outcome === 'accepted' && item.acceptedSuggestions?.length === 1 && item.card === acceptCard.uuid,
          JSON.stringify(item));
        await screenshot(routine, opts.artifacts, 'routine-cervicogenic-accepted', false);
      } else {
        check('accept: the routine chart has a card with a suggestion to accept', false);
      }

      const thunder = pages.thunderclap;
      const dismissCard = measured.thunderclap.cards.find((c) => c.uuid);
      let dismissed = null;
      let offeredReasons = 0;
      if (dismissCard) {
        const card = thunder.locator(`article[data-card-uuid="${dismissCard.uuid}"]`);
        await card.locator('button.dismiss').first().click();
        offeredReasons = await card.locator('select.override-reason option').count().then((n) => Math.max(0, n - 1));
        if (offeredReasons > 0) await card.locator('select.override-reason').selectOption({ index: 1 });
        await card.locator('input.override-comment').fill('Seen in the emergency department today');
        await screenshot(thunder, opts.artifacts, 'thunderclap-dismiss-dialog', false);
        await card.locator('button.confirm-dismiss').click();
        await thunder.waitForFunction(() => window.ehr.feedback.length > 0 && window.ehr.feedback[0].status !== 0);
        dismissed = await thunder.evaluate(() => window.ehr.feedback[0]);
        const item = dismissed.request.feedback[0];
        check('dismiss: feedback POST answered 200', dismissed.status === 200, `HTTP ${dismissed.status}`);
        check('dismiss: outcome overridden, with the chosen reason when the card offers reasons',
          item.outcome === 'overridden' && item.card === dismissCard.uuid &&
          (offeredReasons === 0 || Boolean(item.overrideReason?.reason?.code)),
          `${offeredReasons} reason(s) offered; sent ${JSON.stringify(item)}`);
        await screenshot(thunder, opts.artifacts, 'thunderclap-dismissed', false);
      } else {
        check('dismiss: the thunderclap chart has a card with a uuid to dismiss', false);
      }

      // 6. What the service counted.
      const after = await request('GET', `${cdsBase}/admin/feedback`);
      const rules = after.json?.rules || [];
      const rule = (id) => rules.find((r) => r.ruleId === id) || {};
      if (accepted) {
        const r = rule(acceptCard.ruleId);
        check(`GET /admin/feedback counts the accept under rule ${acceptCard.ruleId}`, r.accepted === 1,
          JSON.stringify(r));
      }
      if (dismissed) {
        const r = rule(dismissCard.ruleId);
        const reason = dismissed.request.feedback[0].overrideReason?.reason;
        check(`GET /admin/feedback counts the dismissal under rule ${dismissCard.ruleId}`,
          r.overridden === 1 && (!reason || (r.topOverrideReasons || []).some((x) => x.code === reason.code)),
          JSON.stringify(r));
      }
      check('no script errors in the page', pageErrors.length === 0, pageErrors.join(' | '));
      writeFileSync(path.join(opts.artifacts, 'measurements.json'), JSON.stringify({ measured, feedback: after.json }, null, 2));
      console.log(`measurements: ${path.join(opts.artifacts, 'measurements.json')}`);
    } finally {
      await browser.close();
      ehrServer.close();
    }
  } finally {
    stopChildren();
    rmSync(work, { recursive: true, force: true });
  }

  const failed = results.filter((r) => !r.ok);
  console.log(`browser test: ${results.length - failed.length} of ${results.length} checks passed; screenshots in ${opts.artifacts}`);
  if (failed.length) {
    console.log(`browser test: FAILED: ${failed.map((r) => r.name).join('; ')}`);
    process.exitCode = 1;
  }
}

const guard = setTimeout(() => {
  stopChildren();
  die(`did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
}, OVERALL_TIMEOUT_MS);
guard.unref();
main().catch((e) => {
  stopChildren();
  // Our own start-up errors say what failed; a stack only helps for anything else.
  die(e instanceof Error && !e.message.includes('\n    at ') ? e.message : String(e?.stack || e));
});
