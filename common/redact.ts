// Secrets never leave the process: activity failures (and so workflow histories, `status`, the Web
// UI), log lines and configuration errors go through a redactor that replaces every configured
// secret and every credential inside a URL with [redacted].
// No import from config.ts: config.ts uses maskUrl and secretVariableNames from here.

export const REDACTED = '[redacted]';

export type Redactor = (text: string) => string;

/** Variables whose whole value is a secret: never printed, not even malformed. */
export const secretVariableNames = [
  'ATELIER_SIGNER_KEY',
  'ATELIER_OPENAI_API_KEY',
  'ATELIER_SLACK_BOT_TOKEN',
  'ATELIER_SLACK_SIGNING_SECRET',
  'ATELIER_SLACK_APP_TOKEN',
  'ATELIER_SLACK_DECISION_KEY',
  'ATELIER_GIT_WEBHOOK_SECRET',
  // Temporal Cloud's API key (from TEMPORAL_API_KEY or a profile; Config.TEMPORAL_API_KEY holds the one in force).
  'TEMPORAL_API_KEY',
] as const;

/** A path segment that looks like a key (`/v3/<key>`, `/bot<token>`): longer than 15 characters of [A-Za-z0-9_-]. */
const keyLikeSegment = /^[A-Za-z0-9_-]{16,}$/;

/** Query parameters whose values are credentials in any URL, configured or not. */
const secretParam = /^(?:.*(?:key|token|secret|passw(?:or)?d|pwd|auth|signature|credential|session)|sig|access_token|code)$/i;

/**
 * Shortest exact value replaced wherever it appears: shorter ones (a password "pw") are only hidden
 * where they sit in a URL, so that redacting them does not mangle ordinary words.
 */
const MIN_EXACT = 8;

/** Token shapes that are secrets wherever they appear, configured or not. */
const tokenPatterns: RegExp[] = [
  /\bxox[abposre]-[A-Za-z0-9-]+/g, // Slack bot, user and legacy tokens
  /\bxapp-[A-Za-z0-9-]+/g, // Slack app-level tokens
  /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{4,}/g, // OpenAI keys (sk-..., sk-proj-...)
];

/** A URL inside running text: from its scheme to the first character that cannot be part of it. */
const urlInText = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`\\]+/gi;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The secret pieces of a configured URL: its userinfo, its query string and values, and path
 * segments that look like keys. Works on values that do not parse as URLs too.
 */
export function urlCredentials(url: string): string[] {
  const found = new Set<string>();
  const { userinfo, path, query, fragment } = splitUrl(url);
  if (userinfo) {
    found.add(userinfo);
    for (const part of userinfo.split(':')) if (part) found.add(part);
  }
  if (query) {
    found.add(query);
    for (const pair of query.split('&')) {
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value) found.add(value);
    }
  }
  if (fragment) found.add(fragment);
  for (const segment of path.split('/')) if (keyLikeSegment.test(segment)) found.add(segment);
  const decoded = [...found].flatMap((v) => {
    try {
      const d = decodeURIComponent(v);
      return d === v ? [] : [d];
    } catch {
      return [];
    }
  });
  return [...found, ...decoded];
}

interface UrlParts {
  scheme: string;
  userinfo: string;
  host: string;
  path: string;
  query: string;
  fragment: string;
}

/** Splits a URL-ish string by hand, so that malformed values (a port that is not a number) split too. */
function splitUrl(text: string): UrlParts {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  let rest = text.slice(scheme.length);
  const hashAt = rest.indexOf('#');
  const fragment = hashAt >= 0 ? rest.slice(hashAt + 1) : '';
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const query = queryAt >= 0 ? rest.slice(queryAt + 1) : '';
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  const slashAt = rest.indexOf('/');
  const authority = slashAt >= 0 ? rest.slice(0, slashAt) : rest;
  const path = slashAt >= 0 ? rest.slice(slashAt) : '';
  const at = authority.lastIndexOf('@');
  return { scheme, userinfo: at >= 0 ? authority.slice(0, at) : '', host: at >= 0 ? authority.slice(at + 1) : authority, path, query, fragment };
}

/**
 * A URL variable's value as it may be shown (in a configuration error): scheme, host and the
 * ordinary path segments; userinfo, the query string, the fragment and key-like segments hidden.
 */
export function maskUrl(value: string): string {
  const { scheme, userinfo, host, path, query, fragment } = splitUrl(value);
  const maskedPath = path
    .split('/')
    .map((segment) => (keyLikeSegment.test(segment) ? REDACTED : segment))
    .join('/');
  return `${scheme}${userinfo ? `${REDACTED}@` : ''}${host}${maskedPath}${query ? `?${REDACTED}` : ''}${fragment ? `#${REDACTED}` : ''}`;
}

/** Userinfo and credential-named query values of any URL in the text (not only configured ones). */
function redactUrlsIn(text: string): string {
  return text.replace(urlInText, (url) => {
    const { scheme, userinfo, host, path, query, fragment } = splitUrl(url);
    const maskedQuery = query
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        return eq > 0 && secretParam.test(pair.slice(0, eq)) && eq < pair.length - 1 ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
      })
      .join('&');
    return `${scheme}${userinfo ? `${REDACTED}@` : ''}${host}${path}${query ? `?${maskedQuery}` : ''}${url.includes('#') ? `#${fragment}` : ''}`;
  });
}

/**
 * A redactor for the given secret values (matched exactly, case-insensitively; a 0x-prefixed value
 * also without its prefix) and URLs (their credentials), plus the generic shapes: Slack and OpenAI
 * tokens, `Bearer`/`Basic` credentials and the userinfo of any URL. A 0x + 64 hex value is only
 * redacted when configured: transaction hashes have the same shape.
 */
export function makeRedactor({ secrets = [], urls = [] }: { secrets?: (string | undefined)[]; urls?: (string | undefined)[] }): Redactor {
  const exact = new Set<string>();
  const add = (value: string | undefined) => {
    if (!value || value.length < MIN_EXACT) return;
    exact.add(value);
    if (/^0x[0-9a-f]+$/i.test(value)) exact.add(value.slice(2));
    const encoded = encodeURIComponent(value);
    if (encoded !== value) exact.add(encoded);
    const json = JSON.stringify(value).slice(1, -1);
    if (json !== value) exact.add(json);
  };
  for (const secret of secrets) add(secret);
  for (const url of urls) if (url) for (const credential of urlCredentials(url)) add(credential);
  // Longest first, so that a value containing another is replaced whole.
  const literals = [...exact].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const literalPattern = literals.length > 0 ? new RegExp(literals.join('|'), 'gi') : undefined;
  return (text: string) => {
    if (!text) return text;
    let out = literalPattern ? text.replace(literalPattern, REDACTED) : text;
    for (const pattern of tokenPatterns) out = out.replace(pattern, REDACTED);
    out = out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`);
    return redactUrlsIn(out);
  };
}

/** The redactor for a configuration (a Config): its secret variables and the credentials of every *_URL variable. */
export function redactor(config: object): Redactor {
  const values = config as Record<string, unknown>;
  const urls = Object.entries(values)
    .filter(([name, value]) => name.endsWith('_URL') && typeof value === 'string')
    .map(([, value]) => value as string);
  return makeRedactor({ secrets: secretVariableNames.map((name) => values[name] as string | undefined), urls });
}

/** Strings anywhere inside a value (arrays, plain objects, errors), redacted; other values as they are. */
export function redactDeep(value: unknown, redact: Redactor, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redactErrorCopy(value, redact, depth + 1);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, redact, depth + 1)]));
}

/** A plain copy of an error for a log line: name, redacted message, stack and cause; no other fields. */
function redactErrorCopy(error: Error, redact: Redactor, depth: number): Error {
  const copy = new Error(redact(error.message));
  copy.name = error.name;
  copy.stack = error.stack === undefined ? undefined : redact(error.stack);
  if (error.cause !== undefined) copy.cause = redactDeep(error.cause, redact, depth + 1);
  return copy;
}
