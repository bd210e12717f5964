// Test EHR: what the CDS Hooks sandbox does for `patient-view`, in plain JS (no build step).
//
//  1. Discovery: GET {cds}/cds-services; every service whose hook is patient-view is called.
//  2. Prefetch: each of the service's templates, its tokens filled from the context, is read from
//     the EHR's FHIR server with the EHR's FHIR token; a key whose read fails or whose tokens cannot
//     be filled is left out (the service may fetch it itself).
//  3. The hook call: POST {cds}/cds-services/{id} with hook, hookInstance, fhirServer,
//     fhirAuthorization (access_token, token_type, expires_in, scope, subject, patient), context
//     and prefetch; a client JWT (ES384, WebCrypto) on every call when a key is configured, as the
//     sandbox signs its calls.
//  4. Cards: sorted critical first; indicator bar, summary, source (label and url), detail as
//     Markdown (markdown.js), suggestions as buttons, links as buttons opening a new tab, and a
//     Dismiss control with the card's overrideReasons.
//  5. Feedback (CDS Hooks 2.0): POST {cds}/cds-services/{id}/feedback on accept (acceptedSuggestions)
//     and on dismiss (outcome overridden, overrideReason when one is chosen).
//
// Configuration: ehr-config.json on the page's origin:
//   { "cdsBaseUrl": "http://127.0.0.1:8080",       the CDS service
//     "fhirServer": "http://127.0.0.1:8103/fhir",  sent as fhirServer (what the service reads)
//     "fhirReadBase": "/fhir",                     where this page reads the same server
//     "fhirToken": "...", "fhirScope": "...", "fhirClientId": "...",
//     "clientJwt": { "iss": "...", "kid": "...", "privateJwk": {EC P-384 private JWK} } }   optional
// and the query string: ?patient=<id>&user=Practitioner/<id>.
// The page reports its progress for tests in document.body.dataset.state (loading, ready, error)
// and in window.ehr (services, responses, feedback exchanges, errors).
'use strict';

const ehr = {
  state: 'loading',
  config: null,
  services: [],
  prefetch: {},     // service id -> {key: 'ok' | 'skipped: why' | 'failed: status'}
  responses: [],    // {serviceId, status, body}
  feedback: [],     // {serviceId, request, status}
  errors: [],
};
window.ehr = ehr;

const INDICATOR_ORDER = { critical: 0, warning: 1, info: 2 };

function setState(state) {
  ehr.state = state;
  document.body.dataset.state = state;
}

function fail(message) {
  ehr.errors.push(message);
  const p = document.createElement('p');
  p.className = 'cds-error';
  p.textContent = message;
  document.getElementById('cds-errors').append(p);
}

// A random (version 4) UUID; crypto.randomUUID exists only in secure contexts (127.0.0.1 is one,
// a plain-http host name is not).
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// --- Client JWT (checklist §J): ES384 over WebCrypto, raw r||s as JWS wants it. ---------------

function base64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
const utf8 = (text) => new TextEncoder().encode(text);

let signingKey = null;
async function clientJwt(aud) {
  const c = ehr.config.clientJwt;
  if (!c) return null;
  if (!crypto.subtle) throw new Error('signing client JWTs needs a secure context (https or 127.0.0.1)');
  if (!signingKey) {
    signingKey = await crypto.subtle.importKey(
      'jwk', c.privateJwk, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign']);
  }
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(utf8(JSON.stringify({ alg: 'ES384', typ: 'JWT', kid: c.kid })));
  const payload = base64url(utf8(JSON.stringify(
    { iss: c.iss, aud, exp: now + 300, iat: now, jti: uuid() })));
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-384' }, signingKey, utf8(`${header}.${payload}`));
  return `${header}.${payload}.${base64url(signature)}`;
}

async function cdsFetch(path, body) {
  const url = `${ehr.config.cdsBaseUrl}${path}`;
  const headers = { Accept: 'application/json' };
  const jwt = await clientJwt(url);
  if (jwt) headers.Authorization = `Bearer ${jwt}`;
  const init = { method: body === undefined ? 'GET' : 'POST', headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: response.status, json, text };
}

// --- FHIR reads (the EHR's own server, with the EHR's token) ------------------------------------

async function fhirRead(relative) {
  const response = await fetch(`${ehr.config.fhirReadBase}/${relative}`, {
    headers: { Authorization: `Bearer ${ehr.config.fhirToken}`, Accept: 'application/fhir+json' },
  });
  if (!response.ok) return { status: response.status, resource: null };
  return { status: response.status, resource: await response.json() };
}

// Fills a prefetch template's tokens from the context, as the sandbox does; null when a token
// cannot be filled (the key is then not prefetched).
function fillTemplate(template, context) {
  const [userType, userId] = (context.userId || '').split('/');
  const values = {
    'context.patientId': context.patientId,
    'context.userId': context.userId,
    'context.encounterId': context.encounterId,
    userPractitionerId: userType === 'Practitioner' ? userId : undefined,
    userPractitionerRoleId: userType === 'PractitionerRole' ? userId : undefined,
    userPatientId: userType === 'Patient' ? userId : undefined,
    userRelatedPersonId: userType === 'RelatedPerson' ? userId : undefined,
  };
  let missing = false;
  const filled = template.replace(/\{\{\s*([^}]+?)\s*\}\}/g, (whole, token) => {
    const today = /^today\(\)(?:\s*([+-])\s*(\d+)\s*days?)?$/.exec(token);
    if (today) {
      const d = new Date();
      if (today[1]) d.setUTCDate(d.getUTCDate() + (today[1] === '-' ? -1 : 1) * Number(today[2]));
      return d.toISOString().slice(0, 10);
    }
    const v = values[token];
    if (v === undefined || v === '') {
      missing = true;
      return whole;
    }
    return encodeURIComponent(v).replace(/%2F/g, '/');
  });
  return missing ? null : filled;
}

async function buildPrefetch(service, context) {
  const prefetch = {};
  const log = {};
  await Promise.all(Object.entries(service.prefetch || {}).map(async ([key, template]) => {
    const query = fillTemplate(String(template), context);
    if (query === null) {
      log[key] = 'skipped: token not available';
      return;
    }
    try {
      const { status, resource } = await fhirRead(query);
      if (resource) {
        prefetch[key] = resource;
        log[key] = 'ok';
      } else {
        log[key] = `failed: HTTP ${status}`;
      }
    } catch (e) {
      log[key] = `failed: ${e}`;
    }
  }));
  ehr.prefetch[service.id] = log;
  return prefetch;
}

// --- The chart (left column): what the clinician already sees -----------------------------------

function display(concept) {
  if (!concept) return '';
  return concept.text || (concept.coding || []).map((c) => c.display).find(Boolean) || '';
}
function shortDate(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value
    : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}
function fillList(id, items) {
  const ul = document.getElementById(id);
  ul.replaceChildren();
  if (!items.length) items = [{ text: 'None recorded', when: '' }];
  for (const { text, when } of items) {
    const li = document.createElement('li');
    li.textContent = text;
    if (when) {
      const span = document.createElement('span');
      span.className = 'when';
      span.textContent = ` · ${when}`;
      li.append(span);
    }
    ul.append(li);
  }
}
const entries = (bundle) => (bundle && bundle.entry ? bundle.entry.map((e) => e.resource).filter(Boolean) : []);

async function loadChart(patientId) {
  const id = encodeURIComponent(patientId);
  const [patient, conditions, meds, observations] = await Promise.all([
    fhirRead(`Patient/${id}`),
    fhirRead(`Condition?patient=${id}&_count=50`),
    fhirRead(`MedicationRequest?patient=${id}&status=active&_count=20`),
    fhirRead(`Observation?patient=${id}&_sort=-date&_count=6`),
  ]);
  const p = patient.resource;
  if (p) {
    const name = (p.name || [])[0] || {};
    document.getElementById('patient-name').textContent =
      [...(name.given || []), name.family].filter(Boolean).join(' ') || 'Unnamed patient';
    const mrn = ((p.identifier || [])[0] || {}).value;
    document.getElementById('patient-facts').textContent = [
      p.gender, p.birthDate ? `born ${shortDate(p.birthDate)}` : '', mrn ? `MRN ${mrn}` : '',
    ].filter(Boolean).join(' · ');
  } else {
    document.getElementById('patient-name').textContent = `Patient ${patientId} not found`;
  }
  const active = (c) => !c.clinicalStatus ||
    (c.clinicalStatus.coding || []).some((x) => ['active', 'recurrence', 'relapse'].includes(x.code));
  fillList('problems', entries(conditions.resource).filter(active).map((c) => ({
    text: display(c.code), when: shortDate(c.onsetDateTime || c.recordedDate) })));
  fillList('medications', entries(meds.resource).map((m) => ({
    text: display(m.medicationCodeableConcept) || 'Medication', when: shortDate(m.authoredOn) })));
  fillList('observations', entries(observations.resource).map((o) => {
    const q = o.valueQuantity;
    const number = q && typeof q.value === 'number' ? Number(q.value.toFixed(1)) : q?.value;
    const value = q ? ` ${number}${q.unit ? ` ${q.unit}` : ''}` : o.valueString ? ` ${o.valueString}` : '';
    return { text: `${display(o.code)}${value}`, when: shortDate(o.effectiveDateTime || o.issued) };
  }));
}

// --- Cards ---------------------------------------------------------------------------------------

function safeUrl(url) {
  return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
}

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function sendFeedback(serviceId, item) {
  const request = { feedback: [{ ...item, outcomeTimestamp: new Date().toISOString() }] };
  const record = { serviceId, request, status: 0 };
  ehr.feedback.push(record);
  try {
    const r = await cdsFetch(`/cds-services/${encodeURIComponent(serviceId)}/feedback`, request);
    record.status = r.status;
  } catch (e) {
    record.status = -1;
    record.error = String(e);
  }
  return record;
}

function renderCard(card, serviceId) {
  const indicator = ['info', 'warning', 'critical'].includes(card.indicator) ? card.indicator : 'info';
  const article = element('article', `decision-card indicator-${indicator}`);
  article.dataset.serviceId = serviceId;
  if (card.uuid) article.dataset.cardUuid = card.uuid;
  const topic = card.source && card.source.topic;
  if (topic && topic.code) article.dataset.ruleId = topic.code;

  article.append(element('div', 'card-summary', card.summary || ''));

  if (card.source && card.source.label) {
    const source = element('div', 'card-source', 'Source: ');
    const a = element('a', 'source-link', card.source.label);
    const url = safeUrl(card.source.url);
    a.href = url || '#';
    if (url) {
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
    } else {
      a.addEventListener('click', (e) => e.preventDefault());  // the sandbox: href="#", no-op
    }
    source.append(a);
    article.append(source);
  }

  if (card.detail) {
    const detail = element('div', 'card-detail');
    detail.innerHTML = window.renderMarkdown(card.detail);  // escapes first; see markdown.js
    article.append(detail);
  }

  const actions = element('div', 'card-actions');
  const suggestionButtons = [];
  for (const suggestion of card.suggestions || []) {
    const button = element('button', 'suggestion', suggestion.label || 'Accept');
    button.type = 'button';
    if (suggestion.isRecommended) button.dataset.recommended = 'true';
    button.addEventListener('click', async () => {
      // Accepting applies the suggestion (out of scope here) and tells the service, when the card
      // and the suggestion have uuids (without them the sandbox sends nothing either).
      button.disabled = true;
      button.textContent = `✓ ${suggestion.label}`;
      if (card.selectionBehavior === 'at-most-one') {
        for (const other of suggestionButtons) other.disabled = true;
      }
      if (card.uuid && suggestion.uuid) {
        await sendFeedback(serviceId, {
          card: card.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: suggestion.uuid }],
        });
      }
    });
    suggestionButtons.push(button);
    actions.append(button);
  }
  for (const link of card.links || []) {
    const url = safeUrl(link.url);
    if (!url) continue;
    const a = element('a', 'link-button', link.label || url);
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.dataset.linkType = link.type || '';
    actions.append(a);
  }
  if (card.uuid) {
    const dismiss = element('button', 'dismiss', 'Dismiss');
    dismiss.type = 'button';
    dismiss.addEventListener('click', () => showOverride(article, card, serviceId, dismiss));
    actions.append(dismiss);
  }
  if (actions.childElementCount) article.append(actions);
  return article;
}

// The dismiss dialog: a reason from the card's overrideReasons (optional) and a comment.
function showOverride(article, card, serviceId, dismissButton) {
  if (article.querySelector('.override')) return;
  dismissButton.disabled = true;
  const box = element('div', 'override');
  let select = null;
  const reasons = card.overrideReasons || [];
  if (reasons.length) {
    box.append(element('label', '', 'Reason for dismissing'));
    select = element('select', 'override-reason');
    select.append(new Option('Choose a reason (optional)', ''));
    reasons.forEach((r, i) => select.append(new Option(r.display || r.code, String(i))));
    box.append(select);
  } else {
    box.append(element('label', 'no-reasons', 'This card offers no reasons to choose from.'));
  }
  box.append(element('label', '', 'Comment (optional)'));
  const comment = element('input', 'override-comment');
  comment.type = 'text';
  box.append(comment);
  const confirm = element('button', 'dismiss confirm-dismiss', 'Confirm dismiss');
  confirm.type = 'button';
  const cancel = element('button', 'dismiss', 'Cancel');
  cancel.type = 'button';
  const buttons = element('div', 'card-actions');
  buttons.append(confirm, cancel);
  box.append(buttons);
  article.append(box);

  cancel.addEventListener('click', () => {
    box.remove();
    dismissButton.disabled = false;
  });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    const item = { card: card.uuid, outcome: 'overridden' };
    const overrideReason = {};
    if (select && select.value !== '') {
      const r = reasons[Number(select.value)];
      overrideReason.reason = { code: r.code, system: r.system };  // as the sandbox: no display
    }
    if (comment.value.trim()) overrideReason.userComment = comment.value.trim();
    if (Object.keys(overrideReason).length) item.overrideReason = overrideReason;
    const record = await sendFeedback(serviceId, item);
    const note = element('div', 'card-dismissed', `Dismissed: ${card.summary || ''}`);
    note.dataset.feedbackStatus = String(record.status);
    article.replaceChildren(note);
    article.classList.add('dismissed');
  });
}

function renderCards(all) {
  const list = document.getElementById('cards');
  list.replaceChildren();
  const sorted = all
    .map((entry, i) => ({ ...entry, i }))
    .sort((a, b) => (INDICATOR_ORDER[a.card.indicator] ?? 3) - (INDICATOR_ORDER[b.card.indicator] ?? 3) || a.i - b.i);
  for (const { card, serviceId } of sorted) list.append(renderCard(card, serviceId));
  if (!sorted.length) list.append(element('p', 'no-cards', 'No Cards'));
  document.getElementById('cds-status').textContent =
    `${sorted.length} card${sorted.length === 1 ? '' : 's'}`;
}

// --- Main ----------------------------------------------------------------------------------------

async function main() {
  const params = new URLSearchParams(location.search);
  const patientId = params.get('patient');
  const userId = params.get('user') || 'Practitioner/test-ehr-practitioner';
  document.getElementById('user').textContent = userId;
  const configResponse = await fetch('ehr-config.json');
  if (!configResponse.ok) throw new Error(`ehr-config.json: HTTP ${configResponse.status}`);
  ehr.config = await configResponse.json();
  if (!patientId) throw new Error('no ?patient= in the address');

  const chart = loadChart(patientId).catch((e) => ehr.errors.push(`chart: ${e}`));

  const discovery = await cdsFetch('/cds-services');
  if (discovery.status !== 200 || !discovery.json || !Array.isArray(discovery.json.services)) {
    throw new Error(`Discovery failed: HTTP ${discovery.status}`);
  }
  ehr.services = discovery.json.services.filter((s) => s && s.hook === 'patient-view' && s.id);
  if (!ehr.services.length) throw new Error('Discovery lists no patient-view service');

  const context = { userId, patientId };
  const cards = [];
  for (const service of ehr.services) {
    const prefetch = await buildPrefetch(service, context);
    const request = {
      hookInstance: uuid(),
      hook: 'patient-view',
      fhirServer: ehr.config.fhirServer,
      fhirAuthorization: {
        access_token: ehr.config.fhirToken,
        token_type: 'Bearer',
        expires_in: 3600,
        scope: ehr.config.fhirScope || 'patient/*.read user/*.read',
        subject: ehr.config.fhirClientId || 'cephalgia-test-ehr',
        patient: patientId,
      },
      context,
      prefetch,
    };
    const r = await cdsFetch(`/cds-services/${encodeURIComponent(service.id)}`, request);
    ehr.responses.push({ serviceId: service.id, status: r.status, body: r.json });
    if (r.status !== 200) {
      fail(`Could not get a response from the CDS Service (${service.id}: HTTP ${r.status})`);
      continue;
    }
    if (!r.json || !Array.isArray(r.json.cards)) {
      fail(`No response returned (${service.id})`);
      continue;
    }
    for (const card of r.json.cards) cards.push({ card, serviceId: service.id });
  }
  renderCards(cards);
  await chart;
  setState(ehr.errors.length ? 'error' : 'ready');
}

main().catch((e) => {
  fail(String(e && e.message ? e.message : e));
  setState('error');
});
