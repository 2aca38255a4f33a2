// Checks recorded control-plane responses against docs/openapi.yaml: each response must be a
// status its operation lists, with a listed content type, and a body that validates (ajv) against
// the schema of that status (or of `x-server-refusals`, the refusals of the HTTP layer that any
// route may answer). Prints a coverage summary (operations and responses seen / listed).
// The e2e suites record responses when CL_E2E_RECORD_DIR is set (tests/e2e/harness/recording.mjs).
//
//   node tests/openapi/validate_responses.mjs [--spec docs/openapi.yaml] [--require-coverage]
//     DIR_OR_FILE...
//
// Exits 1 on any violation, and when nothing was recorded (an empty run proves nothing). With
// --require-coverage (scripts/test.sh, when every e2e suite ran) also when a listed (operation,
// status) pair was never recorded and is not in the commented allow-list of unprovokable pairs
// (tests/openapi/unprovokable.mjs), which are reported as skipped, never as exercised.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

import { unprovokable as defaultUnprovokable } from './unprovokable.mjs';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOC_ID = 'openapi.json';

export const defaultSpecPath =
  resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/openapi.yaml');

export function loadSpec(path = defaultSpecPath) {
  return parseYaml(readFileSync(path, 'utf8'));
}

// Every record of the JSON-lines files in `paths` (files, or directories of *.jsonl files).
export function readRecordings(paths) {
  const files = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.endsWith('.jsonl')) files.push(join(p, name));
      }
    } else {
      files.push(p);
    }
  }
  const records = [];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim()) records.push(JSON.parse(line));
    }
  }
  return records;
}

// Follows a local "#/..." reference inside the document.
function deref(doc, node) {
  let seen = 0;
  while (node && typeof node.$ref === 'string') {
    if (!node.$ref.startsWith('#/') || ++seen > 16) throw new Error(`unsupported $ref ${node.$ref}`);
    node = node.$ref.slice(2).split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce((n, key) => n?.[key], doc);
  }
  return node;
}

// A copy of `schema` whose local references point into the document registered as DOC_ID.
function anchored(schema) {
  if (Array.isArray(schema)) return schema.map(anchored);
  if (!schema || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${DOC_ID}${v}` : anchored(v);
  }
  return out;
}

// The operations of the document, most literal path first so that /a/b wins over /a/{x}.
function operationsOf(doc) {
  const ops = [];
  for (const [template, item] of Object.entries(doc.paths ?? {})) {
    const params = (template.match(/\{[^}]+\}/g) ?? []).length;
    const source = template.split(/\{[^}]+\}/)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+');
    const re = new RegExp(`^${source}$`);
    for (const method of METHODS) {
      if (item[method]) {
        ops.push({ key: `${method.toUpperCase()} ${template}`, method: method.toUpperCase(),
          template, re, params, op: item[method], order: ops.length });
      }
    }
  }
  return ops.sort((a, b) => a.params - b.params);
}

export class ResponseChecker {
  constructor(doc) {
    this.doc = doc;
    this.ops = operationsOf(doc);
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addSchema(doc, DOC_ID);
    this.validators = new Map();
  }

  validator(schema) {
    let v = this.validators.get(schema);
    if (!v) {
      v = this.ajv.compile(anchored(schema));
      this.validators.set(schema, v);
    }
    return v;
  }

  // Checks `records`; returns {problems: [{key, message, record}], seen, outside, ignored}.
  check(records) {
    const problems = [];
    const seen = new Map();  // operation key -> Set of statuses
    const outside = new Map();  // "METHOD path status" -> count: no route of the document
    let ignored = 0;
    for (const rec of records) {
      // The control plane stamps every answer with X-Request-Id; anything else (a balancer's
      // own 502, the IdP) is not ours to check.
      if (!rec.request_id) {
        ignored++;
        continue;
      }
      const candidates = this.ops.filter((o) => o.re.test(rec.path));
      const match = candidates.find((o) => o.method === rec.method);
      if (!match) {
        // Unknown routes and methods get the server's own 404/405, the web UI's files are
        // served from the fallback: neither is part of the API contract.
        const known = candidates.length > 0;
        if (known && rec.status !== 405) {
          problems.push({ key: `${rec.method} ${candidates[0].template}`, record: rec,
            message: `method ${rec.method} is not documented for ${candidates[0].template} ` +
              `but answered ${rec.status}` });
        } else {
          const k = `${rec.method} ${rec.path} ${rec.status}`;
          outside.set(k, (outside.get(k) ?? 0) + 1);
        }
        continue;
      }
      if (!seen.has(match.key)) seen.set(match.key, new Set());
      seen.get(match.key).add(String(rec.status));
      const message = this.checkOne(match, rec);
      if (message) problems.push({ key: `${match.key} -> ${rec.status}`, message, record: rec });
    }
    return { problems, seen, outside, ignored };
  }

  checkOne(match, rec) {
    // The HTTP layer's refusals before any handler runs are listed once for every route.
    const response = deref(this.doc, match.op.responses?.[String(rec.status)] ??
      this.doc['x-server-refusals']?.responses?.[String(rec.status)]);
    if (!response) {
      const listed = Object.keys(match.op.responses ?? {}).join(', ');
      return `status ${rec.status} is not listed (listed: ${listed})`;
    }
    const body = rec.body ?? '';
    const content = response.content;
    if (!content) {
      return body === '' ? null : `the response has a body but ${rec.status} describes none`;
    }
    const mediaType = (rec.content_type ?? '').split(';')[0].trim().toLowerCase();
    const media = content[mediaType];
    if (!media) {
      return `content type '${rec.content_type}' is not listed (listed: ` +
        `${Object.keys(content).join(', ')})`;
    }
    if (rec.truncated || !media.schema) return null;
    let value = body;
    if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
      try {
        value = JSON.parse(body);
      } catch {
        return `the body is not JSON: ${body.slice(0, 200)}`;
      }
    }
    const validate = this.validator(media.schema);
    if (validate(value)) return null;
    const errors = validate.errors.slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message}` +
        (e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : ''))
      .join('; ');
    return `the body does not validate: ${errors}`;
  }

  // "seen / listed" for operations and for (operation, status) pairs, and what was never seen:
  // `skipped` the unseen pairs `unprovokable(key, status)` excuses ({key, status, reason}),
  // `unseen` the others ("METHOD /template status"), in the file's order.
  coverage(seen, unprovokable = defaultUnprovokable) {
    const unseenOps = [];
    const unseen = [];
    const skipped = [];
    let responses = 0;
    let responsesSeen = 0;
    for (const o of [...this.ops].sort((a, b) => a.order - b.order)) {
      const statuses = Object.keys(o.op.responses ?? {});
      responses += statuses.length;
      const got = seen.get(o.key);
      if (!got) unseenOps.push(o.key);
      for (const s of statuses) {
        if (got?.has(s)) {
          responsesSeen++;
          continue;
        }
        const excuse = unprovokable(o.key, s);
        if (excuse) skipped.push({ key: o.key, status: s, reason: excuse.reason });
        else unseen.push(`${o.key} ${s}`);
      }
    }
    return { operations: this.ops.length, operationsSeen: this.ops.length - unseenOps.length,
      unseenOps, responses, responsesSeen, skipped, unseen };
  }
}

// Runs the check and prints the report; returns the exit code.
export function main(argv, log = console.log) {
  let specPath = defaultSpecPath;
  let requireCoverage = false;
  const inputs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--spec') specPath = argv[++i];
    else if (argv[i] === '--require-coverage') requireCoverage = true;
    else inputs.push(argv[i]);
  }
  if (inputs.length === 0) {
    log('usage: validate_responses.mjs [--spec docs/openapi.yaml] [--require-coverage] ' +
      'DIR_OR_FILE...');
    return 2;
  }
  const records = readRecordings(inputs);
  const checker = new ResponseChecker(loadSpec(specPath));
  const { problems, seen, outside, ignored } = checker.check(records);
  const cov = checker.coverage(seen);
  log(`responses recorded: ${records.length} (${ignored} not from the control plane, ` +
    `${[...outside.values()].reduce((a, b) => a + b, 0)} outside the API routes)`);
  log(`operations seen: ${cov.operationsSeen}/${cov.operations}; ` +
    `responses (operation, status) seen: ${cov.responsesSeen}/${cov.responses}, ` +
    `skipped as unprovokable: ${cov.skipped.length}, never seen: ${cov.unseen.length}`);
  if (cov.unseenOps.length) log(`operations never seen: ${cov.unseenOps.join(', ')}`);
  const reasons = new Map();
  for (const k of cov.skipped) {
    reasons.set(k.reason, [...(reasons.get(k.reason) ?? []), `${k.key} ${k.status}`]);
  }
  for (const [reason, pairs] of reasons) log(`SKIP ${pairs.join(', ')}: ${reason}`);
  for (const pair of cov.unseen) log(`${requireCoverage ? 'FAIL' : 'UNSEEN'} ${pair} never seen`);
  const grouped = new Map();
  for (const p of problems) {
    const k = `${p.key}: ${p.message}`;
    const g = grouped.get(k) ?? { count: 0, record: p.record };
    g.count++;
    grouped.set(k, g);
  }
  for (const [k, g] of grouped) {
    log(`FAIL ${k} (x${g.count}; first in ${g.record.test || '?'}: ${g.record.method} ` +
      `${g.record.path}${g.record.query ?? ''})`);
  }
  if (records.length - ignored === 0) {
    log('FAIL no control-plane responses were recorded');
    return 1;
  }
  const uncovered = requireCoverage ? cov.unseen.length : 0;
  if (uncovered) {
    log(`FAIL ${uncovered} listed (operation, status) pairs were never seen: provoke each in ` +
      'tests/e2e/contract.test.mjs, or list it with the reason in tests/openapi/unprovokable.mjs');
  }
  if (problems.length) log(`RESULT: ${problems.length} responses violate the contract`);
  else if (uncovered) log(`RESULT: ${uncovered} listed responses never seen`);
  else log('RESULT: OK');
  return problems.length || uncovered ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = main(process.argv.slice(2));
}
