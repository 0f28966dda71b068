import { createHmac, randomBytes } from 'node:crypto';
/** A minimal HTTP client that keeps cookies like a browser does for one origin (name=value only). */
export class CookieClient {
  private readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  /** The Cookie header this client sends. */
  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  /** Shares this client's cookie jar with another origin (another server of the same site). */
  forOrigin(baseUrl: string): CookieClient {
    const other = new CookieClient(baseUrl);
    (other as unknown as { cookies: Map<string, string> }).cookies = this.cookies;
    return other;
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: { cookie: this.cookieHeader, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  post(path: string, body?: unknown) {
    return this.request('POST', path, body ?? {});
  }
}

/** Logs in at `${baseUrl}/login` (a fixture route that regenerates the session) and returns the client holding the cookie. */
export async function loginAt(baseUrl: string, user: string, extra: Record<string, unknown> = {}): Promise<CookieClient> {
  const client = new CookieClient(baseUrl);
  const response = await client.post('/login', { user, ...extra });
  if (response.status !== 200) throw new Error(`login at ${baseUrl} failed: ${response.status}`);
  return client;
}

/** The session id inside a client's express-session cookie (`s:<sid>.<signature>`). */
export function sessionIdOfCookie(client: CookieClient, name = 'connect.sid'): string {
  const value = decodeURIComponent(client.cookie(name)!);
  return value.slice(2, value.lastIndexOf('.'));
}

/** An express-session cookie (`name=s:<sid>.<HMAC-SHA256>`, as cookie-signature signs it) for `sid`, signed with `secret`. */
export function signedCookie(sid: string, secret: string, name = 'connect.sid'): string {
  const signature = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return `${name}=${encodeURIComponent(`s:${sid}.${signature}`)}`;
}

/**
 * A session stored through an express-session store's `set` (as express-session or a Fastify
 * session plugin stores one), with a one-hour cookie, and its signed cookie.
 */
export async function storeSignedSession(
  store: { set(sid: string, session: never): Promise<unknown> },
  data: Record<string, unknown>,
  { secret, name = 'connect.sid' }: { secret: string; name?: string },
): Promise<{ sid: string; cookie: string }> {
  const sid = randomBytes(18).toString('base64url');
  const maxAge = 3_600_000;
  await store.set(sid, { cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString(), httpOnly: true, path: '/' }, ...data } as never);
  return { sid, cookie: signedCookie(sid, secret, name) };
}
